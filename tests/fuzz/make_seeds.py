#!/usr/bin/python3
"""make_seeds.py - writes the committed seed corpus of every fuzz harness.

    /usr/bin/python3 tests/fuzz/make_seeds.py

Rewrites tests/fuzz/corpus/<harness>/ and the libFuzzer dictionaries
tests/fuzz/<harness>.dict from schemas/*.json and a few
hostile cases chosen by hand (those of the reliability suite: truncated
msgpack, a 4 GiB length in five bytes, deep nesting, duplicate keys, alg
none, HS256 with the public key, exp as a string...). Each seed is small
and named for what it holds. Needs python3-msgpack and the openssl
command (to sign the JWT seeds with the harness's fixed key).

A valid example of every message is built from its schema, so a new
message type gets seeds by running this again.
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import msgpack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

UUID = "6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b"
UUID2 = "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
TS_MS = 1800000000123
TS_JSON = "2027-01-15T08:00:00.123Z"

# The fixed key of fuzz_jwt.c, and the fixed user, session and time.
JWT_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgH6ErGvbePZKMFkOn
K9oM81SJzGflAnoBSYQfLzVqK/yhRANCAARsxjN9v8Dq5JIEwWG7bwqIi3Q0UI7P
0RiZTxXLzq5aOg2pDexhQ5z9IItX88tda26+LYlJV7selj+6Wq7U99hL
-----END PRIVATE KEY-----
"""
JWT_NOW = 1800000000
JWT_JTI = "11111111-2222-4333-8444-555555555555"
# The order of the P-256 group: s and n - s are both valid ECDSA
# signatures of the same message.
P256_N = int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
             16)


def load_messages():
    msgs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "schemas", "*.json"))):
        with open(path) as f:
            msgs.extend(json.load(f)["messages"])
    by_name = {m["name"]: m for m in msgs}
    for m in msgs:
        if "fields_from" in m:
            m["fields"] = by_name[m["fields_from"]]["fields"]
    return msgs


def example(field, as_json):
    t = field["type"]
    if t == "uuid":
        return UUID
    if t == "email":
        return "ann@example.org"
    if t == "username":
        return "ann_1"
    if t == "date":
        return "1990-02-28"
    if t == "enum":
        return field["values"][0]
    if t == "timestamp":
        return TS_JSON if as_json else TS_MS
    if t == "int":
        return max(field.get("min", 1), 1)
    if t == "bool":
        return True
    text = "correct horse battery"
    lo = field.get("min", 0)
    return (text * 10)[:max(lo, min(len(text), field.get("max", 999)))]


def payload(msg, as_json, optional=True):
    return {f["name"]: example(f, as_json) for f in msg["fields"]
            if optional or not f.get("optional")}


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def envelope(type_, body, **extra):
    env = {"id": "cmd-1", "type": type_, "v": 1, "corr": "corr-1",
           "cause": None, "time": TS_MS, "payload": body}
    env.update(extra)
    return env


def envelope_seeds(msgs):
    pack = msgpack.packb
    for m in msgs:
        name = m["name"].replace(".", "_")
        write("envelope", "ok-" + name, pack(envelope(
            m["name"], payload(m, False))))
        write("envelope", "required-only-" + name, pack(envelope(
            m["name"], payload(m, False, optional=False))))
    principal = {"user_id": UUID.upper(), "session_id": UUID2}
    write("envelope", "ok-principal-deadline", pack(envelope(
        "account.profile_update", {"fullname": "Ann"},
        principal=principal, deadline=TS_MS + 5000)))
    write("envelope", "ok-error-reply", pack(envelope(
        "error", {"code": "invalid", "message": "invalid request",
                  "fields": {"email": "must be an email address"}})))
    write("envelope", "ok-unknown-type", pack(envelope(
        "billing.charge", {"amount": 3})))
    write("envelope", "bad-wrong-field-types", pack(envelope(
        "account.register", {"username": 5, "password": b"bytes",
                             "gender": "robot", "extra": None})))
    write("envelope", "bad-duplicate-key",
          b"\x82\xa2id\xa1a\xa2id\xa1b")
    good = pack(envelope("account.login", {"login": "ann",
                                           "password": "secret"}))
    write("envelope", "bad-truncated", good[:len(good) // 2])
    write("envelope", "bad-4gib-length", b"\xdb\xff\xff\xff\xff")
    write("envelope", "bad-4gib-map", b"\xdf\xff\xff\xff\xff")
    write("envelope", "bad-deep-nesting", b"\x91" * 100 + b"\xc0")
    write("envelope", "bad-ext-float-bin", pack(envelope(
        "account.login", {"login": 1.5, "password": b"\x00"}),
        use_bin_type=True))


def json_seeds(msgs):
    for i, m in enumerate(msgs):
        name = m["name"].replace(".", "_")
        body = json.dumps(payload(m, True)).encode()
        write("json_command", "ok-" + name, bytes([i]) + body)
    reg = 0
    write("json_command", "bad-duplicate-key", bytes([reg]) +
          b'{"password":"12345678","password":"87654321"}')
    write("json_command", "bad-utf8", bytes([reg]) +
          b'{"username":"ann\xc3\x28","password":"12345678"}')
    write("json_command", "bad-deep", bytes([reg]) +
          b'{"a":' + b"[" * 40 + b"]" * 40 + b"}")
    write("json_command", "bad-huge-number", bytes([reg]) +
          b'{"password":1e999,"n":123456789012345678901234567890}')
    write("json_command", "bad-nul-escape", bytes([reg]) +
          b'{"password":"1234\\u00005678","email":"a@b.c"}')
    write("json_command", "ok-escapes-offset-time", bytes([5]) + json.dumps({
        "user_id": UUID.upper(), "fullname": "\u00c5sa \ud83d\ude00",
        "created_at": "2027-01-15T10:00:00.5+02:00",
        "updated_at": TS_MS, "version": 3}).encode())


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der):
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        i += 2 + n
    return out


class Signer:
    def __init__(self, tmp):
        self.key = os.path.join(tmp, "key.pem")
        with open(self.key, "w") as f:
            f.write(JWT_KEY)
        der = subprocess.run(
            ["openssl", "pkey", "-in", self.key, "-pubout", "-outform",
             "DER"], check=True, capture_output=True).stdout
        point = der[-65:]
        jwk = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (
            b64(point[1:33]), b64(point[33:]))
        self.kid = b64(hashlib.sha256(jwk.encode()).digest())

    def sign(self, head, claims):
        signing = b64(json.dumps(head)) + "." + b64(json.dumps(claims))
        der = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key],
            input=signing.encode(), check=True,
            capture_output=True).stdout
        return signing + "." + b64(der_to_raw(der))


def jwt_seeds():
    tmp = tempfile.mkdtemp()
    try:
        s = Signer(tmp)
        head = {"alg": "ES256", "typ": "JWT", "kid": s.kid}
        claims = {"iss": "gau", "aud": "gau-api", "sub": UUID, "sid": UUID2,
                  "jti": JWT_JTI, "iat": JWT_NOW, "nbf": JWT_NOW,
                  "exp": JWT_NOW + 900}
        valid = s.sign(head, claims)
        body = valid.split(".")[1]
        sig = valid.split(".")[2]
        m0 = b"\x00"
        write("jwt", "m0-valid", m0 + valid.encode())
        variants = {
            "exp-string": dict(claims, exp=str(JWT_NOW + 900)),
            "exp-float": dict(claims, exp=JWT_NOW + 900.5),
            "exp-missing": {k: v for k, v in claims.items() if k != "exp"},
            "nbf-future": dict(claims, nbf=JWT_NOW + 3600),
            "aud-list": dict(claims, aud=["x", "gau-api"]),
            "sub-not-uuid": dict(claims, sub="admin"),
        }
        for name, c in variants.items():
            write("jwt", "m0-" + name, m0 + s.sign(head, c).encode())
        heads = {
            "kid-unknown": dict(head, kid="bm90LWEta2V5"),
            "kid-path": dict(head, kid="../../etc/passwd"),
            "crit": dict(head, crit=["exp"]),
            "jku": dict(head, jku="http://127.0.0.1/jwks.json"),
        }
        for name, h in heads.items():
            write("jwt", "m0-" + name, m0 + s.sign(h, claims).encode())
        for spelling in ("none", "None", "NONE", "nOnE"):
            h = b64(json.dumps({"alg": spelling, "kid": s.kid}))
            write("jwt", "m0-alg-" + spelling, m0 +
                  (h + "." + body + ".").encode())
        write("jwt", "m1-no-edits", b"\x01")
        write("jwt", "m1-flip-claim-byte", b"\x01" + bytes([0, 120, 65]))
        write("jwt", "m2-alg-none-header", b"\x02" + json.dumps(
            {"alg": "none", "kid": s.kid}).encode())
        write("jwt", "m2-same-header", b"\x02" + json.dumps(head).encode())
        write("jwt", "m3-other-user", b"\x03" + json.dumps(
            dict(claims, sub=UUID2)).encode())
        write("jwt", "m4-zero-signature", b"\x04" + bytes(64))
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        high_s = P256_N - int.from_bytes(raw[32:], "big")
        write("jwt", "m0-valid-other-s", m0 + (
            valid.rsplit(".", 1)[0] + "." +
            b64(raw[:32] + high_s.to_bytes(32, "big"))).encode())
        write("jwt", "m5-hs256-public-key", b"\x05" +
              json.dumps(claims).encode())
        write("jwt", "m6-other-key", b"\x06" + json.dumps(claims).encode())
        write("jwt", "m6-other-key-not-json", b"\x06not json")
    finally:
        shutil.rmtree(tmp)


def dict_entry(data):
    if isinstance(data, str):
        data = data.encode()
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7f and b not in b'"\\'
                         else "\\x%02x" % b for b in data) + '"'


def write_dict(harness, entries):
    path = os.path.join(ROOT, "tests", "fuzz", harness + ".dict")
    seen = []
    for e in entries:
        if e not in seen:
            seen.append(e)
    with open(path, "w") as f:
        f.write("# libFuzzer dictionary, written by make_seeds.py\n")
        for e in seen:
            f.write(dict_entry(e) + "\n")


def dictionaries(msgs):
    names = ["id", "type", "v", "corr", "cause", "time", "deadline",
             "principal", "payload", "user_id", "session_id", "error",
             "code", "message", "fields"]
    values = []
    for m in msgs:
        names.append(m["name"])
        for f in m["fields"]:
            names.append(f["name"])
            values.extend(f.get("values", []))
    words = names + values + [UUID, TS_JSON, "1990-02-28", "ann@example.org"]
    mp = [msgpack.packb(w) for w in words]
    mp += [b"\xc0", b"\xc2", b"\xc3", b"\xcf", b"\xd3", b"\xdc", b"\xdd",
           b"\xde", b"\xdf", b"\xd9", b"\xda", b"\xdb", b"\xc4", b"\xc7",
           b"\xcb", msgpack.packb(TS_MS), msgpack.packb(-1),
           msgpack.packb(2 ** 63)]
    write_dict("envelope", mp)
    js = ['"%s"' % w for w in words] + [
        "{", "}", "[", "]", ":", ",", "null", "true", "false", "1e999",
        "-0", "9223372036854775808", "\\u0000", "\\ud83d\\ude00", "\\ud800",
        "+02:00", ".999999Z", "T23:59:59", "9999-12-31", "0000-00-00"]
    write_dict("json_command", js)
    jwt = ['"alg"', '"ES256"', '"none"', '"HS256"', '"kid"', '"typ"',
           '"JWT"', '"crit"', '"jku"', '"jwk"', '"iss"', '"gau"', '"aud"',
           '"gau-api"', '"sub"', '"sid"', '"jti"', '"exp"', '"nbf"',
           '"iat"', str(JWT_NOW), str(JWT_NOW + 900), UUID, JWT_JTI,
           "eyJ", ".", "=", "-", "_"]
    write_dict("jwt", jwt)


def main():
    msgs = load_messages()
    for harness in ("envelope", "json_command", "jwt"):
        shutil.rmtree(os.path.join(CORPUS, harness), ignore_errors=True)
    envelope_seeds(msgs)
    json_seeds(msgs)
    jwt_seeds()
    dictionaries(msgs)
    for harness in sorted(os.listdir(CORPUS)):
        print("%s: %d seeds" % (harness,
                                len(os.listdir(os.path.join(CORPUS,
                                                            harness)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
