"""Poison messages: each is answered with an error, dead-lettered with a
reason, and never stops the worker."""

import unittest
import uuid

import gau


def setUpModule():
    gau.require_system()


def register_env(**payload):
    p = {"username": gau.unique("x"), "password": gau.PASSWORD}
    p.update(payload)
    return gau.envelope("account.register", p)


def without_password(env):
    e = dict(env, payload=dict(env["payload"], password=None))
    return e


class PoisonTest(unittest.TestCase):

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def poison(self, body, words, codes=None, body_kept=True,
               redacted=None):
        """Publishes body to account.register; checks the error reply,
        the dead letter and that a healthy command still works."""
        mid = str(uuid.uuid4())
        corr = self.amqp.publish("account.register", body, message_id=mid)
        props, reply = self.amqp.wait_reply(corr)
        self.assertEqual(props.correlation_id, corr)
        self.assertEqual(reply.get("type"), "error", reply)
        p = reply.get("payload")
        self.assertIsInstance(p, dict, reply)
        self.assertIsInstance(p.get("code"), str, reply)
        self.assertIsInstance(p.get("message"), str, reply)
        if codes:
            self.assertIn(p["code"], codes, reply)

        dead = gau.dead_letters(mid, "account.dead", timeout=10)
        self.assertEqual(len(dead), 1,
                         "message %s not in account.dead exactly once: %d"
                         % (mid, len(dead)))
        dprops, dbody = dead[0]
        if redacted is not None:
            # A known type is dead-lettered with its secrets set to nil.
            self.assertEqual(gau.unpack(dbody), redacted)
            self.assertIs((dprops.headers or {}).get("x-gau-redacted"),
                          True, dprops.headers)
        elif body_kept:
            self.assertEqual(dbody, body, "the dead letter is not the "
                             "message")
        else:
            # A consumer holds at most GAU_ENV_BODY_MAX bytes, so the body
            # of an oversized message may be dropped from the dead letter.
            self.assertIn(dbody, (b"", body), "the dead letter is neither "
                          "the message nor empty")
        headers = dprops.headers or {}
        reason = headers.get("x-gau-reason")
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        self.assertIsInstance(reason, str, headers)
        self.assertIn(":", reason, reason)
        low = reason.lower()
        self.assertTrue(any(w in low for w in words),
                        "x-gau-reason %r names none of %r" % (reason, words))
        rk = headers.get("x-gau-routing-key")
        if isinstance(rk, bytes):
            rk = rk.decode()
        self.assertEqual(rk, "account.register", headers)

        self.healthy()
        return reason

    def healthy(self):
        name = gau.unique("h")
        env = gau.envelope("account.register",
                           {"username": name, "password": gau.PASSWORD})
        reply = self.amqp.call(env)
        self.assertEqual(reply.get("type"), "account.register.reply", reply)
        self.assertEqual(gau.count_users(name), 1)

    def test_truncated_msgpack(self):
        body = gau.pack(register_env())
        self.poison(body[:len(body) // 2],
                    ("truncat", "incomplete", "short", "end", "eof",
                     "malformed", "msgpack", "decode"),
                    ("malformed",))

    def test_huge_declared_string(self):
        self.poison(b"\xdb\xff\xff\xff\xff",
                    ("length", "large", "big", "exceed", "truncat",
                     "remain", "bytes", "malformed", "msgpack"),
                    ("malformed", "too_large"))

    def test_deep_nesting(self):
        self.poison(b"\x91" * 100000 + b"\xc0",
                    ("depth", "deep", "nest"),
                    ("malformed", "too_large"))

    def test_not_a_map(self):
        self.poison(gau.pack(["account.register", 1]),
                    ("map", "envelope", "malformed", "type"),
                    ("malformed",))

    def test_unknown_type(self):
        env = register_env()
        env["type"] = "account.teleport"
        self.poison(gau.pack(env), ("unknown", "type", "teleport"))

    def test_wrong_version(self):
        env = register_env()
        env["v"] = 99
        self.poison(gau.pack(env), ("version", "99"),
                    redacted=without_password(env))

    def test_unknown_envelope_key(self):
        env = register_env()
        env["extra"] = 1
        self.poison(gau.pack(env), ("extra", "unknown", "key", "field"),
                    ("malformed", "invalid"))

    def test_validation_failure(self):
        env = register_env(password="s3cr3tQ")
        reason = self.poison(gau.pack(env),
                             ("password", "invalid", "validat"),
                             ("invalid",), redacted=without_password(env))
        self.assertNotIn("s3cr3tQ", reason,
                         "the reason must not carry the secret value")

    def test_body_too_big(self):
        env = register_env(fullname="x" * (300 * 1024))
        self.poison(gau.pack(env), ("big", "large", "size", "limit",
                                    "bytes"),
                    ("too_large", "malformed", "invalid"), body_kept=False)

    def test_all_poison_then_healthy(self):
        # A burst of bad messages without waiting in between; the worker
        # answers them all and keeps consuming.
        bodies = [b"\xc1", b"\xdb\xff\xff\xff\xff", b"\x91" * 100000 + b"\xc0",
                  gau.pack({"id": 1}), b""]
        mids = [str(uuid.uuid4()) for _ in bodies]
        corrs = [self.amqp.publish("account.register", b, message_id=m)
                 for b, m in zip(bodies, mids)]
        for c in corrs:
            _, reply = self.amqp.wait_reply(c)
            self.assertEqual(reply.get("type"), "error", reply)
        self.healthy()
        for m in mids:
            self.assertEqual(len(gau.dead_letters(m, timeout=10)), 1, m)


if __name__ == "__main__":
    unittest.main()
