"""Crash test: an actor is killed with SIGKILL in the middle of 1,000
registrations; retried requests make every registration happen exactly
once, the supervisor restarts the actor, and Redis agrees with
PostgreSQL."""

import collections
import concurrent.futures
import http.client
import json
import os
import secrets
import signal
import threading
import time
import unittest

import gau
from gau import API

USERS = 1000
THREADS = 32
LOAD_DEADLINE_S = 60.0


def setUpModule():
    gau.require_system()


def actor_children(sup):
    kids = gau.children(sup)
    return kids, [p for p in kids if "actor" in gau.proc_title(p)]


class CrashTest(unittest.TestCase):

    def test_kill_actor_during_registrations(self):
        sup = gau.stack_pid("gau-worker-account")
        try:
            os.kill(sup, 0)
        except OSError as e:
            self.fail("account worker supervisor %d is not running: %s"
                      % (sup, e))
        kids0, actors0 = actor_children(sup)
        self.assertTrue(actors0,
                        "no actor child of supervisor %d: children %r"
                        % (sup, [(p, gau.proc_title(p)) for p in kids0]))

        prefix = "c%s_" % secrets.token_hex(5)
        names = ["%s%04d" % (prefix, i) for i in range(USERS)]
        results = {}              # index -> user_id
        failures = {}             # index -> (status, body)
        stats = collections.Counter()
        lock = threading.Lock()
        todo = list(range(USERS))
        start = time.monotonic()
        deadline = start + LOAD_DEADLINE_S

        def one(conn, i):
            name = names[i]
            body = json.dumps({"username": name,
                               "email": name + "@example.com",
                               "password": gau.PASSWORD,
                               "fullname": "Crash %d" % i}).encode()
            headers = {"Content-Type": "application/json",
                       "Idempotency-Key": "crash-" + name}
            while time.monotonic() < deadline:
                try:
                    if conn is None:
                        conn = gau.connection()
                    conn.request("POST", API + "/account/register",
                                 body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read()
                    if r.will_close:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        stats["conn:" + type(e).__name__] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
                    continue
                with lock:
                    stats[r.status] += 1
                if r.status == 201:
                    with lock:
                        results[i] = json.loads(data)["user_id"]
                    return conn
                if r.status >= 500:
                    time.sleep(0.05)
                    continue
                with lock:
                    failures[i] = (r.status, data[:300])
                return conn
            with lock:
                failures[i] = ("deadline", b"")
            return conn

        def worker():
            conn = None
            while True:
                with lock:
                    if not todo:
                        break
                    i = todo.pop()
                conn = one(conn, i)
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=worker, daemon=True)
                   for _ in range(THREADS)]
        for t in threads:
            t.start()

        # Kill one actor while registrations are in flight.
        gau.poll(lambda: len(results) >= USERS // 10, 30, 0.01,
                 "first %d registrations" % (USERS // 10))
        victim = actors0[0]
        os.kill(victim, signal.SIGKILL)
        done_at_kill = len(results)
        self.assertLess(done_at_kill, USERS,
                        "all registrations finished before the kill")

        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()) + 15)
        self.assertFalse(any(t.is_alive() for t in threads),
                         "load threads still running")
        elapsed = time.monotonic() - start
        self.assertEqual(failures, {},
                         "requests that failed for good (stats %r)" % stats)
        self.assertEqual(len(results), USERS, stats)

        # The supervisor restarted the actor: the victim is gone, a new
        # child took its place and the count is as before.
        def restarted():
            kids, actors = actor_children(sup)
            if victim in kids or len(kids) != len(kids0) or \
                    len(actors) != len(actors0):
                return None
            new = set(kids) - set(kids0)
            return new or None
        new = gau.poll(restarted, 15, 0.1,
                       "actor %d replaced (children before %r)"
                       % (victim, kids0))
        self.assertEqual(len(new), 1, new)
        self.assertIn("actor", gau.proc_title(next(iter(new))))

        # PostgreSQL: exactly USERS users for the prefix, each name once,
        # each with the id its 201 gave.
        rows = gau.pg_account(
            "SELECT username, id, email, fullname, version FROM users "
            "WHERE left(username, length(:'p')) = :'p' ORDER BY username;",
            p=prefix)
        self.assertEqual(len(rows), USERS)
        self.assertEqual([r[0] for r in rows], sorted(names))
        by_name = {r[0]: r for r in rows}
        for i, name in enumerate(names):
            self.assertEqual(by_name[name][1], results[i], name)

        # One account.user_registered event per user, and nothing else.
        ev = gau.pg_account(
            "SELECT e.aggregate_id, e.type, count(*) FROM events e "
            "JOIN users u ON u.id = e.aggregate_id "
            "WHERE left(u.username, length(:'p')) = :'p' "
            "GROUP BY 1, 2;", p=prefix)
        self.assertEqual(len(ev), USERS, ev[:5])
        for agg, typ, n in ev:
            self.assertEqual((typ, n), ("account.user_registered", "1"),
                             agg)

        # Redis: every projection matches PostgreSQL.
        def mismatch(row):
            name, uid, email, fullname, version = row
            h = gau.redis_hash("gau:account:user:" + uid)
            want = {"user_id": uid, "username": name, "email": email,
                    "fullname": fullname, "version": version}
            got = {k: h.get(k) for k in want}
            return None if got == want else (want, got)

        pending = rows
        bad = []
        check_deadline = time.monotonic() + 15
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            while pending:
                res = list(ex.map(mismatch, pending))
                bad = [b for b in res if b]
                pending = [r for r, b in zip(pending, res) if b]
                if not pending or time.monotonic() > check_deadline:
                    break
                time.sleep(0.5)
        self.assertEqual(bad, [], "%d projections differ from PostgreSQL"
                         % len(bad))
        self.assertLess(time.monotonic() - start, 120,
                        "crash test took too long")
        print("\n  crash: %d registrations in %.1f s, kill after %d; "
              "statuses %r" % (USERS, elapsed, done_at_kill, dict(stats)))


if __name__ == "__main__":
    unittest.main()
