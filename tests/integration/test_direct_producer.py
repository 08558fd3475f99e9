"""The AMQP contract for direct producers: pika and msgpack only."""

import unittest
import uuid

import pika

import gau
from gau import API, request


def setUpModule():
    gau.require_system()


class DirectProducerTest(unittest.TestCase):

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def test_register_over_amqp_then_sign_in_over_http(self):
        name = gau.unique("p")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD,
                            "fullname": "Direct Producer"})
        corr = self.amqp.command(env)
        props, reply = self.amqp.wait_reply(corr)
        self.assertEqual(props.correlation_id, corr)
        self.assertEqual(reply.get("type"), "account.register.reply", reply)
        self.assertEqual(reply.get("v"), 1, reply)
        self.assertIsInstance(reply.get("id"), str, reply)
        self.assertIsInstance(reply.get("time"), int, reply)
        payload = reply.get("payload")
        self.assertIsInstance(payload, dict, reply)
        uid = payload.get("user_id")
        self.assertRegex(uid or "", gau.UUID_RE)
        self.assertEqual(gau.pg_account(
            "SELECT id FROM users WHERE username = :'u';", u=name), [[uid]])
        # The event records the command that caused it.
        self.assertEqual(gau.pg_account(
            "SELECT type, causation_id, correlation_id FROM events "
            "WHERE aggregate_id = :'id';", id=uid),
            [["account.user_registered", env["id"], env["corr"]]])
        rows = gau.pg_account(
            "SELECT type FROM processed_commands WHERE command_id = :'id';",
            id=env["id"])
        self.assertEqual(rows, [["account.register"]])
        tok = gau.login(self, name)
        r = request("GET", API + "/account/profile",
                    token=tok["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user_id"], uid)
        self.assertEqual(r.json["fullname"], "Direct Producer")

    def test_forged_user_id_refused_by_broker(self):
        name = gau.unique("p")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            self.amqp.command(env, user_id="gau-edge")
            # Without a confirm the close would only show on the next
            # round trip; make one.
            self.amqp.ch.queue_declare(self.amqp.queue, passive=True)
        self.assertEqual(cm.exception.reply_code, 406, cm.exception)
        # Nothing was accepted: no user appears.  Wait a little for a
        # command that should not exist, with a fresh connection.
        with gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER")) as a:
            check = gau.envelope("account.register",
                                 {"username": gau.unique("p"),
                                  "password": gau.PASSWORD})
            # A command sent after the forged one is answered; by then a
            # forged one would have been processed too (same queue).
            reply = a.call(check)
            self.assertEqual(reply["type"], "account.register.reply", reply)
        self.assertEqual(gau.count_users(name), 0)

    def test_forged_principal_unauthorized(self):
        u = gau.new_user(self, prefix="p", fullname="Victim")
        _, claims, _ = gau.jwt_parts(u["access"])
        env = gau.envelope("account.profile_update",
                           {"fullname": "Owned"},
                           principal={"user_id": u["user_id"],
                                      "session_id": claims.get("sid",
                                                               str(uuid.uuid4()))})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"].get("code"), "unauthorized", reply)
        self.assertEqual(gau.pg_account(
            "SELECT fullname, version FROM users WHERE id = :'id';",
            id=u["user_id"]), [["Victim", "1"]])
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.json["fullname"], "Victim")

    def test_forged_principal_session_revoke_unauthorized(self):
        u = gau.new_user(self, prefix="p")
        _, claims, _ = gau.jwt_parts(u["access"])
        env = gau.envelope("authorization.session_revoke", {},
                           principal={"user_id": u["user_id"],
                                      "session_id": claims["sid"]})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"].get("code"), "unauthorized", reply)
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.status, 200, r)

    def test_expired_deadline_dropped(self):
        name = gau.unique("p")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD},
                           deadline=gau.now_ms() - 60000)
        corr = self.amqp.command(env)
        # A command sent afterwards is answered; then the queue is empty,
        # so the expired one has been taken and acked by then.
        ok = gau.envelope("account.register",
                          {"username": gau.unique("p"),
                           "password": gau.PASSWORD})
        reply = self.amqp.call(ok)
        self.assertEqual(reply["type"], "account.register.reply", reply)
        admin = gau.Amqp(gau.env("GAU_AMQP_URL"), reply_queue=False)
        self.addCleanup(admin.close)
        gau.poll(lambda: admin.ch.queue_declare(
            "account.commands", passive=True).method.message_count == 0,
            10, 0.1, "account.commands empty")
        self.assertNotIn(corr, self.amqp.pending)
        m = self.amqp.ch.basic_get(self.amqp.queue, auto_ack=True)
        self.assertIsNone(m[0], "a reply to an expired command: %r" % (m,))
        self.assertEqual(gau.count_users(name), 0)

    def test_trusted_only_forbidden(self):
        u = gau.new_user(self, prefix="p")
        env = gau.envelope("authorization.session_open",
                           {"user_id": u["user_id"]})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"].get("code"), "forbidden", reply)
        rows = gau.pg_authorization(
            "SELECT count(*) FROM sessions WHERE user_id = :'u';",
            u=u["user_id"])
        self.assertEqual(rows, [["1"]])

    def test_error_reply_shape(self):
        env = gau.envelope("account.register",
                           {"username": gau.unique("p"),
                            "password": "short"})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        p = reply["payload"]
        self.assertEqual(p.get("code"), "invalid", reply)
        self.assertIsInstance(p.get("message"), str, reply)
        self.assertIsInstance(p.get("fields"), dict, reply)
        self.assertIn("password", p["fields"], reply)

    def test_login_over_amqp(self):
        name = gau.unique("p")
        gau.register(self, username=name)
        env = gau.envelope("account.login",
                           {"login": name, "password": gau.PASSWORD})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "account.login.reply", reply)
        env = gau.envelope("account.login",
                           {"login": name, "password": "wrong password"})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"].get("code"), "unauthorized", reply)

    def test_event_published(self):
        # The relay publishes the event to gau.events; watch it with a
        # queue of the admin user bound there.
        admin = gau.Amqp(gau.env("GAU_AMQP_URL"), reply_queue=False)
        self.addCleanup(admin.close)
        ch = admin.ch
        q = ch.queue_declare("", exclusive=True, auto_delete=True)
        q = q.method.queue
        ch.queue_bind(q, "gau.events", "account.user_registered")
        name = gau.unique("p")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        uid = self.amqp.call(env)["payload"]["user_id"]

        def find():
            while True:
                m, props, body = ch.basic_get(q, auto_ack=True)
                if m is None:
                    return None
                ev = gau.unpack(body)
                if ev.get("payload", {}).get("user_id") == uid:
                    return ev
        ev = gau.poll(find, 10, 0.1, "event account.user_registered")
        self.assertEqual(ev["type"], "account.user_registered")
        self.assertEqual(ev["cause"], env["id"])
        self.assertEqual(ev["corr"], env["corr"])
        self.assertEqual(ev["payload"]["username"], name)
        self.assertEqual(ev["payload"]["version"], 1)
        self.assertNotIn("password", ev["payload"])


if __name__ == "__main__":
    unittest.main()
