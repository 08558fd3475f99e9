"""Reliability case 7: hostile HTTP clients.

Each test states its load and fault; all of them send to 127.0.0.1 only,
are bounded in count and time, and end with the edge still answering.

- a body declared far over the limit is refused with 413 from its headers,
  while the client has sent only a few bytes of it, and the connection is
  closed;
- 500 connections dribbling their headers a byte a second are closed once
  the edge's request deadline (GAU_HTTP_TIMEOUT_S) has passed, while a
  normal client is served in under a second throughout;
- bodies that are not JSON, not UTF-8, ambiguous or pathological get 400
  with the one error shape; numbers the parser refuses (past int64, past
  a double) and nesting past the edge's depth limit get "malformed",
  while the same field with a number or nesting the parser takes gets
  "invalid" from the type check;
- a 64 KiB header gets 431 or 413;
- many requests pipelined on one connection are all answered, in order.
"""

import json
import os
import select
import socket
import time
import unittest
import uuid

import gau
from gau import API, assert_error, request

DRIBBLERS = 500


def setUpModule():
    gau.require_system()


def edge_env(name, default):
    """A variable of the running edge's environment."""
    pid = gau.stack_pid("gau-edge")
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            for item in f.read().split(b"\0"):
                k, _, v = item.partition(b"=")
                if k.decode() == name:
                    return v.decode()
    except OSError:
        pass
    return default


def addr():
    return gau._split(gau.base_url())


def read_response(sock, buf, deadline):
    """Reads one HTTP/1.1 response from sock; returns (status, headers
    dict, body, rest of buf).  Content-Length framing only."""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no response head in time: %r" % buf[:200])
        sock.settimeout(left)
        b = sock.recv(65536)
        if not b:
            raise AssertionError("connection closed before a response: "
                                 "%r" % buf[:200])
        buf += b
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hs[k.strip().lower()] = v.strip()
    n = int(hs.get("content-length", "0"))
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("response body incomplete")
        sock.settimeout(left)
        b = sock.recv(65536)
        if not b:
            raise AssertionError("connection closed inside a body")
        buf += b
    return status, hs, buf[:n], buf[n:]


def closed_by_peer(sock, timeout):
    """True when the peer closes sock (EOF or reset) within timeout s;
    whatever arrives before is discarded."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not b:
            return True


class HostileHttpTest(unittest.TestCase):

    def assert_alive(self):
        r = request("GET", "/healthz", timeout=5)
        self.assertEqual(r.status, 200, r)

    # -------------------------------------------------------- 413 early

    def test_huge_content_length_413_before_the_body(self):
        # Load: one connection. Fault: Content-Length 100 MiB, 10 bytes
        # sent. The 413 must come while the client still holds back the
        # rest; then the edge closes the connection.
        host, port = addr()
        for path in (API + "/account/register", API + "/account/profile"):
            method = "POST" if path.endswith("register") else "PATCH"
            s = socket.create_connection((host, port), timeout=10)
            try:
                s.sendall(("%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: %d\r\n\r\n{\"username"
                           % (method, path, host, port, 100 * 1024 * 1024))
                          .encode())
                t0 = time.monotonic()
                status, hs, body, _ = read_response(s, b"", t0 + 5)
                self.assertLess(time.monotonic() - t0, 5)
                self.assertEqual(status, 413, body[:200])
                r = gau.Response(status, list(hs.items()), body)
                assert_error(self, r, 413, "too_large")
                self.assertTrue(closed_by_peer(s, 5),
                                "the edge kept the connection open after "
                                "refusing the body")
            finally:
                s.close()
        self.assert_alive()

    def test_content_length_past_the_limit_by_one(self):
        limit = int(edge_env("GAU_BODY_MAX", "1048576"))
        host, port = addr()
        s = socket.create_connection((host, port), timeout=10)
        try:
            s.sendall(("POST %s/account/register HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n{" % (API, limit + 1))
                      .encode())
            status, hs, body, _ = read_response(s, b"",
                                                time.monotonic() + 5)
            self.assertEqual(status, 413, body[:200])
        finally:
            s.close()
        for cl in ("-1", "1e9", "99999999999999999999999999", "0x10",
                   "12 34", "+5"):
            s = socket.create_connection((host, port), timeout=10)
            try:
                s.sendall(("POST %s/account/register HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: %s\r\n\r\n{}" % (API, cl))
                          .encode())
                try:
                    status, _, body, _ = read_response(
                        s, b"", time.monotonic() + 5)
                except AssertionError:
                    status = None  # closed without an answer: refused
                if status is not None:
                    self.assertIn(status, (400, 413), "Content-Length %r: "
                                  "%r" % (cl, body[:200]))
            finally:
                s.close()
        self.assert_alive()

    # -------------------------------------------------------- slow clients

    def test_dribbling_headers_closed_after_timeout(self):
        # Load: 500 connections sending their request head one byte a
        # second, and one normal client. Fault: the slow clients never
        # finish their headers. They must all be closed within the
        # edge's timeout plus a margin; the normal client meanwhile gets
        # every answer in under a second.
        timeout_s = int(edge_env("GAU_HTTP_TIMEOUT_S", "30"))
        host, port = addr()
        head = ("GET /healthz HTTP/1.1\r\nHost: %s:%d\r\nX-Slow: %s"
                % (host, port, "a" * 200)).encode()
        socks = []
        try:
            for _ in range(DRIBBLERS):
                s = socket.create_connection((host, port), timeout=10)
                s.setblocking(False)
                socks.append(s)
            t0 = time.monotonic()
            open_ = {s: 0 for s in socks}
            closed_at = []
            slowest = 0.0
            served = 0
            limit = t0 + timeout_s + 10
            next_byte = t0
            while open_ and time.monotonic() < limit:
                now = time.monotonic()
                if now >= next_byte:
                    next_byte += 1.0
                    for s in list(open_):
                        i = open_[s]
                        try:
                            s.send(head[i:i + 1])
                            open_[s] = i + 1
                        except (BlockingIOError, InterruptedError):
                            pass
                        except OSError:
                            closed_at.append(time.monotonic() - t0)
                            del open_[s]
                # The normal client, on its own connection each time.
                c0 = time.monotonic()
                r = request("GET", "/healthz", timeout=5)
                took = time.monotonic() - c0
                self.assertEqual(r.status, 200, r)
                slowest = max(slowest, took)
                served += 1
                r, _, _ = select.select(list(open_), [], [], 0.2)
                for s in r:
                    try:
                        b = s.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        b = b""
                    if not b:
                        closed_at.append(time.monotonic() - t0)
                        del open_[s]
                    else:
                        # An answer to an incomplete request head would be
                        # a bug: the request line is not even done for a
                        # while, and the head never ends.
                        self.fail("a dribbling client got data: %r"
                                  % b[:200])
            self.assertFalse(open_, "%d of %d dribbling connections still "
                             "open after %d s (edge timeout %d s)"
                             % (len(open_), DRIBBLERS,
                                time.monotonic() - t0, timeout_s))
            self.assertGreater(served, timeout_s // 2)
            self.assertLess(slowest, 1.0, "a normal request took %.2f s "
                            "during the dribble" % slowest)
            # Not closed early either: they were sending all along.
            self.assertGreaterEqual(min(closed_at), timeout_s - 1.5,
                                    "closed before the timeout")
        finally:
            for s in socks:
                s.close()
        self.assert_alive()

    def test_dribbled_body_closed_after_timeout(self):
        # Complete headers, then a body one byte a second: the whole
        # request must arrive within the timeout too.
        timeout_s = int(edge_env("GAU_HTTP_TIMEOUT_S", "30"))
        host, port = addr()
        s = socket.create_connection((host, port), timeout=10)
        try:
            s.sendall(("POST %s/account/register HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 1000\r\n\r\n" % API).encode())
            t0 = time.monotonic()
            closed = False
            while time.monotonic() - t0 < timeout_s + 10:
                try:
                    s.sendall(b" ")
                except OSError:
                    closed = True
                    break
                r, _, _ = select.select([s], [], [], 1.0)
                if r:
                    try:
                        b = s.recv(4096)
                    except OSError:
                        b = b""
                    if not b:
                        closed = True
                        break
            self.assertTrue(closed, "a body dribbled a byte a second was "
                            "still accepted after %d s" % (timeout_s + 10))
        finally:
            s.close()
        self.assert_alive()

    # -------------------------------------------------------- bad JSON

    BAD_BODIES = [
        # malformed
        b"{", b"}", b"{\"username\": }", b"{'username': 'a'}",
        b"{\"a\":1,}", b"[1,]", b"{\"a\" 1}", b"nul", b"tru", b"\"abc",
        b"{\"a\":1}{\"b\":2}", b"{\"a\":01}", b"{\"a\":.5}", b"{\"a\":NaN}",
        b"{\"a\":Infinity}", b"{\"a\":\"\\x41\"}", b"{\"a\":\"\t\"}",
        b"\x00{}", b"{}\x00", b" ", b"[]", b"1", b"\"x\"", b"null",
        # invalid UTF-8 in a value, in a key, overlong, surrogates
        b"{\"username\":\"ab\xff\"}", b"{\"user\xfe\":\"abc\"}",
        b"{\"username\":\"\xc0\xaf\"}", b"{\"username\":\"\xe0\x80\xaf\"}",
        b"{\"username\":\"\xf0\x80\x80\xaf\"}",
        b"{\"username\":\"\xc1\xbf\"}",
        b"{\"username\":\"\xed\xa0\x80\"}", b"{\"username\":\"\xed\xbf\xbf\"}",
        b"{\"username\":\"\\ud800\"}", b"{\"username\":\"\\udc00x\"}",
        b"{\"username\":\"\\ud800\\u0041\"}",
        b"{\"username\":\"\xf4\x90\x80\x80\"}", b"{\"username\":\"\x80\"}",
        b"{\"username\":\"\xe2\x82\"}", b"\xef\xbb\xbf{}",
        b"{\"username\":\"a\\u0000b\"}",
        # duplicate keys
        b"{\"username\":\"aaaa\",\"username\":\"bbbb\","
        b"\"password\":\"correct horse battery\"}",
        b"{\"password\":\"correct horse battery\","
        b"\"password\":\"other horse battery\",\"username\":\"dupk\"}",
    ]

    def test_bad_json_400(self):
        for path, method, tok, _ in self.json_targets():
            for raw in self.BAD_BODIES:
                r = request(method, path, raw=raw, token=tok, timeout=10)
                e = assert_error(self, r, 400)
                self.assertIn(e["code"], ("malformed", "invalid"),
                              "%s %s %r: %r" % (method, path, raw[:60], r))
        self.assert_alive()

    # Numbers as the value of a member of the object body, the field
    # being one the target reads as a string. jansson refuses while
    # parsing an integer past int64 and a real that overflows a double:
    # 400 "malformed" (edge_json_body). A number it parses (an underflow
    # is 0, -0 is an integer) reaches the type check: 400 "invalid",
    # naming the field. Were the parser to let an overflow through (as
    # inf, say), the first list would answer "invalid" and fail.
    NUMBERS_REFUSED = [
        b"1e400", b"-1e400", b"1e999999999999", b"1.8e308",
        b"123456789012345678901234567890", b"9223372036854775808",
        b"-9223372036854775809", b"9" * 5000,
    ]
    NUMBERS_PARSED = [
        b"-0", b"-0.0", b"4e-400", b"0." + b"1" * 5000 + b"e-99999",
        b"9223372036854775807", b"-9223372036854775808",
        b"1.7976931348623157e308",
    ]

    def test_huge_numbers(self):
        for path, method, tok, field in self.json_targets():
            for num in self.NUMBERS_REFUSED + self.NUMBERS_PARSED:
                raw = b"{\"%s\":%s}" % (field.encode(), num)
                r = request(method, path, raw=raw, token=tok, timeout=10)
                what = "%s %s %r: %r" % (method, path, raw[:60], r)
                e = assert_error(self, r, 400)
                if num in self.NUMBERS_REFUSED:
                    self.assertEqual(e["code"], "malformed", what)
                else:
                    self.assertEqual(e["code"], "invalid", what)
                    self.assertIn(field, e.get("fields", {}), what)
        self.assert_alive()

    # Nesting: past the edge's depth limit (EDGE_JSON_DEPTH_MAX, 32, the
    # body's own object counting as one) is refused before jansson sees
    # it: "malformed"; exactly at the limit it parses and the type check
    # refuses the array: "invalid".
    DEPTH_MAX = 32

    def test_deep_nesting(self):
        d = self.DEPTH_MAX
        for path, method, tok, field in self.json_targets():
            key = b"{\"%s\":" % field.encode()
            refused = [
                b"[" * 10000 + b"]" * 10000,
                b"{\"a\":" * 10000 + b"1" + b"}" * 10000,
                b"[" * 10000,
                key + b"[" * 100000 + b"]" * 100000 + b"}",
                key + b"[" * d + b"]" * d + b"}",
                key + b"{\"a\":" * d + b"1" + b"}" * d + b"}",
            ]
            at_limit = [
                key + b"[" * (d - 1) + b"]" * (d - 1) + b"}",
                key + b"{\"a\":" * (d - 1) + b"1" + b"}" * (d - 1) + b"}",
            ]
            for raw in refused + at_limit:
                r = request(method, path, raw=raw, token=tok, timeout=10)
                what = "%s %s %r: %r" % (method, path, raw[:60], r)
                e = assert_error(self, r, 400)
                if raw in refused:
                    self.assertEqual(e["code"], "malformed", what)
                else:
                    self.assertEqual(e["code"], "invalid", what)
                    self.assertIn(field, e.get("fields", {}), what)
        self.assert_alive()

    def json_targets(self):
        u = gau.new_user(self, prefix="hj")
        self.user = u
        # With a field each target reads as a string.
        return [(API + "/account/register", "POST", None, "fullname"),
                (API + "/account/login", "POST", None, "login"),
                (API + "/account/profile", "PATCH", u["access"], "fullname"),
                (API + "/authorization/token/refresh", "POST", None,
                 "refresh_token")]

    def test_bad_json_changes_nothing(self):
        # The duplicate-key bodies above name users; none was created.
        for name in ("aaaa", "bbbb", "dupk"):
            r = request("POST", API + "/account/register",
                        raw=b"{\"username\":\"%s\",\"username\":\"%s\","
                        b"\"password\":\"correct horse battery\"}"
                        % (name.encode(), name.encode()))
            assert_error(self, r, 400)
        rows = gau.pg_account("SELECT count(*) FROM users WHERE username "
                              "IN ('aaaa', 'bbbb', 'dupk');")
        self.assertEqual(rows, [["0"]])

    def test_good_json_edge_cases_accepted(self):
        # The parser is strict, not broken: valid but unusual JSON works.
        name = gau.unique("hk")
        raw = ("{\"username\" : \"%s\" ,\n\t\"password\":"
               "\"correct horse \\u0062attery\",\"fullname\":"
               "\"\\ud83d\\ude00 \xc3\xa9\u00e9\"}" % name).encode("utf-8")
        r = request("POST", API + "/account/register", raw=raw)
        self.assertEqual(r.status, 201, r)
        gau.login(self, name)

    # -------------------------------------------------------- headers

    def test_header_over_the_limit(self):
        # Load: one request with a 64 KiB header, then many headers of
        # 1 KiB; Fault: headers past what the edge holds per connection.
        host, port = addr()
        for hdrs in (b"X-Big: " + b"a" * 65536 + b"\r\n",
                     b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000)
                              for i in range(80)),
                     b"Authorization: Bearer " + b"c" * 65536 + b"\r\n"):
            s = socket.create_connection((host, port), timeout=10)
            try:
                try:
                    s.sendall(b"GET " + API.encode() + b"/account/profile "
                              b"HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    status, _, body, _ = read_response(
                        s, b"", time.monotonic() + 5)
                except (AssertionError, ConnectionResetError):
                    status = None
                self.assertIn(status, (413, 431), "over-long headers: %r"
                              % (status,))
            finally:
                s.close()
        self.assert_alive()

    def test_long_url(self):
        r = request("GET", API + "/account/" + "x" * 60000, timeout=10)
        self.assertIn(r.status, (404, 413, 414, 431), r)
        self.assert_alive()

    # -------------------------------------------------------- pipelining

    def test_pipelined_requests_in_order(self):
        # Load: 60 requests written at once on one connection: reads,
        # commands (which suspend the connection) and errors, mixed.
        u = gau.new_user(self, prefix="hp")
        host, port = addr()
        reqs = []
        for i in range(60):
            rid = "pipe-%d-%s" % (i, uuid.uuid4().hex[:8])
            kind = i % 4
            if kind == 0:
                line = "GET /healthz"
                extra, body = "", b""
            elif kind == 1:
                line = "GET %s/account/profile" % API
                extra, body = "Authorization: Bearer %s\r\n" % u["access"], b""
            elif kind == 2:
                body = json.dumps({"fullname": "Pipe %d" % i}).encode()
                line = "PATCH %s/account/profile" % API
                extra = ("Authorization: Bearer %s\r\nContent-Type: "
                         "application/json\r\n" % u["access"])
            else:
                line = "GET %s/nowhere" % API
                extra, body = "", b""
            reqs.append((rid, kind, (
                "%s HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\n%s"
                "Content-Length: %d\r\n\r\n" % (line, rid, extra, len(body))
            ).encode() + body))
        s = socket.create_connection((host, port), timeout=20)
        try:
            s.sendall(b"".join(r[2] for r in reqs))
            buf = b""
            deadline = time.monotonic() + 30
            last_patch = None
            for rid, kind, _ in reqs:
                status, hs, body, buf = read_response(s, buf, deadline)
                self.assertEqual(hs.get("x-request-id"), rid,
                                 "answers out of order")
                want = {0: 200, 1: 200, 2: 200, 3: 404}[kind]
                self.assertEqual(status, want, (rid, body[:200]))
                if kind == 2:
                    last_patch = json.loads(body)["fullname"]
        finally:
            s.close()
        self.assertEqual(last_patch, "Pipe 58")
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.json["fullname"], "Pipe 58")


if __name__ == "__main__":
    unittest.main()
