"""Fast (make test): Redis flushed in the middle of 240 mixed commands
with reads (30 users: register, login, 4 PATCHes each followed by a GET,
a refresh, logout; 8 threads). Reads answer 503 or the truth (never 404
for an existing user, never a profile older than the PATCH before it),
and always answer, each within 2 s (rel.check_reads); the projector rebuilds by itself; then the checker of rel.py."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class FastRedisTest(unittest.TestCase):

    def test_flush_mid_load(self):
        load = rel.Load(users=30, patches=4, threads=8, reads=True)
        rel.run_case(self, load, [(0.4, rel.flush_redis)], "fast flush")
        rel.check_reads(self, load)


if __name__ == "__main__":
    unittest.main()
