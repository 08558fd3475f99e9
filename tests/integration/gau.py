"""Helpers shared by the integration tests.

Everything here talks to the real servers the test runner started: the
HTTP edge (http.client / urllib), RabbitMQ (pika), PostgreSQL (the psql
client) and Redis (redis-cli).  Nothing is mocked.

The runner exports:
  GAU_TEST_BASE_URL         http://127.0.0.1:38080
  GAU_AMQP_URL_PRODUCER     amqp URL of the external producer gau-producer
  GAU_AMQP_URL              amqp URL of the admin user (reads any queue)
  GAU_PG_URL_ACCOUNT        libpq URL of gau_account
  GAU_PG_URL_AUTHORIZATION  libpq URL of gau_authorization
  GAU_REDIS_URL             redis URL of the projections
  GAU_BUILD                 build folder, binaries in $GAU_BUILD/bin
  GAU_STACK_DIR             stack folder, pid files in $GAU_STACK_DIR/pids
"""

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.parse
import uuid

import msgpack
import pika

HTTP_TIMEOUT_S = 10.0
UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
PASSWORD = "correct horse battery"


# ---------------------------------------------------------------- env

def env(name):
    """The value of a variable the runner must export; fails clearly."""
    value = os.environ.get(name)
    if not value:
        raise AssertionError(
            "environment variable %s is not set: run the integration tests "
            "through tools/test.sh (make test), which starts the stack and "
            "the system and exports GAU_*" % name)
    return value


def base_url():
    return env("GAU_TEST_BASE_URL").rstrip("/")


_system_checked = False


def require_system():
    """Fails with a clear message when the edge does not answer /healthz."""
    global _system_checked
    if _system_checked:
        return
    url = base_url()
    try:
        r = request("GET", "/healthz", timeout=5)
    except OSError as e:
        raise AssertionError(
            "the gau edge at %s is not reachable (%s): is the system "
            "started (tools/stack/system.sh start test)?" % (url, e))
    if r.status != 200:
        raise AssertionError("GET %s/healthz answered %d, not 200: %r"
                             % (url, r.status, r.body[:200]))
    _system_checked = True


def unique(prefix="u"):
    """A username unique to this run: [a-z0-9_], starts with a letter."""
    return "%s%s" % (prefix, secrets.token_hex(6))


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("response body is not JSON (%s): %r"
                                 % (e, self.body[:300]))

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


def _split(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


def connection(timeout=HTTP_TIMEOUT_S):
    """A keep-alive http.client connection to the edge."""
    host, port = _split(base_url())
    return http.client.HTTPConnection(host, port, timeout=timeout)


def request(method, path, body=None, token=None, headers=None,
            raw=None, content_type="application/json",
            timeout=HTTP_TIMEOUT_S, conn=None):
    """One HTTP request; body is JSON-encoded, raw is sent as it is.

    With conn, uses (and keeps) that connection; otherwise a fresh one.
    Returns a Response; connection errors propagate.
    """
    h = {}
    data = None
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body).encode("utf-8")
    if data is not None and content_type is not None:
        h["Content-Type"] = content_type
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if headers:
        h.update(headers)
    own = conn is None
    c = conn or connection(timeout)
    try:
        c.request(method, "/" + path.lstrip("/") if path != "" else "/",
                  body=data, headers=h)
        r = c.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
    finally:
        if own:
            c.close()
    return resp


API = "/api/v2"


def register(tc=None, username=None, email=None, password=PASSWORD,
             fullname=None, idem=None, **extra):
    """POST /register; with tc, asserts 201 and returns (user_id, body)."""
    body = {"password": password}
    if username is not None:
        body["username"] = username
    if email is not None:
        body["email"] = email
    if fullname is not None:
        body["fullname"] = fullname
    body.update(extra)
    headers = {"Idempotency-Key": idem} if idem else None
    r = request("POST", API + "/account/register", body, headers=headers)
    if tc is None:
        return r
    tc.assertEqual(r.status, 201, "register %r: %r" % (body, r))
    j = r.json
    tc.assertIn("user_id", j, r)
    tc.assertRegex(j["user_id"], UUID_RE)
    return j["user_id"], r


def login(tc, login_name, password=PASSWORD, headers=None):
    """POST /login, asserts 200, returns the token JSON."""
    r = request("POST", API + "/account/login",
                {"login": login_name, "password": password}, headers=headers)
    tc.assertEqual(r.status, 200, "login %s: %r" % (login_name, r))
    return r.json


def new_user(tc, prefix="u", fullname="Test User"):
    """Registers and signs in a user; returns a dict with everything."""
    name = unique(prefix)
    email = name + "@example.com"
    uid, _ = register(tc, username=name, email=email, fullname=fullname)
    tok = login(tc, name)
    return {"user_id": uid, "username": name, "email": email,
            "fullname": fullname, "access": tok["access_token"],
            "refresh": tok["refresh_token"], "tokens": tok}


def assert_error(tc, r, status, code=None):
    """Asserts the status and the one error shape; returns the error."""
    tc.assertEqual(r.status, status, r)
    ct = r.header("Content-Type") or ""
    tc.assertTrue(ct.startswith("application/json"),
                  "error Content-Type %r: %r" % (ct, r))
    j = r.json
    tc.assertIsInstance(j, dict, r)
    tc.assertIn("error", j, r)
    e = j["error"]
    tc.assertIsInstance(e, dict, r)
    tc.assertIsInstance(e.get("code"), str, r)
    tc.assertIsInstance(e.get("message"), str, r)
    tc.assertTrue(e["code"], r)
    tc.assertTrue(e["message"], r)
    if "fields" in e:
        tc.assertIsInstance(e["fields"], dict, r)
        for k, v in e["fields"].items():
            tc.assertIsInstance(k, str, r)
            tc.assertIsInstance(v, str, r)
    if code is not None:
        tc.assertEqual(e["code"], code, r)
    return e


def error_names(tc, e, name):
    """Asserts the error names the field (in fields or the message)."""
    fields = e.get("fields") or {}
    tc.assertTrue(name in fields or name in e.get("message", ""),
                  "error does not name %r: %r" % (name, e))


def derive_uuid(data):
    """gau_uuid_derive: the first 16 bytes of SHA-256, as a version 8
    UUID."""
    b = bytearray(hashlib.sha256(data).digest()[:16])
    b[6] = (b[6] & 0x0f) | 0x80
    b[8] = (b[8] & 0x3f) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def idem_command_id(user, method, path, key):
    """The command id the edge derives from an Idempotency-Key."""
    return derive_uuid(b"idem\0" + (user or "anon").encode() + b"\0" +
                       ("%s %s" % (method, path)).encode() + b"\0" +
                       key.encode())


# ---------------------------------------------------------------- JWT

def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def jwt_parts(token):
    h, p, s = token.split(".")
    return (json.loads(b64url_decode(h)), json.loads(b64url_decode(p)),
            b64url_decode(s))


# P-256 (secp256r1), for checking ES256 signatures against the JWKS.
_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff
_A = _P - 3
_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b
_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
_G = (0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
      0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (lam * lam - x1 - x2) % _P
    return x3, (lam * (x1 - x3) - y1) % _P


def _mul(k, pt):
    acc = None
    while k:
        if k & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        k >>= 1
    return acc


def p256_on_curve(x, y):
    return (y * y - (x * x * x + _A * x + _B)) % _P == 0


def es256_verify(x, y, signing_input, sig):
    """True when sig (r||s, 64 bytes) signs signing_input for key (x, y)."""
    if len(sig) != 64 or not p256_on_curve(x, y):
        return False
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return False
    e = int.from_bytes(hashlib.sha256(signing_input).digest(), "big")
    w = pow(s, -1, _N)
    pt = _add(_mul(e * w % _N, _G), _mul(r * w % _N, (x, y)))
    return pt is not None and pt[0] % _N == r


def jwk_thumbprint(k):
    """RFC 7638 thumbprint of an EC JWK."""
    canon = '{"crv":"%s","kty":"%s","x":"%s","y":"%s"}' % (
        k["crv"], k["kty"], k["x"], k["y"])
    return b64url_encode(hashlib.sha256(canon.encode("ascii")).digest())


# ---------------------------------------------------------------- AMQP

def amqp_user(url):
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "")


def envelope(type_, payload, id_=None, v=1, principal=None, **extra):
    """A command envelope (a dict) as bus/envelope.h describes it."""
    cid = id_ or str(uuid.uuid4())
    e = {"id": cid, "type": type_, "v": v, "corr": str(uuid.uuid4()),
         "time": now_ms(), "payload": payload}
    if principal is not None:
        e["principal"] = principal
    e.update(extra)
    return e


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False)


class Amqp:
    """One blocking connection, one confirming channel, one reply queue."""

    def __init__(self, url=None, reply_queue=True):
        self.url = url or env("GAU_AMQP_URL_PRODUCER")
        self.user = amqp_user(self.url)
        params = pika.URLParameters(self.url)
        params.socket_timeout = 10
        params.blocked_connection_timeout = 10
        try:
            self.conn = pika.BlockingConnection(params)
        except pika.exceptions.AMQPError as e:
            raise AssertionError("cannot connect to RabbitMQ as %r: %r"
                                 % (self.user, e))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        self.queue = None
        self.pending = {}
        if reply_queue:
            self.queue = self.ch.queue_declare(
                "", exclusive=True, auto_delete=True).method.queue

    def close(self):
        try:
            if self.conn.is_open:
                self.conn.close()
        except pika.exceptions.AMQPError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def publish(self, routing_key, body, message_id=None, corr=None,
                type_=None, user_id=True, reply_to=True,
                exchange="gau.commands"):
        """Publishes body (bytes) with confirms; returns correlation id.

        user_id True means this connection's user; a string forges it.
        """
        corr = corr or str(uuid.uuid4())
        props = pika.BasicProperties(
            message_id=message_id or str(uuid.uuid4()),
            correlation_id=corr,
            reply_to=self.queue if reply_to is True else reply_to,
            type=type_ or routing_key,
            user_id=self.user if user_id is True else user_id,
            content_type="application/msgpack",
            delivery_mode=2)
        self.ch.basic_publish(exchange, routing_key, body, props)
        return corr

    def command(self, env_dict, routing_key=None, **kw):
        """Publishes an envelope dict; returns its correlation id."""
        return self.publish(routing_key or env_dict["type"],
                            pack(env_dict), message_id=env_dict["id"], **kw)

    def wait_reply(self, corr, timeout=10.0):
        """The reply (props, decoded envelope) with this correlation id.

        Replies to other calls are kept for their own wait.  Fails after
        timeout seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if corr in self.pending:
                props, body = self.pending.pop(corr)
            else:
                method, props, body = self.ch.basic_get(self.queue,
                                                        auto_ack=True)
                if method is None:
                    self.conn.sleep(0.02)
                    continue
            if props.correlation_id != corr:
                self.pending[props.correlation_id] = (props, body)
                continue
            try:
                return props, unpack(body)
            except Exception as e:  # the reply itself must decode
                raise AssertionError("reply is not msgpack (%s): %r"
                                     % (e, body[:200]))
        raise AssertionError("no reply with correlation_id %s on %s within "
                             "%.0f s" % (corr, self.queue, timeout))

    def call(self, env_dict, timeout=10.0, **kw):
        corr = self.command(env_dict, **kw)
        return self.wait_reply(corr, timeout)[1]


def dead_letters(message_id, queue="account.dead", timeout=10.0):
    """Takes the dead letters with this message_id from queue (admin).

    Reads every message without acking, acks only the matching ones and
    closes the channel, so everything else goes back to the queue.
    Returns a list of (props, body); polls until one is found or timeout.
    """
    got = dead_letters_many([message_id], queue, timeout)
    return [(props, body) for props, body, _ in got.get(message_id, [])]


# ---------------------------------------------------------------- psql

def psql(url, sql, **variables):
    """Runs sql with psql; :'name' in sql is the quoted variable name.

    Returns the rows as lists of strings (NULL is "").
    """
    cmd = ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
           "-F", "\x1f"]
    for k, v in variables.items():
        cmd += ["-v", "%s=%s" % (k, v)]
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("psql failed (%d): %s\n%s"
                             % (p.returncode, p.stderr.strip(), sql))
    return [line.split("\x1f") for line in p.stdout.splitlines() if line]


def pg_account(sql, **v):
    return psql(env("GAU_PG_URL_ACCOUNT"), sql, **v)


def pg_authorization(sql, **v):
    return psql(env("GAU_PG_URL_AUTHORIZATION"), sql, **v)


def count_users(username):
    rows = pg_account(
        "SELECT count(*) FROM users WHERE lower(username) = lower(:'u');",
        u=username)
    return int(rows[0][0])


# ---------------------------------------------------------------- redis

def redis(*args, timeout=30):
    """Runs one redis-cli command; returns its output lines."""
    cmd = ["redis-cli", "-u", env("GAU_REDIS_URL"), "--no-auth-warning"]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0 or p.stdout.startswith("ERR") or \
            p.stdout.startswith("(error)"):
        raise AssertionError("redis-cli %s failed (%d): %s %s"
                             % (" ".join(map(str, args)), p.returncode,
                                p.stdout.strip(), p.stderr.strip()))
    out = p.stdout
    if out.endswith("\n"):
        out = out[:-1]
    return out.split("\n") if out else []


def redis_hash(key):
    lines = redis("HGETALL", key)
    return dict(zip(lines[0::2], lines[1::2]))


def redis_keys(pattern):
    return [k for k in redis("--scan", "--pattern", pattern) if k]


# ---------------------------------------------------------------- processes

def stack_pid(name):
    """The pid in $GAU_STACK_DIR/pids/ of gau-edge, gau-worker-<service>.

    tools/stack/system.sh names the files edge.pid, account.pid, ...;
    both spellings are accepted.
    """
    short = name
    for p in ("gau-worker-", "gau-"):
        if short.startswith(p):
            short = short[len(p):]
            break
    tried = []
    for n in (name, short):
        path = os.path.join(env("GAU_STACK_DIR"), "pids", n + ".pid")
        tried.append(path)
        try:
            with open(path) as f:
                return int(f.readline().strip())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as e:
            raise AssertionError("cannot read pid file %s: %s" % (path, e))
    raise AssertionError("no pid file: %s" % ", ".join(tried))


def children(pid):
    p = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                       text=True, timeout=10)
    return sorted(int(x) for x in p.stdout.split())


def proc_title(pid):
    """The process name and command line, as one string ("" if gone)."""
    parts = []
    for f in ("comm", "cmdline"):
        try:
            with open("/proc/%d/%s" % (pid, f), "rb") as fh:
                parts.append(fh.read().replace(b"\0", b" ").decode(
                    "utf-8", "replace").strip())
        except OSError:
            pass
    return " | ".join(parts)


def gauctl(*args, timeout=60):
    path = os.path.join(env("GAU_BUILD"), "bin", "gauctl")
    if not os.access(path, os.X_OK):
        raise AssertionError("gauctl not found at %s" % path)
    return subprocess.run([path] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def poll(fn, timeout, interval=0.1, what="condition"):
    """Calls fn until it returns a true value; fails after timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached within %.1f s (last: %r)"
                                 % (what, timeout, last))
        time.sleep(interval)


# ---------------------------------------------------------------- tokens
# Building access tokens by hand, for the token tests: ES256 signatures
# are made by the openssl command with a PEM key file, HS256 with hmac.

def stack_secret(name):
    """The path of a file in $GAU_STACK_DIR/secrets (must exist)."""
    path = os.path.join(env("GAU_STACK_DIR"), "secrets", name)
    if not os.path.isfile(path):
        raise AssertionError("no secret file %s" % path)
    return path


def jwt_signing_input(header, claims):
    """b64url(header) "." b64url(claims), from dicts or raw bytes."""
    def enc(part):
        if isinstance(part, (bytes, bytearray)):
            return b64url_encode(bytes(part))
        return b64url_encode(json.dumps(part, separators=(",", ":"))
                             .encode("utf-8"))
    return enc(header) + "." + enc(claims)


def der_to_raw_sig(der, size=32):
    """An ECDSA DER signature (SEQUENCE of two INTEGERs) as r || s."""
    def read_len(b, i):
        n = b[i]
        i += 1
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(b[i:i + k], "big")
            i += k
        return n, i

    if not der or der[0] != 0x30:
        raise AssertionError("not a DER signature: %r" % der[:8])
    _, i = read_len(der, 1)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise AssertionError("not a DER INTEGER in %r" % der)
        n, i = read_len(der, i + 1)
        v = int.from_bytes(der[i:i + n], "big")
        i += n
        out += v.to_bytes(size, "big")
    return out


P256_N = int("ffffffff00000000ffffffffffffffff"
             "bce6faada7179e84f3b9cac2fc632551", 16)


def es256_flip_s(sig):
    """The other valid form (r, n - s) of a raw r || s signature."""
    r, s = sig[:32], int.from_bytes(sig[32:], "big")
    return r + (P256_N - s).to_bytes(32, "big")


def es256_sign_pem(pem_path, signing_input):
    """The raw 64-byte ES256 signature of signing_input by the key, in the
    low-s form (s <= n / 2), the only one the edge accepts."""
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem_path],
                       input=signing_input.encode("ascii"),
                       capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl dgst -sign failed: %s"
                             % p.stderr.decode("utf-8", "replace"))
    sig = der_to_raw_sig(p.stdout)
    if int.from_bytes(sig[32:], "big") > P256_N // 2:
        sig = es256_flip_s(sig)
    return sig


def es256_token(pem_path, header, claims):
    """A compact JWT over header and claims signed by pem_path."""
    si = jwt_signing_input(header, claims)
    return si + "." + b64url_encode(es256_sign_pem(pem_path, si))


def hs256_token(secret, header, claims):
    import hmac
    si = jwt_signing_input(header, claims)
    mac = hmac.new(secret, si.encode("ascii"), hashlib.sha256).digest()
    return si + "." + b64url_encode(mac)


def p256_keygen(path):
    """Writes a fresh EC P-256 private key (PEM) to path."""
    p = subprocess.run(["openssl", "genpkey", "-algorithm", "EC",
                        "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", path], capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl genpkey failed: %s"
                             % p.stderr.decode("utf-8", "replace"))
    return path


def public_pem(private_pem_path):
    """The SubjectPublicKeyInfo PEM (bytes) of a private key file."""
    p = subprocess.run(["openssl", "pkey", "-in", private_pem_path,
                        "-pubout"], capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("openssl pkey -pubout failed: %s"
                             % p.stderr.decode("utf-8", "replace"))
    return p.stdout


# ---------------------------------------------------------------- misc

def proc_rss_kib(pid):
    """VmRSS of a process in KiB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_children(service, role="actor"):
    """Pids of the children of gau-worker <service> whose title has
    "<service>.<role>" (actor, relay, projector)."""
    want = "%s.%s" % (service, role)
    return [c for c in children(stack_pid("gau-worker-" + service))
            if want in proc_title(c)]


def edge_log_since(offset):
    """The edge's log from byte offset on, and the new end offset."""
    path = os.path.join(env("GAU_STACK_DIR"), "log", "gau-edge.log")
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return "", offset
    return data.decode("utf-8", "replace"), offset + len(data)


def edge_log_size():
    path = os.path.join(env("GAU_STACK_DIR"), "log", "gau-edge.log")
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def dead_letters_many(message_ids, queue="account.dead", timeout=10.0):
    """Takes the dead letters whose message_id is in message_ids from
    queue (admin), as dead_letters does for one; returns a dict
    message_id -> list of (props, body, monotonic time first seen).
    Polls until every id is found or timeout."""
    want = set(message_ids)
    found = {}
    deadline = time.monotonic() + timeout
    with Amqp(env("GAU_AMQP_URL"), reply_queue=False) as a:
        while True:
            ch = a.conn.channel()
            while True:
                method, props, body = ch.basic_get(queue, auto_ack=False)
                if method is None:
                    break
                if props.message_id in want:
                    ch.basic_ack(method.delivery_tag)
                    found.setdefault(props.message_id, []).append(
                        (props, body, time.monotonic()))
            ch.close()
            if want <= set(found) or time.monotonic() >= deadline:
                return found
            a.conn.sleep(0.1)


def header_str(props, name):
    """An AMQP header as str (pika gives bytes or str), or None."""
    v = (props.headers or {}).get(name)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v
