"""Projections are rebuilt from the event tables alone."""

import re
import time
import unittest

import gau
from gau import API, request


def setUpModule():
    gau.require_system()


def profile(token):
    return request("GET", API + "/account/profile", token=token)


class ReplayTest(unittest.TestCase):

    def make_user(self):
        u = gau.new_user(self, prefix="r", fullname="Before Replay")
        r = request("PATCH", API + "/account/profile",
                    {"fullname": "After Patch", "gender": "female"},
                    token=u["access"])
        self.assertEqual(r.status, 200, r)
        r = profile(u["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["fullname"], "After Patch")
        u["profile"] = r.json
        # Let the relay publish the events first, so that the projector
        # is (mostly) done with them before the tests delete keys; the
        # projector applying them again after a delete is harmless.
        gau.poll(lambda: gau.pg_account(
            "SELECT count(*) FROM events WHERE aggregate_id = :'id' "
            "AND published_at IS NULL;", id=u["user_id"]) == [["0"]],
            10, 0.05, "events of the user published")
        return u

    def replay(self, service="account"):
        p = gau.gauctl("replay", service, timeout=120)
        self.assertEqual(p.returncode, 0,
                         "gauctl replay %s exited %d: %s %s"
                         % (service, p.returncode, p.stdout, p.stderr))
        out = p.stdout + p.stderr
        self.assertRegex(out, r"\d+ events", "gauctl replay printed no "
                         "counts: %r" % out)
        return out

    def test_replay_after_deleting_user_key(self):
        u = self.make_user()
        key = "gau:account:user:" + u["user_id"]
        before = gau.redis_hash(key)
        self.assertEqual(before.get("fullname"), "After Patch", before)
        self.assertEqual(before.get("version"), "2", before)
        self.assertEqual(gau.redis("DEL", key), ["1"])
        self.replay()
        self.assertEqual(gau.redis_hash(key), before)
        r = profile(u["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, u["profile"])

    def test_replay_after_deleting_all_account_keys(self):
        u = self.make_user()
        keys = gau.redis_keys("gau:account:*")
        self.assertIn("gau:account:user:" + u["user_id"], keys)
        deleted = 0
        for i in range(0, len(keys), 500):
            deleted += int(gau.redis("DEL", *keys[i:i + 500])[0])
        self.assertEqual(deleted, len(keys))
        # Keep the window in which the projector could rebuild by itself
        # short: replay right away.
        out = self.replay()
        self.assertEqual(gau.redis("GET", "gau:account:ready"), ["1"], out)
        r = profile(u["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, u["profile"])
        # Every user in PostgreSQL has its projection again.
        n_pg = int(gau.pg_account("SELECT count(*) FROM users;")[0][0])
        n_redis = len(gau.redis_keys("gau:account:user:*"))
        self.assertEqual(n_redis, n_pg)

    def test_replay_is_idempotent(self):
        u = self.make_user()
        key = "gau:account:user:" + u["user_id"]
        before = gau.redis_hash(key)
        self.replay()
        self.replay()
        self.assertEqual(gau.redis_hash(key), before)

    def test_flushall_503_until_rebuilt(self):
        u = self.make_user()
        gau.redis("FLUSHALL")
        first = profile(u["access"])
        seen = [first.status]
        gau.assert_error(self, first, 503, "unavailable")

        def rebuilt():
            r = profile(u["access"])
            seen.append(r.status)
            if r.status == 503:
                gau.assert_error(self, r, 503, "unavailable")
                return None
            # Never a 404, a 401 or other data while rebuilding.
            self.assertEqual(r.status, 200, (r, seen))
            self.assertEqual(r.json, u["profile"])
            return r
        gau.poll(rebuilt, 15, 0.2, "profile served again after FLUSHALL")
        self.assertEqual(gau.redis("GET", "gau:account:ready"), ["1"])
        self.assertEqual(gau.redis("GET", "gau:authorization:ready"), ["1"])
        # The session came back too: the same token works for a write.
        r = request("PATCH", API + "/account/profile",
                    {"fullname": "After Flush"}, token=u["access"])
        self.assertEqual(r.status, 200, r)
        r = profile(u["access"])
        self.assertEqual(r.json["fullname"], "After Flush")
        # And a revoked session stays revoked after the rebuild.
        r = request("POST", API + "/account/logout", token=u["access"])
        self.assertEqual(r.status, 204, r)
        gau.redis("FLUSHALL")
        gau.poll(lambda: gau.redis("GET", "gau:authorization:ready") == ["1"]
                 and gau.redis("GET", "gau:account:ready") == ["1"],
                 15, 0.2, "ready markers after the second FLUSHALL")
        r = profile(u["access"])
        gau.assert_error(self, r, 401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
