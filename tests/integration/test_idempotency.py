"""Exactly-once effect of a command sent twice over AMQP."""

import unittest

import gau
from gau import API, request


def setUpModule():
    gau.require_system()


class CommandIdTest(unittest.TestCase):

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def events_of(self, user_id):
        return gau.pg_account(
            "SELECT type, aggregate_version FROM events "
            "WHERE aggregate_id = :'id' ORDER BY seq;", id=user_id)

    def test_same_id_twice_sequential(self):
        name = gau.unique("i")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        r1 = self.amqp.call(env)
        self.assertEqual(r1.get("type"), "account.register.reply", r1)
        r2 = self.amqp.call(env)
        self.assertEqual(r2.get("type"), "account.register.reply", r2)
        self.assertEqual(r1["payload"], r2["payload"])
        self.assertEqual(gau.count_users(name), 1)
        uid = r1["payload"]["user_id"]
        self.assertEqual(self.events_of(uid),
                         [["account.user_registered", "1"]])
        rows = gau.pg_account(
            "SELECT count(*) FROM processed_commands "
            "WHERE command_id = :'id';", id=env["id"])
        self.assertEqual(rows, [["1"]])

    def test_same_id_twice_concurrent(self):
        # Both copies are in the queue before either is handled; with
        # several actors they may be taken at the same time.
        name = gau.unique("i")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        c1 = self.amqp.command(env)
        c2 = self.amqp.command(env)
        _, r1 = self.amqp.wait_reply(c1)
        _, r2 = self.amqp.wait_reply(c2)
        self.assertEqual(r1.get("type"), "account.register.reply", r1)
        self.assertEqual(r2.get("type"), "account.register.reply", r2)
        self.assertEqual(r1["payload"], r2["payload"])
        self.assertEqual(gau.count_users(name), 1)

    def test_same_id_different_payload_conflict(self):
        name = gau.unique("i")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        r1 = self.amqp.call(env)
        self.assertEqual(r1.get("type"), "account.register.reply", r1)
        other = dict(env)
        other["payload"] = {"username": gau.unique("i"),
                            "password": gau.PASSWORD}
        r2 = self.amqp.call(other)
        self.assertEqual(r2.get("type"), "error", r2)
        self.assertEqual(r2["payload"].get("code"), "conflict", r2)
        self.assertEqual(gau.count_users(other["payload"]["username"]), 0)

    def test_failed_command_not_stored(self):
        # Only successful replies are stored: a command refused because
        # the name is taken leaves no idempotency record.
        name = gau.unique("i")
        gau.register(self, username=name)
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        r = self.amqp.call(env)
        self.assertEqual(r.get("type"), "error", r)
        self.assertEqual(r["payload"].get("code"), "conflict", r)
        rows = gau.pg_account(
            "SELECT count(*) FROM processed_commands "
            "WHERE command_id = :'id';", id=env["id"])
        self.assertEqual(rows, [["0"]])

    def test_profile_update_same_key_applied_once(self):
        u = gau.new_user(self, prefix="i", fullname="One")
        key = "patch-" + gau.unique()
        h = {"Idempotency-Key": key}
        r1 = request("PATCH", API + "/account/profile", {"fullname": "Two"},
                     token=u["access"], headers=h)
        self.assertEqual(r1.status, 200, r1)
        r2 = request("PATCH", API + "/account/profile", {"fullname": "Two"},
                     token=u["access"], headers=h)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r1.json, r2.json)
        rows = gau.pg_account("SELECT version FROM users WHERE id = :'id';",
                              id=u["user_id"])
        self.assertEqual(rows, [["2"]])
        # The key is scoped to the user: its command id is derived with
        # the user id.
        cid = gau.idem_command_id(u["user_id"], "PATCH",
                                  API + "/account/profile", key)
        rows = gau.pg_account(
            "SELECT type FROM processed_commands WHERE command_id = :'id';",
            id=cid)
        self.assertEqual(rows, [["account.profile_update"]])
        # Another user with the same key is another request.
        v = gau.new_user(self, prefix="i", fullname="Other")
        r3 = request("PATCH", API + "/account/profile",
                     {"fullname": "Three"}, token=v["access"], headers=h)
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(r3.json["user_id"], v["user_id"])
        self.assertEqual(r3.json["fullname"], "Three")
        self.assertEqual(self.events_of(u["user_id"]),
                         [["account.user_registered", "1"],
                          ["account.profile_updated", "2"]])


if __name__ == "__main__":
    unittest.main()
