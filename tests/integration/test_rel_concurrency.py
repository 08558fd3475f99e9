"""Reliability case 5: concurrent updates of one user.

Load: two clients (two sessions of the same user) send PATCH
/api/v2/account/profile at the same moment, for 40 rounds; then eight
clients at once for 8 rounds.  Fault: the race itself.

Asserts: every request either applies (200) or is refused with 409;
one that got anything else is retried with the same Idempotency-Key
until it does, so each request is applied once or not at all.  The
user's events are versions 1..n with no gap and no duplicate, n = 1 + the
number of applied updates; each 200 answer is the state of exactly one
event; the projection equals the last event's state, the GET answer
agrees, and `gauctl replay account` rebuilds the same hash.
"""

import json
import threading
import time
import unittest
import uuid

import gau
from gau import API, request

ROUNDS_PAIR = 40
CLIENTS_MANY = 8
ROUNDS_MANY = 8


def setUpModule():
    gau.require_system()


class ConcurrentUpdateTest(unittest.TestCase):

    def setUp(self):
        self.user = gau.new_user(self, prefix="cc", fullname="Start")

    def sessions(self, n):
        toks = [self.user["access"]]
        while len(toks) < n:
            toks.append(gau.login(self, self.user["username"])
                        ["access_token"])
        return toks

    def patch(self, token, body, conn):
        """One PATCH, retried with its Idempotency-Key until it is 200
        or 409; returns (status, json, tries)."""
        key = "cc-" + uuid.uuid4().hex
        for tries in range(1, 11):
            try:
                r = request("PATCH", API + "/account/profile", body,
                            token=token, headers={"Idempotency-Key": key},
                            timeout=15, conn=conn)
            except OSError:
                conn.close()
                time.sleep(0.1)
                continue
            if r.status in (200, 409):
                return r.status, r.json, tries
            time.sleep(0.1)
        self.fail("PATCH %r never got 200 or 409 (last %r)" % (body, r))

    def race(self, n_clients, rounds):
        """Runs rounds of n_clients simultaneous PATCHes; returns the
        outcomes as (client, round, body, status, json)."""
        toks = self.sessions(n_clients)
        barrier = threading.Barrier(n_clients, timeout=60)
        out = []
        errors = []
        lock = threading.Lock()

        def client(i):
            conn = gau.connection(15)
            try:
                for rnd in range(rounds):
                    body = {"fullname": "C%d R%d %s" % (i, rnd,
                                                        uuid.uuid4().hex[:6])}
                    if rnd % 3 == 1:
                        body["gender"] = ("male", "female", "other")[i % 3]
                    if rnd % 4 == 2:
                        body["date_of_birth"] = "19%02d-0%d-1%d" % (
                            50 + i, 1 + rnd % 9, i % 10)
                    barrier.wait()
                    st, j, _ = self.patch(toks[i], body, conn)
                    with lock:
                        out.append((i, rnd, body, st, j))
            except Exception as e:  # reported by the main thread
                with lock:
                    errors.append(repr(e))
                barrier.abort()
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertFalse(errors, errors[:3])
        self.assertEqual(len(out), n_clients * rounds)
        return out

    def events(self):
        """(aggregate_version, type, decoded envelope) of the user."""
        rows = gau.pg_account(
            "SELECT aggregate_version, type, encode(body, 'hex') FROM events "
            "WHERE aggregate_id = :'id' ORDER BY aggregate_version;",
            id=self.user["user_id"])
        return [(int(v), t, gau.unpack(bytes.fromhex(b)))
                for v, t, b in rows]

    def check(self, outcomes):
        applied = [o for o in outcomes if o[3] == 200]
        for o in outcomes:
            if o[3] == 409:
                gau.assert_error(self, gau.Response(
                    409, [("Content-Type", "application/json")],
                    json.dumps(o[4]).encode()), 409,
                    "conflict")
        self.assertTrue(applied, "no update applied at all")

        evs = self.events()
        versions = [v for v, _, _ in evs]
        self.assertEqual(versions, list(range(1, len(evs) + 1)),
                         "gap or duplicate in the event versions")
        self.assertEqual(evs[0][1], "account.user_registered")
        self.assertTrue(all(t == "account.profile_updated"
                            for _, t, _ in evs[1:]), [t for _, t, _ in evs])
        self.assertEqual(len(evs), 1 + len(applied),
                         "events do not match the applied updates")

        # Each answer is the state of one event, and each event the
        # state of one answer.
        by_name = {}
        for v, _, env in evs[1:]:
            p = env["payload"]
            self.assertEqual(p["version"], v)
            self.assertNotIn(p["fullname"], by_name, "an update applied "
                             "twice")
            by_name[p["fullname"]] = p
        for _, _, body, _, j in applied:
            p = by_name.get(body["fullname"])
            self.assertIsNotNone(p, "a 200 answer without its event: %r"
                                 % body)
            self.assertEqual(j["fullname"], body["fullname"])
            if "version" in j:
                self.assertEqual(int(j["version"]), p["version"])
            for k in ("gender", "date_of_birth"):
                if k in body:
                    self.assertEqual(p.get(k), body[k])
                    self.assertEqual(j.get(k), body[k])
        # Fields not sent keep the previous event's value.
        prev = evs[0][2]["payload"]
        for _, _, env in evs[1:]:
            p = env["payload"]
            sent = next(b for _, _, b, _, _ in applied
                        if b["fullname"] == p["fullname"])
            for k in ("gender", "date_of_birth", "username", "email"):
                if k not in sent:
                    self.assertEqual(p.get(k), prev.get(k), k)
            prev = p

        last = evs[-1][2]["payload"]
        key = "gau:account:user:" + self.user["user_id"]

        def projected():
            h = gau.redis_hash(key)
            return h if h.get("version") == str(len(evs)) else None
        h = gau.poll(projected, 10, 0.05, "projection at the last version")
        self.assertEqual(h.get("fullname"), last["fullname"])
        for k in ("gender", "date_of_birth"):
            self.assertEqual(h.get(k), last.get(k), k)
        r = request("GET", API + "/account/profile",
                    token=self.user["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["fullname"], last["fullname"])

        # Replay from the events rebuilds the same hash.
        gau.poll(lambda: gau.pg_account(
            "SELECT count(*) FROM events WHERE aggregate_id = :'id' "
            "AND published_at IS NULL;", id=self.user["user_id"]) ==
            [["0"]], 10, 0.05, "events of the user published")
        self.assertEqual(gau.redis("DEL", key), ["1"])
        p = gau.gauctl("replay", "account", timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(gau.redis_hash(key), h)

    def test_two_clients_same_moment(self):
        self.check(self.race(2, ROUNDS_PAIR))

    def test_many_clients_same_moment(self):
        self.check(self.race(CLIENTS_MANY, ROUNDS_MANY))


if __name__ == "__main__":
    unittest.main()
