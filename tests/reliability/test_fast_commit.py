"""Fast (make test): one PostgreSQL backend terminated while the COMMIT
of a registration is in flight (a deferred constraint trigger makes that
COMMIT take 2 s); the command ends applied exactly once, by a new
transaction, and the client's retry with its Idempotency-Key gets the
same user."""

import unittest

import rel


def setUpModule():
    rel.gau.require_system()


class FastCommitTest(unittest.TestCase):

    def test_backend_terminated_during_commit(self):
        rel.log(rel.commit_terminated(self))


if __name__ == "__main__":
    unittest.main()
