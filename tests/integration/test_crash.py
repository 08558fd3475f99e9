"""Crash tests: children of the account worker are killed with SIGKILL in
the middle of a burst of registrations; retried requests make every
registration happen exactly once, the supervisor restarts the child, no
event is lost and Redis agrees with PostgreSQL."""

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


def titled_children(sup, word):
    kids = gau.children(sup)
    return kids, [p for p in kids if word in gau.proc_title(p)]


class Load:
    """Registers len(names) users from many threads with keep-alive
    connections; each request has its own Idempotency-Key and is retried
    with it after a 5xx or a connection error until LOAD_DEADLINE_S."""

    def __init__(self, names, threads):
        self.names = names
        self.results = {}         # index -> user_id
        self.failures = {}        # index -> (status, body)
        self.stats = collections.Counter()
        self.lock = threading.Lock()
        self.todo = list(range(len(names)))
        self.start = time.monotonic()
        self.deadline = self.start + LOAD_DEADLINE_S
        self.threads = [threading.Thread(target=self.worker, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def one(self, conn, i):
        name = self.names[i]
        body = json.dumps({"username": name,
                           "email": name + "@example.com",
                           "password": gau.PASSWORD,
                           "fullname": "Crash %d" % i}).encode()
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": "crash-" + name}
        while time.monotonic() < self.deadline:
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
                with self.lock:
                    self.stats["conn:" + type(e).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
                continue
            with self.lock:
                self.stats[r.status] += 1
            if r.status == 201:
                with self.lock:
                    self.results[i] = json.loads(data)["user_id"]
                return conn
            if r.status >= 500:
                time.sleep(0.05)
                continue
            with self.lock:
                self.failures[i] = (r.status, data[:300])
            return conn
        with self.lock:
            self.failures[i] = ("deadline", b"")
        return conn

    def worker(self):
        conn = None
        while True:
            with self.lock:
                if not self.todo:
                    break
                i = self.todo.pop()
            conn = self.one(conn, i)
        if conn is not None:
            conn.close()

    def done(self):
        return len(self.results)

    def join(self, tc):
        for t in self.threads:
            t.join(max(0.0, self.deadline - time.monotonic()) + 15)
        tc.assertFalse(any(t.is_alive() for t in self.threads),
                       "load threads still running")
        self.elapsed = time.monotonic() - self.start
        tc.assertEqual(self.failures, {}, "requests that failed for good "
                       "(statuses %r)" % self.stats)
        tc.assertEqual(len(self.results), len(self.names), self.stats)


class CrashTest(unittest.TestCase):

    def setUp(self):
        self.sup = gau.stack_pid("gau-worker-account")
        try:
            os.kill(self.sup, 0)
        except OSError as e:
            self.fail("account worker supervisor %d is not running: %s"
                      % (self.sup, e))
        self.kids0 = gau.children(self.sup)

    def child(self, word):
        _, found = titled_children(self.sup, word)
        self.assertTrue(found, "no %r child of supervisor %d: children %r"
                        % (word, self.sup,
                           [(p, gau.proc_title(p)) for p in self.kids0]))
        return found

    def kill_when(self, load, n, word):
        gau.poll(lambda: load.done() >= n, 30, 0.01,
                 "first %d registrations" % n)
        victim = self.child(word)[0]
        os.kill(victim, signal.SIGKILL)
        self.assertLess(load.done(), len(load.names),
                        "all registrations finished before the kill")
        return victim

    def assert_restarted(self, victims):
        # Each victim is gone, a new child took its place, the count and
        # the titles are as before.
        titles0 = sorted(self.title_kind(p) for p in self.kids0
                         if p not in victims)

        def restarted():
            kids = gau.children(self.sup)
            if set(victims) & set(kids) or len(kids) != len(self.kids0):
                return None
            new = set(kids) - set(self.kids0)
            if len(new) != len(victims):
                return None
            return kids, new
        kids, new = gau.poll(restarted, 15, 0.1,
                             "%r replaced (children before %r)"
                             % (victims, self.kids0))
        kinds = sorted(self.title_kind(p) for p in kids if p not in new)
        self.assertEqual(kinds, titles0)
        return new

    @staticmethod
    def title_kind(pid):
        t = gau.proc_title(pid)
        for w in ("actor", "relay", "project"):
            if w in t:
                return w
        return t

    def users_of(self, prefix):
        return gau.pg_account(
            "SELECT username, id, email, fullname, version FROM users "
            "WHERE left(username, length(:'p')) = :'p' ORDER BY username;",
            p=prefix)

    def assert_pg(self, prefix, load):
        # Exactly one user per name, each with the id its 201 gave.
        rows = self.users_of(prefix)
        self.assertEqual(len(rows), len(load.names))
        self.assertEqual([r[0] for r in rows], sorted(load.names))
        by_name = {r[0]: r for r in rows}
        for i, name in enumerate(load.names):
            self.assertEqual(by_name[name][1], load.results[i], name)
        # One account.user_registered event per user, and nothing else.
        ev = gau.pg_account(
            "SELECT e.aggregate_id, e.type, count(*) FROM events e "
            "JOIN users u ON u.id = e.aggregate_id "
            "WHERE left(u.username, length(:'p')) = :'p' "
            "GROUP BY 1, 2;", p=prefix)
        self.assertEqual(len(ev), len(load.names), ev[:5])
        for agg, typ, n in ev:
            self.assertEqual((typ, n), ("account.user_registered", "1"),
                             agg)
        return rows

    def assert_redis(self, rows, timeout=15):
        def mismatch(row):
            name, uid, email, fullname, version = row
            h = gau.redis_hash("gau:account:user:" + uid)
            want = {"user_id": uid, "username": name, "email": email,
                    "fullname": fullname, "version": version}
            got = {k: h.get(k) for k in want}
            return None if got == want else (want, got)

        pending = rows
        bad = []
        deadline = time.monotonic() + timeout
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            while pending:
                res = list(ex.map(mismatch, pending))
                bad = [b for b in res if b]
                pending = [r for r, b in zip(pending, res) if b]
                if not pending or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        self.assertEqual(bad[:5], [], "%d projections differ from "
                         "PostgreSQL" % len(bad))

    def test_kill_actor_during_registrations(self):
        self.child("actor")
        prefix = "c%s_" % secrets.token_hex(5)
        names = ["%s%04d" % (prefix, i) for i in range(USERS)]
        load = Load(names, THREADS)
        victim = self.kill_when(load, USERS // 10, "actor")
        done_at_kill = load.done()
        load.join(self)
        new = self.assert_restarted([victim])
        self.assertIn("actor", gau.proc_title(next(iter(new))))
        rows = self.assert_pg(prefix, load)
        self.assert_redis(rows)
        self.assertLess(time.monotonic() - load.start, 120,
                        "crash test took too long")
        print("\n  crash: %d registrations in %.1f s, kill after %d; "
              "statuses %r" % (USERS, load.elapsed, done_at_kill,
                               dict(load.stats)))

    def test_kill_relay_and_projector_no_event_lost(self):
        self.child("relay")
        self.child("project")
        # Watch gau.events from before the first registration.
        admin = gau.Amqp(gau.env("GAU_AMQP_URL"), reply_queue=False)
        self.addCleanup(admin.close)
        q = admin.ch.queue_declare("", exclusive=True, auto_delete=True)
        q = q.method.queue
        admin.ch.queue_bind(q, "gau.events", "account.user_registered")

        n = USERS // 5
        prefix = "k%s_" % secrets.token_hex(5)
        names = ["%s%04d" % (prefix, i) for i in range(n)]
        load = Load(names, THREADS // 2)
        relay = self.kill_when(load, n // 5, "relay")
        projector = self.kill_when(load, n // 2, "project")
        load.join(self)
        self.assert_restarted([relay, projector])
        rows = self.assert_pg(prefix, load)

        # Every committed event is published: published_at is set for
        # all of them, and each reached gau.events at least once.
        def all_published():
            left = gau.pg_account(
                "SELECT count(*) FROM events e JOIN users u "
                "ON u.id = e.aggregate_id WHERE e.published_at IS NULL "
                "AND left(u.username, length(:'p')) = :'p';", p=prefix)
            return left == [["0"]]
        gau.poll(all_published, 20, 0.2, "every event published")
        want = {r[1] for r in rows}
        seen = set()

        def drain():
            while True:
                m, _, body = admin.ch.basic_get(q, auto_ack=True)
                if m is None:
                    break
                ev = gau.unpack(body)
                uid = ev.get("payload", {}).get("user_id")
                if uid in want:
                    seen.add(uid)
            return seen >= want
        gau.poll(drain, 15, 0.2, "every event on gau.events")
        self.assert_redis(rows)
        print("\n  crash: %d registrations in %.1f s with relay and "
              "projector killed; statuses %r"
              % (n, load.elapsed, dict(load.stats)))


if __name__ == "__main__":
    unittest.main()
