"""Case 4 (long): Redis restarted (it keeps nothing: the test stack runs
it without persistence), and Redis flushed, each in the middle of 2,400
mixed commands with reads (300 users: register, login, 4 PATCHes each
followed by a GET, a refresh, logout; 16 threads). Reads answer 503
rather than wrong data (no 404 for an existing user, no profile older
than the PATCH before it), and every read is answered (no timeout, no
dropped connection) within 2 s (rel.check_reads); replay plus the projector restore every
projection (compared with PostgreSQL by the checker of rel.py)."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class RedisTest(unittest.TestCase):

    def tearDown(self):
        rel.server_up()
        rel.ready()

    def test_restart_mid_load(self):
        load = rel.Load(users=300, patches=4, threads=16, reads=True)
        rel.run_case(self, load, [
            (0.3, rel.fault_server_restart("redis", 2.0)),
        ], "redis restart")
        rel.check_reads(self, load)

    def test_flush_mid_load(self):
        load = rel.Load(users=300, patches=4, threads=16, reads=True)
        rel.run_case(self, load, [(0.3, rel.flush_redis),
                                  (0.6, rel.flush_redis)], "redis flush")
        rel.check_reads(self, load)


if __name__ == "__main__":
    unittest.main()
