"""Case 1 (long): kill -9 of each kind of process in the middle of 10,000
mixed commands (1,000 users: register, login, 6 PATCHes with a refresh
between, logout; 16 threads): the edge (restarted by the test, nothing
supervises it), an actor, the outbox relay and the projector of both
services (restarted by their supervisor). Then the checker of rel.py:
nothing acknowledged lost, nothing applied twice, failed requests applied
once or not at all and settled by their retry, projections equal
PostgreSQL and replay."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class KillEachKindTest(unittest.TestCase):

    def tearDown(self):
        rel.system_start()
        rel.wait_supervised()

    def test_kill_each_kind_during_10000_commands(self):
        load = rel.Load(users=1000, patches=6, threads=16)
        self.assertEqual(len(load.users) * load.commands_per_user(), 10000)
        rel.run_case(self, load, [
            (0.10, rel.fault_kill_edge),
            (0.20, rel.fault_kill("account", "actor")),
            (0.30, rel.fault_kill("authorization", "actor")),
            (0.40, rel.fault_kill("account", "relay")),
            (0.50, rel.fault_kill("authorization", "relay")),
            (0.60, rel.fault_kill("account", "projector")),
            (0.70, rel.fault_kill("authorization", "projector")),
            (0.80, rel.fault_kill_edge),
        ], "kill each kind")
        rel.wait_supervised()


if __name__ == "__main__":
    unittest.main()
