"""A poison message whose dead letter cannot be delivered is not acked:
it comes back, and reaches the dead queue once the topology is whole."""

import unittest
import uuid

import gau


def setUpModule():
    gau.require_system()


class DeadLetterUnroutableTest(unittest.TestCase):

    def setUp(self):
        self.admin = gau.Amqp(gau.env("GAU_AMQP_URL"), reply_queue=False)
        self.addCleanup(self.admin.close)
        self.amqp = gau.Amqp(gau.env("GAU_AMQP_URL_PRODUCER"))
        self.addCleanup(self.amqp.close)

    def rebind(self):
        ch = self.admin.conn.channel()
        ch.queue_bind("account.dead", "gau.dead", "account")
        ch.close()

    def test_poison_survives_a_missing_dead_binding(self):
        # Without the binding the actor's dead letter is unroutable. It
        # used to ack the message anyway, which then was nowhere.
        ch = self.admin.conn.channel()
        ch.queue_unbind("account.dead", "gau.dead", "account")
        ch.close()
        self.addCleanup(self.rebind)

        mid = str(uuid.uuid4())
        self.amqp.publish("account.register", b"\xc1 not msgpack",
                          message_id=mid)
        # The actor reconnects and declares its topology again (the
        # binding included) before the message comes back; failing that,
        # the broker dead-letters it past the delivery limit.
        dead = gau.dead_letters(mid, "account.dead", timeout=30)
        self.assertEqual(len(dead), 1,
                         "message %s lost: not in account.dead" % mid)

        # The worker still handles commands.
        gau.register(self, username=gau.unique("dl"))


if __name__ == "__main__":
    unittest.main()
