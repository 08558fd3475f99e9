"""Case 2 (long): RabbitMQ stopped and started again in the middle of
4,000 mixed commands (400 users, 16 threads). While it is down the edge
answers 503 and never hangs: every request of the load answers within
the edge's deadline + 1 s, and every request that started after the
broker was seen down (the probe's 503) and before it was started again
got 503, nothing else; a 504 or a dropped connection is allowed only for
a request already in flight when the stop began, or while the broker was
stopping or starting. Everything recovers by itself: the first
successful write comes within 10 s of the broker being ready. Then the
checker of rel.py."""

import time
import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class RabbitRestartTest(unittest.TestCase):

    def tearDown(self):
        rel.server_up()
        rel.system_start()

    def test_broker_restart_mid_load(self):
        load = rel.Load(users=400, patches=6, threads=16, fail_pause_s=1.0)
        marks = {}

        def outage():
            t = marks["stop"] = time.monotonic()
            rel.server_down("rabbitmq")
            marks["down"] = time.monotonic()
            # While it is down: a write answers 503 at once.
            op = rel.Op("register", rel.User(rel.gau.unique("q"), 0),
                        "POST", rel.P_REGISTER,
                        {"username": rel.gau.unique("q"),
                         "password": rel.gau.PASSWORD}, key="down-probe")
            t0 = time.monotonic()
            _, status, _, err = rel.send(None, op)
            marks["probe"] = (status or err, time.monotonic() - t0)
            if status == 503:
                marks["seen_down"] = time.monotonic()
            time.sleep(3)
            marks["up"] = time.monotonic()
            rel.server_up()
            marks["ready"] = time.monotonic()
            marks["first_write"] = first_write()
            return "rabbitmq stopped in %.1f s, ready again after %.1f s" \
                % (marks["down"] - t, marks["ready"] - marks["down"])

        def first_write():
            # A fresh registration every 0.1 s until one gets its 201.
            end = time.monotonic() + 30
            while time.monotonic() < end:
                name = rel.gau.unique("w")
                r = rel.gau.register(username=name)
                if r.status == 201:
                    return time.monotonic() - marks["ready"]
                time.sleep(0.1)
            return None

        counts = rel.run_case(self, load, [(0.3, outage)], "rabbitmq")
        rel.log("rabbitmq: probe while down %r; first successful write "
                "%s s after the broker was ready"
                % (marks["probe"], marks["first_write"]))
        self.assertEqual(marks["probe"][0], 503, marks)
        self.assertLessEqual(marks["probe"][1], rel.RPC_TIMEOUT_S + 1.0)
        self.assertIsNotNone(marks["first_write"], "no write succeeded")
        self.assertLessEqual(marks["first_write"], 10.0)
        slow = [(op.kind, op.outcome(), round(op.elapsed, 2))
                for op in load.ops
                if op.elapsed > rel.RPC_TIMEOUT_S + 1.0]
        self.assertEqual(slow[:5], [], "%d requests took longer than the "
                         "deadline + 1 s" % len(slow))
        # Started while the broker was known to be down: 503 and nothing
        # else (op.t0 is when the request was sent).
        self.assertIn("seen_down", marks, marks)
        window = [op for op in load.ops
                  if marks["seen_down"] <= op.t0 < marks["up"]]
        rel.log("rabbitmq: %d requests started while the broker was down"
                % len(window))
        self.assertGreater(len(window), 0, "no request of the load started "
                           "while the broker was down")
        wrong = [(op.kind, op.key, op.outcome(), round(op.elapsed, 2))
                 for op in window if op.status != 503]
        self.assertEqual(wrong[:5], [], "%d requests started while the "
                         "broker was down did not get 503" % len(wrong))
        # In flight when the stop began, or sent while the broker was
        # stopping or starting: 503, a timeout (504) or a reset of the
        # connection, nothing else.
        around = {op.outcome() for op in load.ops
                  if not op.ok and op.t0 < marks["ready"] and
                  (op.t0 < marks["seen_down"] or op.t0 >= marks["up"]) and
                  op.t0 + op.elapsed >= marks["stop"]}
        self.assertLessEqual(around, {503, 504, "RemoteDisconnected",
                                      "ConnectionResetError"}, around)
        self.assertGreater(counts["failed"], 0, "the outage was not seen")


if __name__ == "__main__":
    unittest.main()
