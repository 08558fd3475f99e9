"""Case 3 (long): PostgreSQL restarted in the middle of 3,000 mixed
commands (300 users, 16 threads), then the checker of rel.py; and one
backend terminated while a COMMIT is in flight, under load: the command
ends applied exactly once by a new transaction (retried through the
idempotency record, never by resending COMMIT), and the client's retry
with the same Idempotency-Key gets the same final state."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class PostgresTest(unittest.TestCase):

    def tearDown(self):
        rel.server_up()
        rel.pg_ready()

    def test_restart_mid_load(self):
        load = rel.Load(users=300, patches=6, threads=16)
        rel.run_case(self, load, [
            (0.3, rel.fault_server_restart("postgresql", 2.0)),
        ], "postgresql restart")

    def test_backend_terminated_during_commit_under_load(self):
        load = rel.Load(users=100, patches=6, threads=8)
        notes = {}
        rel.run_case(self, load, [
            (0.3, lambda: notes.setdefault(
                "commit", rel.commit_terminated(self))),
        ], "commit terminated")
        rel.log("commit terminated: " + notes["commit"])


if __name__ == "__main__":
    unittest.main()
