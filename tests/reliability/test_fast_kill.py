"""Fast (make test): kill -9 of an account actor, the edge and an
authorization actor during 400 mixed commands (40 users: register, login,
6 PATCHes with a refresh between, logout; 8 threads); the checker of
rel.py then asserts nothing acknowledged is lost and nothing is applied
twice, and the projections equal PostgreSQL and replay."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class FastKillTest(unittest.TestCase):

    def tearDown(self):
        rel.system_start()
        rel.wait_supervised()

    def test_kill_actor_edge_actor(self):
        load = rel.Load(users=40, patches=6, threads=8)
        rel.run_case(self, load, [
            (0.2, rel.fault_kill("account", "actor")),
            (0.4, rel.fault_kill_edge),
            (0.6, rel.fault_kill("authorization", "actor")),
        ], "fast kill")
        rel.wait_supervised()


if __name__ == "__main__":
    unittest.main()
