"""No reply by the deadline: the edge answers 504, and the worker drops
the late command instead of applying it."""

import os
import signal
import time
import unittest

import gau
from gau import API


def setUpModule():
    gau.require_system()


class DeadlineTest(unittest.TestCase):

    def test_504_and_late_command_dropped(self):
        sup = gau.stack_pid("gau-worker-account")
        actors = [p for p in gau.children(sup)
                  if "actor" in gau.proc_title(p)]
        self.assertTrue(actors, "no actor child of %d" % sup)
        # Freeze every account actor; whatever happens, thaw them.
        for p in actors:
            os.kill(p, signal.SIGSTOP)

        def thaw():
            for p in actors:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(thaw)

        name = gau.unique("d")
        t0 = time.monotonic()
        # GAU_RPC_TIMEOUT_MS is 5000 by default: the answer comes within
        # the 10 s limit of any HTTP call.
        r = gau.request("POST", API + "/account/register",
                        {"username": name, "password": gau.PASSWORD})
        waited = time.monotonic() - t0
        gau.assert_error(self, r, 504, "timeout")
        self.assertGreater(waited, 1.0, "504 came too early: %.2f s" % waited)
        thaw()

        # The actors run again: a new command is answered, and once the
        # queue is empty the late one has been dropped, not applied.
        gau.register(self, username=gau.unique("d"))
        admin = gau.Amqp(gau.env("GAU_AMQP_URL"), reply_queue=False)
        self.addCleanup(admin.close)
        gau.poll(lambda: admin.ch.queue_declare(
            "account.commands", passive=True).method.message_count == 0,
            10, 0.1, "account.commands empty")
        gau.register(self, username=gau.unique("d"))
        self.assertEqual(gau.count_users(name), 0,
                         "a command answered 504 was applied later")
        r = gau.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
