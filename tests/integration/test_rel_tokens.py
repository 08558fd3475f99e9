"""Reliability case 8: hostile access tokens.

Load: one signed-in user; about forty hand-built tokens, each sent once to
GET /api/v2/account/profile.  Fault: every way a token can lie - no
algorithm, a symmetric algorithm keyed with the public key, claims of the
wrong type or time, a kid that is unknown or looks like a path, a valid
signature from a key that is not ours, a revoked session.

The strongest tokens are signed with the real private key and differ from
a token the edge accepts in one thing only: a control token built the
same way must get 200, so each 401 is due to the one bad part.  Every
refusal is 401 with WWW-Authenticate (error="invalid_token") and the one
JSON error shape, and the edge's log names why the token was refused.
"""

import base64
import copy
import os
import tempfile
import time
import unittest

import gau
from gau import API, assert_error, request


def setUpModule():
    gau.require_system()


def profile(token):
    return request("GET", API + "/account/profile", token=token)


class TokenTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gau-tokens-")
        cls.key = gau.stack_secret("jwt-es256.pem")
        cls.other_key = gau.p256_keygen(os.path.join(cls.tmp.name,
                                                     "other.pem"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.user = gau.new_user(self, prefix="tok")
        head, claims, _ = gau.jwt_parts(self.user["access"])
        self.head = head
        self.claims = claims
        self.assertEqual(head.get("alg"), "ES256", head)
        self.assertIn("kid", head)

    def forge(self, head=None, claims=None, key=None):
        """A token over head/claims (default: the real ones), signed
        ES256 with key (default: the real private key)."""
        return gau.es256_token(key or self.key,
                               self.head if head is None else head,
                               self.claims if claims is None else claims)

    def assert_refused(self, token, what, why=None):
        """401 with the error shape and a Bearer challenge; with why, the
        edge's log says the token was refused for that reason."""
        off = gau.edge_log_size()
        r = profile(token)
        self.assertEqual(r.status, 401, "%s: %r" % (what, r))
        assert_error(self, r, 401, "unauthorized")
        wa = r.header("WWW-Authenticate") or ""
        self.assertTrue(wa.startswith("Bearer"), "%s: WWW-Authenticate "
                        "%r" % (what, wa))
        self.assertIn('error="invalid_token"', wa, what)
        self.assertNotIn(b"fullname", r.body, what)
        if why is not None:
            def logged():
                text, _ = gau.edge_log_since(off)
                return "access token refused: " + why in text
            gau.poll(logged, 5, 0.05, "edge log line 'access token "
                     "refused: %s' for %s" % (why, what))

    def test_control_token_accepted(self):
        # The baseline every other case differs from: the same header and
        # claims re-signed by the test with the real key are accepted.
        r = profile(self.forge())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user_id"], self.user["user_id"])
        c = copy.deepcopy(self.claims)
        c["exp"] = int(time.time()) + 600
        r = profile(self.forge(claims=c))
        self.assertEqual(r.status, 200, r)

    def test_alg_none_every_spelling(self):
        real_sig = self.user["access"].split(".")[2]
        for alg in ("none", "None", "NONE", "nOnE"):
            h = dict(self.head, alg=alg)
            si = gau.jwt_signing_input(h, self.claims)
            self.assert_refused(si + ".", "alg %s unsigned" % alg,
                                "alg not allowed")
            self.assert_refused(si + "." + real_sig,
                                "alg %s with a signature" % alg,
                                "alg not allowed")
            # Signed by the real key, only alg differs.
            self.assert_refused(self.forge(head=h),
                                "alg %s signed with the key" % alg,
                                "alg not allowed")
        # No alg at all, and alg of another type.
        h = dict(self.head)
        del h["alg"]
        self.assert_refused(self.forge(head=h), "no alg", "alg not allowed")
        self.assert_refused(self.forge(head=dict(self.head, alg=None)),
                            "alg null", "alg not allowed")
        self.assert_refused(self.forge(head=dict(self.head, alg=["ES256"])),
                            "alg array", "alg not allowed")

    def public_key_forms(self):
        """Every byte string an HS256 confusion attack would use as the
        HMAC secret: the public PEM (with and without the last newline),
        the private file's bytes, the DER and the JWK x||y."""
        pem = gau.public_pem(self.key)
        forms = [pem, pem.rstrip(b"\n"), pem + b"\n"]
        with open(self.key, "rb") as f:
            forms.append(f.read())
        body = b"".join(l for l in pem.splitlines()
                        if not l.startswith(b"-----"))
        forms.append(base64.b64decode(body))
        r = request("GET", API + "/authorization/.well-known/jwks.json")
        self.assertEqual(r.status, 200, r)
        for k in r.json["keys"]:
            if k.get("kid") == self.head["kid"]:
                forms.append(gau.b64url_decode(k["x"]) +
                             gau.b64url_decode(k["y"]))
                forms.append(("%s%s" % (k["x"], k["y"])).encode())
        self.assertGreaterEqual(len(forms), 6, "the JWKS lacks our kid")
        return forms

    def test_hs256_signed_with_public_key(self):
        for alg in ("HS256", "HS384", "HS512", "hs256"):
            h = dict(self.head, alg=alg)
            for i, secret in enumerate(self.public_key_forms()):
                tok = gau.hs256_token(secret, h, self.claims)
                self.assert_refused(tok, "%s with public key form %d"
                                    % (alg, i),
                                    "alg not allowed" if i == 0 else None)

    def test_exp_wrong_types_or_missing(self):
        now = int(time.time())
        bad = {"string": str(now + 600), "float": now + 600.5,
               "float integral": float(now + 600), "null": None,
               "bool": True, "array": [now + 600], "object": {"v": now},
               "huge": 10 ** 30, "negative": -1, "past": now - 3600}
        for what, v in bad.items():
            c = dict(self.claims, exp=v)
            why = "expired" if what in ("negative", "past") else None
            self.assert_refused(self.forge(claims=c), "exp %s" % what, why)
        c = dict(self.claims)
        del c["exp"]
        self.assert_refused(self.forge(claims=c), "exp missing",
                            "malformed claims")
        self.assert_refused(
            self.forge(claims=dict(self.claims, exp=str(now + 600))),
            "exp string", "malformed claims")

    def test_nbf_and_iat_in_the_future(self):
        later = int(time.time()) + 3600
        self.assert_refused(self.forge(claims=dict(self.claims, nbf=later)),
                            "nbf in the future", "not yet valid")
        self.assert_refused(self.forge(claims=dict(self.claims, iat=later)),
                            "iat in the future", "issued in the future")
        for name in ("nbf", "iat"):
            c = dict(self.claims)
            del c[name]
            self.assert_refused(self.forge(claims=c), "%s missing" % name,
                                "malformed claims")
            self.assert_refused(
                self.forge(claims=dict(self.claims, **{name: "0"})),
                "%s string" % name, "malformed claims")

    def test_unknown_and_path_kids(self):
        kid = self.head["kid"]
        unknown = [kid[:-1] + ("A" if kid[-1] != "A" else "B"), "x", "0"]
        for k in unknown:
            self.assert_refused(self.forge(head=dict(self.head, kid=k)),
                                "unknown kid %r" % k, "unknown kid")
        paths = ["../../../../dev/null", "/etc/passwd", "/dev/null",
                 "../" * 40 + "etc/passwd", "jwt-es256.pem",
                 kid + "/../" + kid, "file:///etc/passwd", kid + "\u0000",
                 "", "A" * 4096]
        for k in paths:
            self.assert_refused(self.forge(head=dict(self.head, kid=k)),
                                "kid %r" % k[:60])
        for k in (None, 1, [kid], {"kid": kid}):
            self.assert_refused(self.forge(head=dict(self.head, kid=k)),
                                "kid %r" % (k,), "malformed kid")
        h = dict(self.head)
        del h["kid"]
        self.assert_refused(self.forge(head=h), "no kid", "missing kid")

    def test_header_asks_for_another_key(self):
        # A token naming its own key (embedded or by URL) is refused even
        # though it is signed by our key: the header decides nothing.
        for member, v in (("jwk", {"kty": "EC"}),
                          ("jku", "http://127.0.0.1:1/k"),
                          ("x5u", "http://127.0.0.1:1/c"),
                          ("x5c", ["MIIB"]), ("crit", ["exp"])):
            self.assert_refused(
                self.forge(head=dict(self.head, **{member: v})),
                "header member %s" % member, "header member not allowed")

    def test_signature_from_another_key(self):
        # Valid ES256 signatures, by a key that is not ours, under our kid
        # and under the other key's own thumbprint-like kid.
        self.assert_refused(self.forge(key=self.other_key),
                            "our kid, other key", "bad signature")
        self.assert_refused(
            self.forge(head=dict(self.head, kid="b" * 43),
                       key=self.other_key),
            "other kid, other key", "unknown kid")
        # Our signature over other claims, moved onto these claims.
        c = dict(self.claims, sub=gau.new_user(self, "tok2")["user_id"])
        theirs = self.forge(claims=c).split(".")[2]
        head, body, _ = self.user["access"].split(".")
        self.assert_refused("%s.%s.%s" % (head, body[:-2] + "AA", theirs),
                            "payload edited")
        spliced = gau.jwt_signing_input(self.head, c) + "." + \
            self.user["access"].split(".")[2]
        self.assert_refused(spliced, "signature of other claims",
                            "bad signature")
        # A truncated, a doubled, and an all-zero signature.
        si = gau.jwt_signing_input(self.head, self.claims)
        sig = gau.es256_sign_pem(self.key, si)
        for what, s in (("short", sig[:63]), ("long", sig + sig),
                        ("zero", b"\0" * 64),
                        ("DER", b"\x30\x44\x02\x20" + sig[:32] +
                         b"\x02\x20" + sig[32:])):
            self.assert_refused(si + "." + gau.b64url_encode(s),
                                "signature %s" % what, "bad signature")

    def test_high_s_form_refused(self):
        # (r, n - s) verifies whenever (r, s) does; the edge takes only
        # the low-s form, so a token has one spelling. Both the issued
        # token and a re-signed one are refused in their other form.
        for token in (self.user["access"], self.forge()):
            si, _, sig = token.rpartition(".")
            raw = gau.b64url_decode(sig)
            self.assertLessEqual(int.from_bytes(raw[32:], "big"),
                                 gau.P256_N // 2, "issued with a high s")
            flipped = si + "." + gau.b64url_encode(gau.es256_flip_s(raw))
            self.assert_refused(flipped, "high-s form", "high-s signature")
            self.assertEqual(profile(token).status, 200)

    def test_other_claims_each_wrong(self):
        c0 = self.claims
        for what, c in (
                ("iss", dict(c0, iss="gau-other")),
                ("aud", dict(c0, aud="other-api")),
                ("aud list", dict(c0, aud=["other-api"])),
                ("sub", dict(c0, sub="not-a-uuid")),
                ("sid", dict(c0, sid=None))):
            self.assert_refused(self.forge(claims=c), "claim %s" % what)
        c = dict(c0, sid="00000000-0000-4000-8000-000000000000")
        self.assert_refused(self.forge(claims=c), "unknown session")
        other = gau.new_user(self, prefix="tok3")
        _, oc, _ = gau.jwt_parts(other["access"])
        c = dict(c0, sid=oc["sid"])
        self.assert_refused(self.forge(claims=c), "another user's session")

    def test_revoked_session(self):
        tok = self.user["access"]
        self.assertEqual(profile(tok).status, 200)
        r = request("POST", API + "/account/logout", token=tok)
        self.assertEqual(r.status, 204, r)
        self.assert_refused(tok, "revoked session")
        # Re-signed with a fresh exp it is still the revoked session.
        c = dict(self.claims, exp=int(time.time()) + 600)
        self.assert_refused(self.forge(claims=c), "revoked, re-signed")

    def test_malformed_compact_forms(self):
        good = self.forge()
        h, b, s = good.split(".")
        for what, t in (("two parts", h + "." + b),
                        ("four parts", good + ".x"),
                        ("padding", good + "="),
                        ("space", h + "." + b + " ." + s),
                        ("empty header", "." + b + "." + s),
                        ("not base64", "!!." + b + "." + s),
                        ("header not json", gau.b64url_encode(b"{") + "." +
                         b + "." + s),
                        ("header array", gau.b64url_encode(b"[]") + "." +
                         b + "." + s),
                        ("duplicate alg",
                         gau.b64url_encode(
                             b'{"alg":"ES256","alg":"none","kid":"%s"}'
                             % self.head["kid"].encode()) + "." + b + "." +
                         s),
                        ("huge", "A" * 6000 + "." + b + "." + s)):
            self.assert_refused(t, what)


if __name__ == "__main__":
    unittest.main()
