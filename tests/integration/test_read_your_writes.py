"""Read-your-writes when an answer is repeated from the idempotency record.

A command answered again from its stored reply (the client retried with
the same Idempotency-Key, perhaps after a 503 for a write that was saved
but could not be shown) re-applies its own events to the projection, so
the read after that answer shows the write.
"""

import unittest

import gau


class StoredReplyProjectsTest(unittest.TestCase):
    def setUp(self):
        gau.require_system()

    def test_retry_restores_a_lost_projection(self):
        user = gau.new_user(self, "ryw")
        key = "ryw-" + gau.unique("k")
        body = {"fullname": "Shown Again"}
        hdrs = {"Idempotency-Key": key}
        first = gau.request("PATCH", gau.API + "/account/profile", body,
                            token=user["access"], headers=hdrs)
        self.assertEqual(first.status, 200, first)

        # The projection of that user goes away (as after a failed inline
        # projection): the read side no longer shows the write.
        gau.redis("DEL", "gau:account:user:" + user["user_id"])
        r = gau.request("GET", gau.API + "/account/profile",
                        token=user["access"])
        self.assertEqual(r.status, 404, r)

        again = gau.request("PATCH", gau.API + "/account/profile", body,
                            token=user["access"], headers=hdrs)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json, first.json)
        r = gau.request("GET", gau.API + "/account/profile",
                        token=user["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["fullname"], "Shown Again")
        self.assertEqual(r.json["version"], first.json["version"])
        # Applied once: one profile_updated event for the user.
        n = gau.pg_account(
            "SELECT count(*) FROM events WHERE aggregate_id = :'u'::uuid "
            "AND type = 'account.profile_updated'", u=user["user_id"])
        self.assertEqual(n, [["1"]])


if __name__ == "__main__":
    unittest.main()
