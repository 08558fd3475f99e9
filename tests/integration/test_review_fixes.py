"""Defects found in review: each test fails on the code before its fix."""

import os
import signal
import threading
import time
import unittest
import uuid

import pika

import gau
from gau import API, assert_error, request

REUSED = "idempotency key reused with a different request"
ENDED = "this Idempotency-Key belongs to a session that has ended"


def setUpModule():
    gau.require_system()


def post(path, body, token=None, idem=None):
    headers = {"Idempotency-Key": idem} if idem else None
    return request("POST", API + path, body, token=token, headers=headers)


class ReplayCheckTest(unittest.TestCase):
    """A stored reply is sent again only while it still holds."""

    def test_register_same_key_other_password(self):
        name = gau.unique("idem")
        key = gau.unique("k")
        first = {"username": name, "password": "longenough1"}
        r1 = post("/account/register", first, idem=key)
        self.assertEqual(r1.status, 201, r1)
        uid = r1.json["user_id"]

        other = {"username": name, "password": "longenough2"}
        r2 = post("/account/register", other, idem=key)
        e = assert_error(self, r2, 409, "conflict")
        self.assertEqual(e["message"], REUSED)

        # The original request still gets its stored answer.
        r3 = post("/account/register", first, idem=key)
        self.assertEqual(r3.status, 201, r3)
        self.assertEqual(r3.json["user_id"], uid)
        gau.login(self, name, "longenough1")
        r = post("/account/login", {"login": name,
                                    "password": "longenough2"})
        assert_error(self, r, 401, "unauthorized")

    def test_login_replay_after_logout(self):
        u = gau.new_user(self, "idl")
        key = gau.unique("k-login")
        body = {"login": u["username"], "password": gau.PASSWORD}
        r1 = post("/account/login", body, idem=key)
        self.assertEqual(r1.status, 200, r1)
        r = post("/account/login", body, idem=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["refresh_token"], r1.json["refresh_token"])

        r = post("/account/logout", None, token=r1.json["access_token"])
        self.assertEqual(r.status, 204, r)
        r = post("/account/login", body, idem=key)
        e = assert_error(self, r, 409, "conflict")
        self.assertEqual(e["message"], ENDED)

    def test_refresh_replay_after_logout(self):
        u = gau.new_user(self, "idr")
        key = gau.unique("k-refresh")
        body = {"refresh_token": u["refresh"]}
        r1 = post("/authorization/token/refresh", body, idem=key)
        self.assertEqual(r1.status, 200, r1)
        r = post("/account/logout", None, token=r1.json["access_token"])
        self.assertEqual(r.status, 204, r)
        r = post("/authorization/token/refresh", body, idem=key)
        e = assert_error(self, r, 409, "conflict")
        self.assertEqual(e["message"], ENDED)


if __name__ == "__main__":
    unittest.main()
