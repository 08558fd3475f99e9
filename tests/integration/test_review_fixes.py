"""Defects found in review: each test fails on the code before its fix."""

import os
import signal
import threading
import time
import unittest
import uuid

import pika

import gau
from gau import API, assert_error, request

REUSED = "idempotency key reused with a different request"
ENDED = "this Idempotency-Key belongs to a session that has ended"


def setUpModule():
    gau.require_system()


def post(path, body, token=None, idem=None):
    headers = {"Idempotency-Key": idem} if idem else None
    return request("POST", API + path, body, token=token, headers=headers)


class ReplayCheckTest(unittest.TestCase):
    """A stored reply is sent again only while it still holds."""

    def test_register_same_key_other_password(self):
        name = gau.unique("idem")
        key = gau.unique("k")
        first = {"username": name, "password": "longenough1"}
        r1 = post("/account/register", first, idem=key)
        self.assertEqual(r1.status, 201, r1)
        uid = r1.json["user_id"]

        other = {"username": name, "password": "longenough2"}
        r2 = post("/account/register", other, idem=key)
        e = assert_error(self, r2, 409, "conflict")
        self.assertEqual(e["message"], REUSED)

        # The original request still gets its stored answer.
        r3 = post("/account/register", first, idem=key)
        self.assertEqual(r3.status, 201, r3)
        self.assertEqual(r3.json["user_id"], uid)
        gau.login(self, name, "longenough1")
        r = post("/account/login", {"login": name,
                                    "password": "longenough2"})
        assert_error(self, r, 401, "unauthorized")

    def test_login_replay_after_logout(self):
        u = gau.new_user(self, "idl")
        key = gau.unique("k-login")
        body = {"login": u["username"], "password": gau.PASSWORD}
        r1 = post("/account/login", body, idem=key)
        self.assertEqual(r1.status, 200, r1)
        r = post("/account/login", body, idem=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["refresh_token"], r1.json["refresh_token"])

        r = post("/account/logout", None, token=r1.json["access_token"])
        self.assertEqual(r.status, 204, r)
        r = post("/account/login", body, idem=key)
        e = assert_error(self, r, 409, "conflict")
        self.assertEqual(e["message"], ENDED)

    def test_refresh_replay_after_logout(self):
        u = gau.new_user(self, "idr")
        key = gau.unique("k-refresh")
        body = {"refresh_token": u["refresh"]}
        r1 = post("/authorization/token/refresh", body, idem=key)
        self.assertEqual(r1.status, 200, r1)
        r = post("/account/logout", None, token=r1.json["access_token"])
        self.assertEqual(r.status, 204, r)
        r = post("/authorization/token/refresh", body, idem=key)
        e = assert_error(self, r, 409, "conflict")
        self.assertEqual(e["message"], ENDED)


def register_env(**payload):
    p = {"username": gau.unique("rf"), "password": gau.PASSWORD}
    p.update(payload)
    return gau.envelope("account.register", p)


def login_env(name):
    return gau.envelope("account.login",
                        {"login": name, "password": gau.PASSWORD})


class RoutingKeyTest(unittest.TestCase):
    """The envelope type must be the type the command was routed as."""

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def assert_dead(self, mid, reason):
        dead = gau.dead_letters(mid)
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(gau.header_str(dead[0][0], "x-gau-reason"),
                         reason)
        return dead[0]

    def test_type_other_than_routing_key(self):
        u = gau.new_user(self, "rk")
        env = login_env(u["username"])
        reply = self.amqp.call(env, routing_key="account.register")
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"]["code"], "malformed", reply)
        reason = ("malformed: routing key 'account.register' does not "
                  "match type 'account.login'")
        self.assertEqual(reply["payload"]["message"], reason)
        self.assert_dead(env["id"], reason)
        # The same command under its own routing key runs.
        reply = self.amqp.call(login_env(u["username"]))
        self.assertEqual(reply.get("type"), "account.login.reply", reply)

    def via_retry_queue(self, env, origin):
        """Puts env on account.retry.1 as the actor's retry does; the
        queue's TTL sends it back to account.commands."""
        admin = gau.Amqp(gau.env("GAU_AMQP_URL"))
        self.addCleanup(admin.close)
        headers = {"x-gau-attempt": 1}
        if origin is not None:
            headers["x-gau-routing-key"] = origin
        corr = str(uuid.uuid4())
        props = pika.BasicProperties(
            message_id=env["id"], correlation_id=corr,
            reply_to=admin.queue, type=env["type"], user_id=admin.user,
            content_type="application/msgpack", delivery_mode=2,
            headers=headers)
        admin.ch.basic_publish("", "account.retry.1", gau.pack(env), props)
        return admin.wait_reply(corr, timeout=20)[1]

    def test_retried_command_still_runs(self):
        env = register_env()
        reply = self.via_retry_queue(env, "account.register")
        self.assertEqual(reply.get("type"), "account.register.reply", reply)
        self.assertEqual(gau.count_users(env["payload"]["username"]), 1)

    def test_retried_command_other_origin(self):
        env = register_env()
        reply = self.via_retry_queue(env, "account.login")
        self.assertEqual(reply.get("type"), "error", reply)
        self.assertEqual(reply["payload"]["code"], "malformed", reply)
        self.assertEqual(gau.count_users(env["payload"]["username"]), 0)
        self.assert_dead(env["id"], "malformed: routing key 'account.login' "
                         "does not match type 'account.register'")


class DeadLetterRedactionTest(unittest.TestCase):
    """No password rests in the dead queue."""

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def dead_body(self, env):
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        dead = gau.dead_letters(env["id"])
        self.assertEqual(len(dead), 1, dead)
        props, body = dead[0]
        self.assertNotIn(env["payload"]["password"].encode(), body)
        self.assertIs((props.headers or {}).get("x-gau-redacted"), True,
                      props.headers)
        return props, gau.unpack(body)

    def test_short_password(self):
        env = register_env(password="Sh0rt!x")
        props, dead = self.dead_body(env)
        self.assertEqual(gau.header_str(props, "x-gau-reason"),
                         "invalid: password: must be at least 8 characters")
        self.assertIsNone(dead["payload"]["password"])
        self.assertEqual(dead["payload"]["username"],
                         env["payload"]["username"])
        self.assertEqual(dead["id"], env["id"])
        self.assertEqual(dead["type"], "account.register")

    def test_unknown_field(self):
        env = register_env(password="L0ngEnough-secret", extra=1)
        _, dead = self.dead_body(env)
        self.assertIsNone(dead["payload"]["password"])
        self.assertEqual(dead["payload"]["extra"], 1)

    def test_nothing_secret_no_header(self):
        env = gau.envelope("account.login", {"login": "x" * 300,
                                             "password": "p"})
        env["payload"].pop("password")
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "error", reply)
        dead = gau.dead_letters(env["id"])
        self.assertEqual(len(dead), 1, dead)
        self.assertNotIn("x-gau-redacted", dead[0][0].headers or {})
        self.assertEqual(gau.unpack(dead[0][1]), env)


class ValidationTest(unittest.TestCase):
    """Dates of birth in the future and control characters: 400."""

    def field_error(self, body, field, reason):
        r = request("POST", API + "/account/register", body)
        e = assert_error(self, r, 400, "invalid")
        self.assertEqual((e.get("fields") or {}).get(field), reason, e)

    def test_future_date_of_birth(self):
        self.field_error({"username": gau.unique("dob"),
                          "password": gau.PASSWORD,
                          "date_of_birth": "3000-01-01"},
                         "date_of_birth", "must not be in the future")

    def test_control_characters(self):
        for c in ("\n", "\t", "\x1b", "\x7f", "\x85", "\u202e",
                  "\u2066"):
            with self.subTest(c=repr(c)):
                self.field_error({"username": gau.unique("cc"),
                                  "password": gau.PASSWORD,
                                  "fullname": "ab" + c + "cd"},
                                 "fullname",
                                 "must not contain control characters")


class FrozenBrokerTest(unittest.TestCase):
    """/readyz turns 503 soon after the broker stops answering."""

    def readyz(self):
        try:
            return request("GET", "/readyz", timeout=5).status
        except OSError as e:
            return repr(e)

    def test_readyz_while_broker_frozen(self):
        pidfile = os.path.join(gau.env("GAU_STACK_DIR"), "rabbitmq",
                               "rabbitmq.pid")
        with open(pidfile) as f:
            pid = int(f.readline().strip())
        gau.poll(lambda: self.readyz() == 200, 30, what="ready before")
        result = {}

        def write():
            result["status"] = gau.register(
                username=gau.unique("frz")).status

        t = threading.Thread(target=write)
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            t.start()
            gau.poll(lambda: self.readyz() == 503, 10,
                     what="503 while the broker is frozen")
            waited = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertIn(result.get("status"), (201, 504), result)
        self.assertLess(waited, 10)
        gau.poll(lambda: self.readyz() == 200, 30,
                 what="ready after the broker thawed")


if __name__ == "__main__":
    unittest.main()
