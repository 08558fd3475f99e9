"""The HTTP contract of the edge: account and authorization routes."""

import json
import select
import socket
import time
import unittest
import uuid

import gau
from gau import API, assert_error, error_names, register, request


def setUpModule():
    gau.require_system()


class RegisterTest(unittest.TestCase):

    def test_full_body_201(self):
        name = gau.unique()
        r = register(None, username=name, email=name + "@example.com",
                     fullname="Ada Lovelace")
        self.assertEqual(r.status, 201, r)
        ct = r.header("Content-Type") or ""
        self.assertTrue(ct.startswith("application/json"), ct)
        j = r.json
        self.assertEqual(list(j.keys()), ["user_id"], j)
        self.assertRegex(j["user_id"], gau.UUID_RE)
        rows = gau.pg_account(
            "SELECT id, username, email, fullname, version FROM users "
            "WHERE username = :'u';", u=name)
        self.assertEqual(rows, [[j["user_id"], name, name + "@example.com",
                                 "Ada Lovelace", "1"]])
        # The password is stored as an argon2id PHC string, never itself.
        rows = gau.pg_account(
            "SELECT password_hash LIKE '$argon2id$%', "
            "position(:'p' in password_hash) FROM users WHERE id = :'id';",
            id=j["user_id"], p=gau.PASSWORD)
        self.assertEqual(rows, [["t", "0"]])
        # One event, the full state, and nothing secret in it.
        rows = gau.pg_account(
            "SELECT type, aggregate_version, encode(body, 'hex') FROM events "
            "WHERE aggregate_id = :'id';", id=j["user_id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][:2], ["account.user_registered", "1"])
        ev = gau.unpack(bytes.fromhex(rows[0][2]))
        self.assertEqual(ev["type"], "account.user_registered")
        self.assertEqual(ev["v"], 1)
        p = ev["payload"]
        self.assertEqual((p["user_id"], p["username"], p["email"],
                          p["fullname"], p["version"]),
                         (j["user_id"], name, name + "@example.com",
                          "Ada Lovelace", 1))
        self.assertNotIn(gau.PASSWORD.encode(), bytes.fromhex(rows[0][2]))
        self.assertNotIn("password", p)

    def test_only_username(self):
        name = gau.unique()
        register(self, username=name)
        self.assertEqual(gau.count_users(name), 1)

    def test_only_email(self):
        email = gau.unique() + "@example.com"
        uid, _ = register(self, email=email)
        rows = gau.pg_account(
            "SELECT username IS NULL, email FROM users WHERE id = :'id';",
            id=uid)
        self.assertEqual(rows, [["t", email]])

    def test_neither_username_nor_email_400(self):
        r = request("POST", API + "/account/register",
                    {"password": gau.PASSWORD, "fullname": "Nobody"})
        e = assert_error(self, r, 400, "invalid")
        self.assertTrue(e.get("fields"), "no fields: %r" % e)

    def test_bad_email_400(self):
        for bad in ("not-an-email", "a@b", "a b@example.com",
                    "a@@example.com", "x" * 250 + "@example.com"):
            r = register(None, username=gau.unique(), email=bad)
            e = assert_error(self, r, 400, "invalid")
            self.assertIn("email", e.get("fields", {}), (bad, e))

    def test_bad_username_400(self):
        for bad in ("ab", "_lead", "UPPER case", "x" * 33):
            r = register(None, username=bad)
            e = assert_error(self, r, 400, "invalid")
            self.assertIn("username", e.get("fields", {}), (bad, e))

    def test_short_password_400(self):
        r = register(None, username=gau.unique(), password="1234567")
        e = assert_error(self, r, 400, "invalid")
        self.assertIn("password", e.get("fields", {}), e)

    def test_password_of_8_accepted(self):
        name = gau.unique()
        register(self, username=name, password="12345678")

    def test_missing_password_400(self):
        name = gau.unique()
        r = request("POST", API + "/account/register", {"username": name})
        e = assert_error(self, r, 400)
        error_names(self, e, "password")
        self.assertEqual(gau.count_users(name), 0)

    def test_unknown_field_400(self):
        name = gau.unique()
        r = register(None, username=name, is_admin=True)
        e = assert_error(self, r, 400)
        error_names(self, e, "is_admin")
        self.assertEqual(gau.count_users(name), 0)

    def test_wrong_types_400(self):
        name = gau.unique()
        r = request("POST", API + "/account/register",
                    {"username": name, "password": 12345678})
        e = assert_error(self, r, 400)
        error_names(self, e, "password")
        r = register(None, username=name, fullname=[])
        e = assert_error(self, r, 400)
        error_names(self, e, "fullname")
        self.assertEqual(gau.count_users(name), 0)

    def test_body_not_an_object_400(self):
        for raw in (b"[]", b"\"x\"", b"42", b"null"):
            r = request("POST", API + "/account/register", raw=raw)
            assert_error(self, r, 400)

    def test_username_taken_409(self):
        name = gau.unique()
        register(self, username=name)
        r = register(None, username=name)
        assert_error(self, r, 409, "conflict")
        # The username format is lower-case only, so the same name in
        # another case is refused either as taken or as invalid: never
        # a second user.
        r = register(None, username=name.upper())
        self.assertIn(r.status, (400, 409), r)
        assert_error(self, r, r.status)
        self.assertEqual(gau.count_users(name), 1)

    def test_email_taken_409(self):
        email = gau.unique() + "@example.com"
        register(self, email=email)
        r = register(None, email=email)
        assert_error(self, r, 409, "conflict")
        r = register(None, username=gau.unique(), email=email.upper())
        assert_error(self, r, 409, "conflict")
        rows = gau.pg_account(
            "SELECT count(*) FROM users WHERE lower(email) = lower(:'e');",
            e=email)
        self.assertEqual(rows, [["1"]])


class LoginTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.name = gau.unique()
        cls.email = cls.name + "@example.com"
        r = register(None, username=cls.name, email=cls.email)
        assert r.status == 201, r
        cls.user_id = r.json["user_id"]

    def check_tokens(self, r):
        self.assertEqual(r.status, 200, r)
        j = r.json
        for k in ("access_token", "refresh_token", "token_type",
                  "expires_in"):
            self.assertIn(k, j, j)
        self.assertIsInstance(j["access_token"], str)
        self.assertIsInstance(j["refresh_token"], str)
        self.assertTrue(j["refresh_token"])
        self.assertEqual(j["token_type"], "Bearer")
        self.assertIsInstance(j["expires_in"], int)
        self.assertNotIsInstance(j["expires_in"], bool)
        self.assertGreater(j["expires_in"], 0)
        hdr, claims, _ = gau.jwt_parts(j["access_token"])
        self.assertEqual(hdr.get("alg"), "ES256", hdr)
        self.assertEqual(claims.get("sub"), self.user_id, claims)
        self.assertEqual(claims.get("iss"), "gau", claims)
        aud = claims.get("aud")
        self.assertTrue(aud == "gau-api" or
                        (isinstance(aud, list) and "gau-api" in aud), claims)
        self.assertGreater(claims["exp"], time.time())
        cookies = r.header_all("Set-Cookie")
        by_name = {c.split("=", 1)[0].strip(): c for c in cookies}
        for name in ("access_token", "refresh_token"):
            self.assertIn(name, by_name, cookies)
            attrs = [a.strip().lower() for a in by_name[name].split(";")]
            self.assertIn("httponly", attrs, by_name[name])
            self.assertIn("secure", attrs, by_name[name])
            self.assertIn("samesite=strict", attrs, by_name[name])
            self.assertIn("path=/api/v2", attrs, by_name[name])
        self.assertEqual(by_name["access_token"].split(";")[0].strip(),
                         "access_token=" + j["access_token"])
        self.assertEqual(by_name["refresh_token"].split(";")[0].strip(),
                         "refresh_token=" + j["refresh_token"])
        return j

    def test_login_with_username(self):
        r = request("POST", API + "/account/login",
                    {"login": self.name, "password": gau.PASSWORD})
        self.check_tokens(r)

    def test_login_with_email(self):
        r = request("POST", API + "/account/login",
                    {"login": self.email, "password": gau.PASSWORD},
                    headers={"X-Device-ID": "laptop-" + self.name})
        j = self.check_tokens(r)
        _, claims, _ = gau.jwt_parts(j["access_token"])
        rows = gau.pg_authorization(
            "SELECT user_id, device_id FROM sessions WHERE id = :'s';",
            s=claims["sid"])
        self.assertEqual(rows, [[self.user_id, "laptop-" + self.name]])

    def test_login_changes_no_account_state(self):
        before = gau.pg_account(
            "SELECT count(*) FROM events WHERE aggregate_id = :'id';",
            id=self.user_id)
        r = request("POST", API + "/account/login",
                    {"login": self.name, "password": gau.PASSWORD})
        self.check_tokens(r)
        after = gau.pg_account(
            "SELECT count(*) FROM events WHERE aggregate_id = :'id';",
            id=self.user_id)
        self.assertEqual(before, after)

    def test_tokens_stored_hashed_and_sealed(self):
        r = request("POST", API + "/account/login",
                    {"login": self.name, "password": gau.PASSWORD})
        j = self.check_tokens(r)
        # The refresh token is stored as its SHA-256 only.
        rows = gau.pg_authorization(
            "SELECT count(*) FROM refresh_tokens "
            "WHERE token_hash = sha256(convert_to(:'t', 'UTF8'));",
            t=j["refresh_token"])
        self.assertEqual(rows, [["1"]])
        # Stored replies that carry tokens are sealed: neither token
        # appears in any idempotency record.
        for t in (j["refresh_token"], j["access_token"]):
            rows = gau.pg_authorization(
                "SELECT count(*) FROM processed_commands "
                "WHERE position(convert_to(:'t', 'UTF8') in reply) > 0;",
                t=t)
            self.assertEqual(rows, [["0"]])
        rows = gau.pg_authorization(
            "SELECT count(*) FROM processed_commands WHERE type IN "
            "('authorization.session_open', 'authorization.token_refresh') "
            "AND NOT sealed;")
        self.assertEqual(rows, [["0"]])

    def test_login_with_email_other_case(self):
        r = request("POST", API + "/account/login",
                    {"login": self.email.upper(), "password": gau.PASSWORD})
        self.check_tokens(r)

    def test_unknown_user_and_wrong_password_same_401(self):
        r1 = request("POST", API + "/account/login",
                     {"login": gau.unique("nobody"),
                      "password": gau.PASSWORD})
        assert_error(self, r1, 401, "unauthorized")
        r2 = request("POST", API + "/account/login",
                     {"login": self.name, "password": "wrong password!"})
        assert_error(self, r2, 401, "unauthorized")
        self.assertEqual(r1.body, r2.body)

    def test_login_validation_400(self):
        r = request("POST", API + "/account/login", {"login": self.name})
        e = assert_error(self, r, 400)
        error_names(self, e, "password")
        r = request("POST", API + "/account/login",
                    {"login": self.name, "password": gau.PASSWORD,
                     "remember": True})
        e = assert_error(self, r, 400)
        error_names(self, e, "remember")


class ProfileTest(unittest.TestCase):

    def test_get_profile(self):
        u = gau.new_user(self, fullname="Grace Hopper")
        # No sleep: the session was projected before login answered.
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.status, 200, r)
        p = r.json
        self.assertEqual(p["user_id"], u["user_id"])
        self.assertEqual(p["username"], u["username"])
        self.assertEqual(p["email"], u["email"])
        self.assertEqual(p["fullname"], "Grace Hopper")
        self.assertRegex(p["created_at"], gau.RFC3339_RE)
        self.assertRegex(p["updated_at"], gau.RFC3339_RE)
        self.assert_no_secret(p, r)

    def assert_no_secret(self, p, r):
        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    self.assertNotIn("password", k.lower(), p)
                    self.assertNotIn("hash", k.lower(), p)
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(p)
        self.assertNotIn(gau.PASSWORD.encode(), r.body)
        self.assertNotIn(b"$argon2", r.body)

    def test_without_token_401(self):
        r = request("GET", API + "/account/profile")
        assert_error(self, r, 401, "unauthorized")

    def test_garbage_token_401(self):
        for tok in ("garbage", "a.b.c", "x" * 5000):
            r = request("GET", API + "/account/profile", token=tok)
            assert_error(self, r, 401, "unauthorized")
        r = request("GET", API + "/account/profile",
                    headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert_error(self, r, 401, "unauthorized")

    def test_flipped_signature_401(self):
        u = gau.new_user(self)
        h, p, s = u["access"].split(".")
        i = len(s) // 2
        s2 = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
        r = request("GET", API + "/account/profile",
                    token="%s.%s.%s" % (h, p, s2))
        assert_error(self, r, 401, "unauthorized")
        # The untouched token still works.
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.status, 200, r)

    def test_alg_none_401(self):
        u = gau.new_user(self)
        _, p, _ = u["access"].split(".")
        h = gau.b64url_encode(b'{"alg":"none","typ":"JWT"}')
        r = request("GET", API + "/account/profile", token=h + "." + p + ".")
        assert_error(self, r, 401, "unauthorized")

    def test_patch_profile_read_your_writes(self):
        u = gau.new_user(self, fullname="Old Name")
        r = request("PATCH", API + "/account/profile",
                    {"fullname": "New Name"}, token=u["access"])
        self.assertEqual(r.status, 200, r)
        p = r.json
        self.assertEqual(p["fullname"], "New Name")
        self.assertEqual(p["user_id"], u["user_id"])
        self.assertEqual(p["username"], u["username"])
        self.assert_no_secret(p, r)
        # Immediately, with no sleep: the write must be visible.
        r2 = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r2.status, 200, r2)
        g = r2.json
        self.assertEqual(g["fullname"], "New Name")
        for k in ("user_id", "username", "email", "created_at",
                  "updated_at"):
            self.assertEqual(g.get(k), p.get(k), (k, g, p))

    def test_patch_more_fields(self):
        u = gau.new_user(self)
        r = request("PATCH", API + "/account/profile",
                    {"date_of_birth": "1990-02-28", "gender": "other"},
                    token=u["access"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("date_of_birth"), "1990-02-28")
        self.assertEqual(r.json.get("gender"), "other")
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.json.get("date_of_birth"), "1990-02-28")
        self.assertEqual(r.json.get("gender"), "other")
        for bad in ({"date_of_birth": "1990-02-30"}, {"gender": "robot"}):
            r = request("PATCH", API + "/account/profile", bad,
                        token=u["access"])
            e = assert_error(self, r, 400, "invalid")
            error_names(self, e, list(bad)[0])

    def test_patch_bad_400(self):
        u = gau.new_user(self, fullname="Same")
        r = request("PATCH", API + "/account/profile",
                    {"fullname": "X", "username": "hijack"},
                    token=u["access"])
        e = assert_error(self, r, 400)
        error_names(self, e, "username")
        r = request("PATCH", API + "/account/profile", {"fullname": 5},
                    token=u["access"])
        e = assert_error(self, r, 400)
        error_names(self, e, "fullname")
        r = request("PATCH", API + "/account/profile", {},
                    token=u["access"])
        assert_error(self, r, 400)
        r = request("GET", API + "/account/profile", token=u["access"])
        self.assertEqual(r.json["fullname"], "Same")

    def test_patch_without_token_401(self):
        r = request("PATCH", API + "/account/profile", {"fullname": "X"})
        assert_error(self, r, 401, "unauthorized")


class SessionTest(unittest.TestCase):

    def refresh(self, token):
        return request("POST", API + "/authorization/token/refresh",
                       {"refresh_token": token})

    def test_logout(self):
        u = gau.new_user(self)
        r = request("POST", API + "/account/logout", token=u["access"])
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        r = request("GET", API + "/account/profile", token=u["access"])
        assert_error(self, r, 401, "unauthorized")
        r = self.refresh(u["refresh"])
        assert_error(self, r, 401, "unauthorized")
        r = request("POST", API + "/account/logout", token=u["access"])
        assert_error(self, r, 401, "unauthorized")

    def test_logout_one_session_keeps_other(self):
        u = gau.new_user(self)
        other = gau.login(self, u["username"])
        r = request("POST", API + "/account/logout", token=u["access"])
        self.assertEqual(r.status, 204, r)
        r = request("GET", API + "/account/profile",
                    token=other["access_token"])
        self.assertEqual(r.status, 200, r)

    def test_refresh_rotation_and_reuse(self):
        u = gau.new_user(self)
        r = self.refresh(u["refresh"])
        self.assertEqual(r.status, 200, r)
        t = r.json
        self.assertEqual(t["token_type"], "Bearer")
        self.assertIsInstance(t["expires_in"], int)
        self.assertGreater(t["expires_in"], 0)
        self.assertNotEqual(t["access_token"], u["access"])
        self.assertNotEqual(t["refresh_token"], u["refresh"])
        r = request("GET", API + "/account/profile", token=t["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user_id"], u["user_id"])
        # The old one is spent; presenting it is reuse.
        r = self.refresh(u["refresh"])
        assert_error(self, r, 401, "unauthorized")
        # Reuse revoked the whole session.
        r = self.refresh(t["refresh_token"])
        assert_error(self, r, 401, "unauthorized")
        r = request("GET", API + "/account/profile", token=t["access_token"])
        assert_error(self, r, 401, "unauthorized")
        rows = gau.pg_authorization(
            "SELECT revoke_reason FROM sessions WHERE user_id = :'u';",
            u=u["user_id"])
        self.assertEqual(rows, [["refresh_token_reuse"]])

    def test_refresh_bad_400_401(self):
        r = self.refresh("no-such-token-" + uuid.uuid4().hex)
        assert_error(self, r, 401, "unauthorized")
        r = request("POST", API + "/authorization/token/refresh", {})
        e = assert_error(self, r, 400)
        error_names(self, e, "refresh_token")


class JwksTest(unittest.TestCase):

    def test_jwks(self):
        r = request("GET", API + "/authorization/.well-known/jwks.json")
        self.assertEqual(r.status, 200, r)
        j = r.json
        self.assertIsInstance(j.get("keys"), list, j)
        self.assertGreaterEqual(len(j["keys"]), 1, j)
        for k in j["keys"]:
            self.assertEqual(k.get("kty"), "EC", k)
            self.assertEqual(k.get("crv"), "P-256", k)
            self.assertEqual(k.get("alg"), "ES256", k)
            for f in ("kid", "x", "y"):
                self.assertIsInstance(k.get(f), str, k)
            self.assertNotIn("d", k, "private key in JWKS")
            self.assertEqual(len(gau.b64url_decode(k["x"])), 32, k)
            self.assertEqual(len(gau.b64url_decode(k["y"])), 32, k)
            self.assertEqual(k["kid"], gau.jwk_thumbprint(k),
                             "kid is not the RFC 7638 thumbprint")
        u = gau.new_user(self)
        hdr, _, sig = gau.jwt_parts(u["access"])
        keys = {k["kid"]: k for k in j["keys"]}
        self.assertIn(hdr.get("kid"), keys, (hdr, list(keys)))
        k = keys[hdr["kid"]]
        x = int.from_bytes(gau.b64url_decode(k["x"]), "big")
        y = int.from_bytes(gau.b64url_decode(k["y"]), "big")
        h, p, _ = u["access"].split(".")
        self.assertTrue(gau.es256_verify(x, y, (h + "." + p).encode(), sig),
                        "access token does not verify with the JWKS key")


class ProtocolTest(unittest.TestCase):

    def test_unknown_route_404(self):
        for path in ("/api/v2/nope", "/", "/api/v2/account/registerx",
                     "/api/v3/account/register"):
            r = request("GET", path)
            assert_error(self, r, 404, "not_found")

    def test_wrong_method_405(self):
        cases = [("GET", "/account/register", "POST"),
                 ("GET", "/account/login", "POST"),
                 ("DELETE", "/account/profile", "GET"),
                 ("GET", "/account/logout", "POST"),
                 ("POST", "/authorization/.well-known/jwks.json", "GET"),
                 ("PUT", "/authorization/token/refresh", "POST")]
        for method, path, allowed in cases:
            r = request(method, API + path)
            assert_error(self, r, 405, "method_not_allowed")
            allow = r.header("Allow")
            self.assertIsNotNone(allow, (method, path, r.headers))
            methods = [m.strip() for m in allow.split(",")]
            self.assertIn(allowed, methods, (method, path, allow))
            self.assertNotIn(method, methods, (method, path, allow))
        r = request("PUT", API + "/account/profile")
        assert_error(self, r, 405, "method_not_allowed")
        methods = [m.strip() for m in r.header("Allow").split(",")]
        self.assertIn("GET", methods)
        self.assertIn("PATCH", methods)

    def raw_exchange(self, head, chunks=(), timeout=10.0):
        """Sends head, then chunks while the server does not answer;
        returns (status, headers dict, body) of the answer."""
        host, port = gau._split(gau.base_url())
        s = socket.create_connection((host, port), timeout=timeout)
        deadline = time.monotonic() + timeout
        data = b""
        try:
            s.sendall(head)
            for c in chunks:
                r, _, _ = select.select([s], [], [], 0)
                if r:
                    break
                try:
                    s.sendall(c)
                except (BrokenPipeError, ConnectionResetError):
                    break
            while True:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "no complete answer in time: "
                                   "%r" % data[:300])
                s.settimeout(left)
                try:
                    b = s.recv(65536)
                except ConnectionResetError:
                    b = b""
                if not b:
                    break
                data += b
                if b"\r\n\r\n" in data:
                    hd, _, body = data.partition(b"\r\n\r\n")
                    hs = self.parse_head(hd)
                    n = int(hs[1].get("content-length", "-1"))
                    if n >= 0 and len(body) >= n:
                        break
        finally:
            s.close()
        self.assertIn(b"\r\n\r\n", data, "no answer: %r" % data[:300])
        hd, _, body = data.partition(b"\r\n\r\n")
        status, hs = self.parse_head(hd)
        return status, hs, body

    def parse_head(self, hd):
        lines = hd.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hs[k.strip().lower()] = v.strip()
        return status, hs

    def check_413(self, status, hs, body):
        self.assertEqual(status, 413, body[:300])
        r = gau.Response(status, list(hs.items()), body)
        assert_error(self, r, 413, "too_large")

    def test_body_too_large_content_length_413(self):
        host, port = gau._split(gau.base_url())
        head = ("POST /api/v2/account/register HTTP/1.1\r\n"
                "Host: %s:%d\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (host, port, 2 * 1024 * 1024))
        t0 = time.monotonic()
        # Only the headers and a few bytes are sent: the answer must come
        # without the server waiting for the rest of the body.
        status, hs, body = self.raw_exchange(head.encode() + b'{"user')
        self.check_413(status, hs, body)
        self.assertLess(time.monotonic() - t0, 5.0)

    def test_body_too_large_chunked_413(self):
        host, port = gau._split(gau.base_url())
        head = ("POST /api/v2/account/register HTTP/1.1\r\n"
                "Host: %s:%d\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % (host, port))
        piece = b"x" * 65536
        chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
        # 1.5 MiB in chunks: counted, and answered 413.
        chunks = [chunk] * 24 + [b"0\r\n\r\n"]
        status, hs, body = self.raw_exchange(head.encode(), chunks)
        self.check_413(status, hs, body)

    def test_body_far_too_large_chunked_refused(self):
        # A client that keeps sending far past the limit gets 413 or is
        # disconnected; either way, within the time limit and with
        # nothing accepted.
        host, port = gau._split(gau.base_url())
        head = ("POST /api/v2/account/register HTTP/1.1\r\n"
                "Host: %s:%d\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % (host, port))
        piece = b"x" * 65536
        chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
        s = socket.create_connection((host, port), timeout=10)
        data = b""
        try:
            s.sendall(head.encode())
            try:
                for _ in range(64):
                    s.sendall(chunk)
                s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
                    if b"\r\n\r\n" in data:
                        break
            except ConnectionResetError:
                pass
        finally:
            s.close()
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])

    def test_body_just_under_limit_not_413(self):
        # A body of 1 MiB minus a little is read and then refused as
        # invalid, never as too large.
        pad = "x" * (1024 * 1024 - 200)
        r = request("POST", API + "/account/register",
                    {"username": gau.unique(), "password": gau.PASSWORD,
                     "fullname": pad})
        e = assert_error(self, r, 400)
        error_names(self, e, "fullname")

    def test_malformed_json_400(self):
        for raw in (b"{", b"{\"username\": }", b"\xff\xfe", b"",
                    b"{\"a\":1}{\"b\":2}"):
            r = request("POST", API + "/account/register", raw=raw)
            assert_error(self, r, 400)
        r = request("POST", API + "/account/register", raw=b"{")
        assert_error(self, r, 400, "malformed")

    def test_wrong_content_type_415(self):
        body = json.dumps({"username": gau.unique(),
                           "password": gau.PASSWORD}).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded"):
            r = request("POST", API + "/account/register", raw=body,
                        content_type=ct)
            assert_error(self, r, 415, "unsupported_media_type")
        r = request("POST", API + "/account/register", raw=body,
                    content_type=None)
        assert_error(self, r, 415, "unsupported_media_type")

    def test_content_type_with_charset_accepted(self):
        name = gau.unique()
        body = json.dumps({"username": name,
                           "password": gau.PASSWORD}).encode()
        r = request("POST", API + "/account/register", raw=body,
                    content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_healthz_readyz(self):
        r = request("GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok"})
        r = request("GET", "/readyz")
        self.assertEqual(r.status, 200, r)


class IdempotencyKeyTest(unittest.TestCase):

    def test_same_key_same_body(self):
        name = gau.unique()
        key = "signup-" + uuid.uuid4().hex
        r1 = register(None, username=name, idem=key)
        self.assertEqual(r1.status, 201, r1)
        r2 = register(None, username=name, idem=key)
        self.assertEqual(r2.status, 201, r2)
        self.assertEqual(r1.json, r2.json)
        self.assertEqual(gau.count_users(name), 1)
        # The command id is derived from the key as the contract says.
        cid = gau.idem_command_id(None, "POST", API + "/account/register",
                                  key)
        rows = gau.pg_account(
            "SELECT type FROM processed_commands WHERE command_id = :'id';",
            id=cid)
        self.assertEqual(rows, [["account.register"]])
        # The same key with another body is a conflict and changes nothing.
        r3 = register(None, username=name, idem=key, fullname="Other")
        assert_error(self, r3, 409, "conflict")
        other = gau.unique()
        r4 = register(None, username=other, idem=key)
        assert_error(self, r4, 409, "conflict")
        self.assertEqual(gau.count_users(other), 0)

    def test_different_keys_are_different_requests(self):
        name = gau.unique()
        r1 = register(None, username=name, idem=uuid.uuid4().hex)
        self.assertEqual(r1.status, 201, r1)
        r2 = register(None, username=name, idem=uuid.uuid4().hex)
        assert_error(self, r2, 409, "conflict")
        self.assertEqual(gau.count_users(name), 1)

    def test_bad_key_400(self):
        for key in ("k" * 256, "tab\there"):
            r = register(None, username=gau.unique(), idem=key)
            assert_error(self, r, 400)


if __name__ == "__main__":
    unittest.main()
