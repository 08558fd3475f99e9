"""Reliability case 6: poison messages published straight to AMQP.

test_poison.py checks each kind once; this adds the bounds.  Load: one
producer connection; each hostile body alone, then a burst of 200 of them
with a healthy register after every tenth.  Fault: msgpack that declares
4 GiB strings, binaries and extensions or 2^32-1 element arrays and maps
in a few bytes (at the top and inside a valid envelope), 100,000 levels of
nesting, a body one byte over the limit and one of 4 MiB (the broker's
maximum), truncated, mistyped and unknown envelopes.

Asserts: each hostile message is answered with an error and lands in
account.dead once, with an "x-gau-reason" of the form "what: why",
within 5 s; over the burst the resident memory of the account actor
processes grows by less than 16 MiB; every healthy register sent during
the burst is answered, and within 5 s of being sent.
"""

import time
import unittest
import uuid

import gau

BOUND_S = 5.0
BURST = 200
RSS_GROWTH_KIB = 16 * 1024
BODY_MAX = 256 * 1024       # GAU_ENV_BODY_MAX, bus/envelope.h
BROKER_MAX = 4 * 1024 * 1024  # max_message_size of the stack's RabbitMQ


def setUpModule():
    gau.require_system()


def asan_process(pid):
    """True when pid runs with AddressSanitizer's runtime."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def register_env(**payload):
    p = {"username": gau.unique("p"), "password": gau.PASSWORD}
    p.update(payload)
    return gau.envelope("account.register", p)


def in_payload(raw):
    """A valid envelope whose payload.fullname is the raw msgpack bytes
    raw (which may declare far more than follows)."""
    env = register_env(fullname="PLACEHOLDER")
    body = gau.pack(env)
    ph = gau.pack("PLACEHOLDER")
    assert body.count(ph) == 1
    return body.replace(ph, raw)


def sized(total):
    """A valid register envelope of exactly total bytes."""
    env = register_env(fullname="")
    base = len(gau.pack(env))
    # str32 header (5 bytes) once the value is past 65535 characters.
    n = total - base - 4
    env["payload"]["fullname"] = "x" * n
    body = gau.pack(env)
    assert len(body) == total, (len(body), total)
    return body


def hostile_bodies():
    """(name, body, words one of which the reason names)."""
    malformed = ("malformed", "msgpack", "decode", "length", "truncat",
                 "bytes", "large", "big", "exceed", "depth", "nest")
    env_v = register_env()
    env_v["v"] = 99
    env_t = register_env()
    env_t["type"] = "account.teleport"
    env_id = register_env()
    env_id["id"] = 12345
    env_big_v = register_env()
    env_big_v["v"] = 2 ** 64 - 1
    env_float_v = register_env()
    env_float_v["v"] = 1.0
    good = gau.pack(register_env())
    return [
        ("str32 4 GiB", b"\xdb\xff\xff\xff\xff", malformed),
        ("array32 2^32-1", b"\xdd\xff\xff\xff\xff", malformed),
        ("map32 2^32-1", b"\xdf\xff\xff\xff\xff", malformed),
        ("bin32 4 GiB", b"\xc6\xff\xff\xff\xff", malformed),
        ("ext32 4 GiB", b"\xc9\xff\xff\xff\xff\x01", malformed),
        ("str32 in payload", in_payload(b"\xdb\xff\xff\xff\xff"), malformed),
        ("array32 in payload", in_payload(b"\xdd\xff\xff\xff\xff"),
         malformed),
        ("map32 in payload", in_payload(b"\xdf\xff\xff\xff\xff"), malformed),
        ("bin32 in payload", in_payload(b"\xc6\xff\xff\xff\xff"), malformed),
        ("ext32 in payload", in_payload(b"\xc9\x7f\xff\xff\xff\x01"),
         malformed),
        ("array32 of nils", in_payload(b"\xdd\x00\x01\x00\x00" +
                                       b"\xc0" * 65536), malformed +
         ("invalid", "fullname", "string")),
        ("nesting 100000 arrays", b"\x91" * 100000 + b"\xc0", malformed),
        ("nesting 100000 maps", b"\x81\xa1k" * 100000 + b"\xc0", malformed),
        ("nesting in payload", in_payload(b"\x91" * 100000 + b"\xc0"),
         malformed),
        ("truncated", good[:len(good) // 2], malformed),
        ("empty", b"", malformed + ("empty",)),
        ("reserved byte", b"\xc1", malformed),
        ("not a map", gau.pack([1, 2, 3]), malformed + ("map", "envelope")),
        ("trailing bytes", good + b"\xc0", malformed + ("trailing",)),
        ("invalid utf-8 type", good.replace(b"account.register",
                                            b"account.regist\xff\xfe"),
         malformed + ("utf", "type", "unknown")),
        ("unknown type", gau.pack(env_t), ("unknown", "type")),
        ("wrong version", gau.pack(env_v), ("version",)),
        ("huge version", gau.pack(env_big_v), malformed + ("version",)),
        ("float version", gau.pack(env_float_v), malformed + ("version",)),
        ("id not a string", gau.pack(env_id), malformed + ("id",)),
        ("just over the limit", sized(BODY_MAX + 1),
         ("too big", "limit", "large")),
        ("4 MiB", sized(BROKER_MAX), ("too big", "limit", "large")),
    ]


class PoisonBoundsTest(unittest.TestCase):

    def setUp(self):
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def check_dead(self, mid, props, words, what, sent_at):
        reason = gau.header_str(props, "x-gau-reason")
        self.assertIsInstance(reason, str, "%s: no x-gau-reason" % what)
        head, sep, tail = reason.partition(":")
        self.assertTrue(sep and head.strip() and tail.strip(),
                        "%s: reason %r is not 'what: why'" % (what, reason))
        low = reason.lower()
        self.assertTrue(any(w in low for w in words),
                        "%s: reason %r names none of %r"
                        % (what, reason, words))
        self.assertEqual(gau.header_str(props, "x-gau-routing-key"),
                         "account.register", what)

    def test_each_hostile_message_dead_within_bound(self):
        for what, body, words in hostile_bodies():
            mid = str(uuid.uuid4())
            t0 = time.monotonic()
            corr = self.amqp.publish("account.register", body,
                                     message_id=mid)
            _, reply = self.amqp.wait_reply(corr, timeout=BOUND_S + 5)
            took = time.monotonic() - t0
            self.assertEqual(reply.get("type"), "error", (what, reply))
            self.assertIn(reply["payload"].get("code"),
                          ("malformed", "invalid", "too_large"),
                          (what, reply))
            self.assertLess(took, BOUND_S, "%s answered after %.1f s"
                            % (what, took))
            dead = gau.dead_letters_many([mid], timeout=BOUND_S)
            self.assertEqual(len(dead.get(mid, [])), 1,
                             "%s not in account.dead exactly once" % what)
            props, _, seen = dead[mid][0]
            self.assertLess(seen - t0, BOUND_S + 1, what)
            self.check_dead(mid, props, words, what, t0)
        self.healthy_once()

    def healthy_once(self):
        name = gau.unique("ph")
        reply = self.amqp.call(gau.envelope(
            "account.register", {"username": name,
                                 "password": gau.PASSWORD}),
            timeout=BOUND_S)
        self.assertEqual(reply.get("type"), "account.register.reply", reply)
        self.assertEqual(gau.count_users(name), 1)

    def actor_rss(self):
        pids = gau.worker_children("account", "actor")
        self.assertTrue(pids, "no account actor processes found")
        return {p: gau.proc_rss_kib(p) for p in pids}

    def burst(self, n, healthy_every=10):
        """Publishes n hostile messages (cycling through the kinds) with
        a healthy register after every healthy_every; returns (hostile
        {mid: (what, words, sent)}, healthy {corr: (name, sent)})."""
        kinds = hostile_bodies()
        hostile = {}
        healthy = {}
        for i in range(n):
            what, body, words = kinds[i % len(kinds)]
            mid = str(uuid.uuid4())
            # Replies to the hostile ones go nowhere: only the dead queue
            # and the healthy replies are waited for.
            self.amqp.publish("account.register", body, message_id=mid,
                              reply_to=None)
            hostile[mid] = (what, words, time.monotonic())
            if i % healthy_every == healthy_every - 1:
                name = gau.unique("pb")
                env = gau.envelope("account.register",
                                   {"username": name,
                                    "password": gau.PASSWORD})
                corr = self.amqp.command(env)
                healthy[corr] = (name, time.monotonic())
        return hostile, healthy

    def wait_healthy(self, healthy, timeout):
        """{corr: (reply envelope, seconds from sending to the reply)}."""
        got = {}
        deadline = time.monotonic() + timeout
        while len(got) < len(healthy) and time.monotonic() < deadline:
            method, props, body = self.amqp.ch.basic_get(self.amqp.queue,
                                                         auto_ack=True)
            if method is None:
                self.amqp.conn.sleep(0.01)
                continue
            c = props.correlation_id
            if c in healthy and c not in got:
                got[c] = (gau.unpack(body), time.monotonic() - healthy[c][1])
        return got

    def check_burst_dead(self, hostile, dead, published):
        missing = [hostile[m][0] for m in hostile if m not in dead]
        self.assertFalse(missing, "%d hostile messages not dead-lettered: "
                         "%r" % (len(missing), sorted(set(missing))))
        twice = [hostile[m][0] for m, v in dead.items() if len(v) != 1]
        self.assertFalse(twice, "dead-lettered more than once: %r" % twice)
        for mid, (what, words, sent) in hostile.items():
            props, _, _ = dead[mid][0]
            self.check_dead(mid, props, words, what, sent)
        # The dead queue is read only after the burst: bound the whole.
        last_seen = max(v[0][2] for v in dead.values())
        self.assertLess(last_seen - published, BOUND_S + 5,
                        "the burst took %.1f s to drain after publishing"
                        % (last_seen - published))

    def test_burst_bounded_memory(self):
        # Hostile messages only: a healthy register hashes a password
        # with argon2 (19 MiB), which would hide what the burst costs.
        # Warm up first with every kind, so the first-use allocations of
        # each code path are not counted as growth.
        hostile, _ = self.burst(len(hostile_bodies()) * 2, 10 ** 6)
        gau.dead_letters_many(list(hostile), timeout=30)
        time.sleep(0.5)
        before = self.actor_rss()

        hostile, _ = self.burst(BURST, 10 ** 6)
        published = time.monotonic()
        dead = gau.dead_letters_many(list(hostile), timeout=30)
        time.sleep(0.5)
        after = self.actor_rss()
        self.check_burst_dead(hostile, dead, published)

        # An AddressSanitizer build (make test) keeps freed blocks in its
        # quarantine (up to 256 MiB) instead of reusing them, so there
        # freed message buffers count as growth: allow twice the bytes the
        # actors could have held of the burst (the body, and its decoded
        # form) on top of the bound.
        limit = RSS_GROWTH_KIB
        if any(asan_process(p) for p in before):
            kinds = hostile_bodies()
            held = sum(min(len(kinds[i % len(kinds)][1]), BODY_MAX + 1)
                       for i in range(BURST))
            limit += 2 * held // 1024
        for pid, kib in before.items():
            if pid not in after or after[pid] == 0:
                self.fail("account actor %d died during the burst" % pid)
            grew = after[pid] - kib
            self.assertLess(grew, limit,
                            "actor %d grew by %d KiB (%d -> %d) over %d "
                            "hostile messages" % (pid, grew, kib, after[pid],
                                                  BURST))
        total = sum(after.values()) - sum(before.values())
        self.assertLess(total, limit, "the actors together grew by %d "
                        "KiB (limit %d KiB)" % (total, limit))
        self.healthy_once()

    def test_burst_healthy_flow(self):
        # 200 hostile messages with a healthy register after every tenth:
        # every healthy one is answered within the bound.
        hostile, healthy = self.burst(BURST)
        published = time.monotonic()
        got = self.wait_healthy(healthy, 30)
        dead = gau.dead_letters_many(list(hostile), timeout=30)
        self.check_burst_dead(hostile, dead, published)

        self.assertEqual(len(got), len(healthy),
                         "%d of %d healthy registers unanswered"
                         % (len(healthy) - len(got), len(healthy)))
        slow = max(lat for _, lat in got.values())
        self.assertLess(slow, BOUND_S, "a healthy register took %.1f s "
                        "during the burst" % slow)
        for c, (reply, _) in got.items():
            self.assertEqual(reply.get("type"), "account.register.reply",
                             reply)
            self.assertEqual(gau.count_users(healthy[c][0]), 1)

if __name__ == "__main__":
    unittest.main()
