"""How the edge reads a request line and its framing headers.

The path is routed as sent (no %XX decoding), HEAD goes wherever GET
goes, and a request whose length two parties could read differently is
refused before anything acts on it.
"""

import json
import socket
import unittest
import urllib.parse

import gau


def raw_exchange(data, timeout=5.0):
    """Sends bytes on a fresh connection; returns (status, headers, body)."""
    u = urllib.parse.urlsplit(gau.base_url())
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body
    finally:
        s.close()


def login_request(extra_headers, body=b"{}"):
    return (b"POST /api/v2/account/login HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/json\r\n" + extra_headers +
            b"\r\n" + body)


class FramingTest(unittest.TestCase):
    def setUp(self):
        gau.require_system()

    def assert_json_error(self, body, code, words):
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], code, err)
        self.assertIn(words, err["message"])

    def test_two_content_lengths_refused(self):
        status, _, body = raw_exchange(login_request(
            b"Content-Length: 2\r\nContent-Length: 3\r\n"))
        self.assertEqual(status, 400)
        self.assert_json_error(body, "malformed",
                               "more than one Content-Length")

    def test_content_length_with_chunked_refused(self):
        status, _, body = raw_exchange(login_request(
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            b"0\r\n\r\n"))
        self.assertEqual(status, 400)
        self.assert_json_error(body, "malformed",
                               "Content-Length with Transfer-Encoding")

    def test_one_content_length_still_served(self):
        status, _, body = raw_exchange(login_request(
            b"Content-Length: 2\r\n"))
        self.assertEqual(status, 400)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "invalid")
        self.assertIn("login", err["fields"])

    def test_escaped_paths_match_no_route(self):
        user = gau.new_user(self)
        for path in ("/api/v2/account%2Fprofile",
                     "/api/v2/account/%70rofile",
                     "/api/v2/account/profile%00",
                     "/api/v2/account/profile%2F"):
            r = gau.request("GET", path, token=user["access"])
            self.assertEqual(r.status, 404, path)
            gau.assert_error(self, r, 404, "not_found")
        r = gau.request("GET", "/api/v2/account/profile",
                        token=user["access"])
        self.assertEqual(r.status, 200)

    def test_head_answers_like_get_without_a_body(self):
        user = gau.new_user(self)
        for path, token in (("/readyz", None), ("/healthz", None),
                            ("/api/v2/authorization/.well-known/jwks.json",
                             None),
                            ("/api/v2/account/profile",
                             user["access"])):
            get = gau.request("GET", path, token=token)
            head = gau.request("HEAD", path, token=token)
            self.assertEqual(head.status, get.status, path)
            self.assertEqual(head.body, b"", path)
        r = gau.request("HEAD", "/api/v2/account/profile")
        self.assertEqual(r.status, 401)

    def test_allow_lists_head_beside_get(self):
        r = gau.request("DELETE", "/api/v2/account/profile")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD, PATCH")


class ChainedCommandTest(unittest.TestCase):
    """Sign-in sends two commands for one request; the second reply can
    arrive while the first is still being answered. Run many at once: the
    sanitizer build then reports any reply bytes lost or freed twice."""

    def setUp(self):
        gau.require_system()

    def test_parallel_logins(self):
        import concurrent.futures
        users = [gau.new_user(self, "pl") for _ in range(4)]

        def one(i):
            u = users[i % len(users)]
            r = gau.request("POST", gau.API + "/account/login",
                            {"login": u["username"],
                             "password": gau.PASSWORD})
            return r.status, r.json if r.status == 200 else r.body

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(one, range(160)))
        for status, body in got:
            self.assertEqual(status, 200, body)
            self.assertEqual(body["token_type"], "Bearer")
        tokens = {b["access_token"] for _, b in got}
        self.assertEqual(len(tokens), len(got))


if __name__ == "__main__":
    unittest.main()
