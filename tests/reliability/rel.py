"""The reliability suite's load driver, fault helpers and checker.

Every case runs the same way: a Load sends a bounded mix of commands over
HTTP from N threads (per user: register, login, PATCH profile, refresh,
logout; each write with its own Idempotency-Key), a fault is injected
while it runs, and after recovery check() asserts:

  (a) every request that got a success is applied exactly once (the
      user by username in PostgreSQL, its events, the sessions);
  (b) every request that got an error or a timeout is either fully
      applied once or not at all, and retrying it with the same
      Idempotency-Key reaches the same final state (all are retried);
  (c) nothing is applied twice: one event per command id, the versions
      of every aggregate contiguous 1..n, nothing that was not asked for;
  (d) the Redis projections of every touched user and session equal
      what `gauctl replay` rebuilds, and equal the PostgreSQL rows.

Every wait is a bounded poll. Uses tests/integration/gau.py (read-only).
"""

import collections
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import gau  # noqa: E402
from gau import API  # noqa: E402

# The edge's own deadline (GAU_RPC_TIMEOUT_MS, 5 s by default) plus room:
# a request without an answer by then counts as a timeout.
RPC_TIMEOUT_S = int(os.environ.get("GAU_RPC_TIMEOUT_MS", "5000")) / 1000.0
HTTP_TIMEOUT_S = RPC_TIMEOUT_S + 5.0

P_REGISTER = API + "/account/register"
P_LOGIN = API + "/account/login"
P_PROFILE = API + "/account/profile"
P_LOGOUT = API + "/account/logout"
P_REFRESH = API + "/authorization/token/refresh"

# What each command writes: (database, event type, status of success).
KINDS = {
    "register": ("account", "account.user_registered", 201),
    "login": ("authorization", "authorization.session_opened", 200),
    "patch": ("account", "account.profile_updated", 200),
    "refresh": ("authorization", "authorization.token_rotated", 200),
    "logout": ("authorization", "authorization.session_revoked", 204),
}
READ_OK = 200
# The bound on every read of a Redis case: the edge's Redis timeouts are
# 200 ms to connect and 500 ms per command, so 2 s leaves room for a loaded
# machine while a read without a timeout (10 s or more) still fails.
READ_BOUND_S = 2.0
FAIL_PAUSE_S = 0.3


def log(msg):
    print("  " + msg, flush=True)


# ---------------------------------------------------------------- Redis

class Redis:
    """A minimal RESP client for bulk reads (redis-cli per key is slow)."""

    def __init__(self, timeout=10.0):
        u = urllib.parse.urlsplit(gau.env("GAU_REDIS_URL"))
        self.sock = socket.create_connection((u.hostname, u.port or 6379),
                                             timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise OSError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise OSError("redis: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise OSError("redis: unexpected reply %r" % line)

    def pipeline(self, cmds):
        out = []
        for i in range(0, len(cmds), 500):
            chunk = cmds[i:i + 500]
            buf = bytearray()
            for c in chunk:
                buf += b"*%d\r\n" % len(c)
                for a in c:
                    a = str(a).encode()
                    buf += b"$%d\r\n%s\r\n" % (len(a), a)
            self.sock.sendall(bytes(buf))
            out += [self._read() for _ in chunk]
        return out

    def hashes(self, keys):
        res = self.pipeline([("HGETALL", k) for k in keys])
        return {k: dict(zip(v[0::2], v[1::2])) for k, v in zip(keys, res)}


def redis_hashes(keys, timeout=30.0):
    """HGETALL of every key, retrying while Redis is not reachable."""
    def get():
        try:
            r = Redis()
        except OSError:
            return None
        try:
            return r.hashes(keys)
        except OSError:
            return None
        finally:
            r.close()
    return gau.poll(get, timeout, 0.2, "redis answering")


# ---------------------------------------------------------------- psql

def psql_many(url, sql):
    """psql with the SQL on stdin (no length limit); rows of strings."""
    cmd = ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
           "-F", "\x1f"]
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("psql failed (%d): %s\n%s"
                             % (p.returncode, p.stderr.strip(), sql[:500]))
    return [line.split("\x1f") for line in p.stdout.splitlines() if line]


def pg_url(db):
    return gau.env("GAU_PG_URL_" + db.upper())


def sql_array(items):
    """A text[] literal of safe tokens (uuids, generated names)."""
    for s in items:
        assert all(c.isalnum() or c in "-_." for c in s), s
    return "'{%s}'" % ",".join(items)


def pg_ready(timeout=60.0):
    def ok():
        try:
            return psql_many(pg_url("account"), "SELECT 1;") == [["1"]]
        except (AssertionError, subprocess.TimeoutExpired):
            return False
    gau.poll(ok, timeout, 0.2, "postgresql accepting connections")


# ---------------------------------------------------------------- load

class Op:
    """One HTTP request of the load and what came of it."""

    __slots__ = ("kind", "user", "key", "method", "path", "body", "token",
                 "status", "reply", "error", "elapsed", "t0", "retried",
                 "retry_status", "retry_reply", "pre_retry")

    def __init__(self, kind, user, method, path, body, token=None,
                 key=None):
        self.kind = kind
        self.user = user
        self.key = key
        self.method = method
        self.path = path
        self.body = body
        self.token = token
        self.status = None      # HTTP status, None for no answer
        self.reply = None       # decoded JSON of the answer
        self.error = None       # exception name when there is no answer
        self.elapsed = None
        self.t0 = None
        self.retried = False
        self.retry_status = None
        self.retry_reply = None
        self.pre_retry = None   # "applied" / "absent" before the retry

    @property
    def ok(self):
        return self.status == KINDS[self.kind][2] if self.kind in KINDS \
            else self.status == READ_OK

    @property
    def final_ok(self):
        return self.ok or (self.retried and self.retry_ok())

    def retry_ok(self):
        return self.retry_status == KINDS[self.kind][2]

    def outcome(self):
        return self.status if self.status is not None else self.error

    def cid(self):
        """The command id the edge derives from the Idempotency-Key."""
        scope = {"register": None, "refresh": None}.get(
            self.kind, self.user.uid)
        return gau.idem_command_id(scope, self.method, self.path, self.key)


class User:
    def __init__(self, name, index):
        self.name = name
        self.index = index
        self.uid = None
        self.access = None
        self.refresh = None
        self.ops = []
        self.broken = None      # the op after which the script stopped
        self.last_version = 0   # highest version a PATCH reply showed


def send(conn, op, timeout=HTTP_TIMEOUT_S):
    """Sends op on conn (or a new connection); returns (conn, status,
    body, error). conn is None afterwards when it must not be reused."""
    headers = {}
    data = None
    if op.body is not None:
        data = json.dumps(op.body).encode()
        headers["Content-Type"] = "application/json"
    if op.token:
        headers["Authorization"] = "Bearer " + op.token
    if op.key:
        headers["Idempotency-Key"] = op.key
    try:
        if conn is None:
            conn = gau.connection(timeout)
        conn.request(op.method, op.path, body=data, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.will_close:
            conn.close()
            conn = None
        return conn, r.status, body, None
    except (OSError, http.client.HTTPException) as e:
        if conn is not None:
            conn.close()
        return None, None, None, type(e).__name__


class Load:
    """Runs the script of every user from `threads` threads.

    Script per user: register, login, `patches` PATCHes with a refresh in
    the middle (and a GET after each PATCH when reads is set), logout.
    A request without its success stops that user's script; check()
    retries it later with its own Idempotency-Key.
    """

    def __init__(self, users, patches=4, threads=16, reads=False,
                 prefix=None, deadline_s=900.0, pace_s=0.0,
                 fail_pause_s=FAIL_PAUSE_S):
        self.prefix = prefix or "r%s_" % secrets.token_hex(4)
        self.users = [User("%s%05d" % (self.prefix, i), i)
                      for i in range(users)]
        self.patches = patches
        self.reads = reads
        self.pace_s = pace_s
        self.fail_pause_s = fail_pause_s
        self.lock = threading.Lock()
        self.todo = collections.deque(self.users)
        self.stats = collections.Counter()
        self.sent = 0           # commands answered (any outcome)
        self.ops = []
        self.stop_at = None
        self.start = time.monotonic()
        self.deadline = self.start + deadline_s
        self.threads = [threading.Thread(target=self._worker, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def commands_per_user(self):
        return 4 + self.patches

    def _run(self, conn, op):
        op.t0 = time.monotonic()
        conn, status, body, err = send(conn, op)
        op.elapsed = time.monotonic() - op.t0
        op.status = status
        op.error = err
        if body:
            try:
                op.reply = json.loads(body)
            except ValueError:
                op.reply = {"_raw": body[:200].decode("latin-1")}
        with self.lock:
            self.ops.append(op)
            if op.kind in KINDS:
                self.sent += 1
            self.stats["%s:%s" % (op.kind, op.outcome())] += 1
        if self.pace_s:
            time.sleep(self.pace_s)
        if not op.ok:
            # While a server is down, do not burn through the users: the
            # failed one waits for check() to retry it.
            time.sleep(self.fail_pause_s)
        return conn

    def _script(self, conn, u):
        n = 0

        def cmd(kind, method, path, body, token=None):
            nonlocal conn, n
            n += 1
            op = Op(kind, u, method, path, body, token,
                    key="%s-%s-%d" % (u.name, kind, n))
            u.ops.append(op)
            conn = self._run(conn, op)
            if not op.ok:
                u.broken = op
            return op

        op = cmd("register", "POST", P_REGISTER,
                 {"username": u.name, "email": u.name + "@example.com",
                  "password": gau.PASSWORD, "fullname": "Rel %d" % u.index})
        if not op.ok:
            return conn
        u.uid = op.reply["user_id"]
        op = cmd("login", "POST", P_LOGIN,
                 {"login": u.name, "password": gau.PASSWORD})
        if not op.ok:
            return conn
        u.access, u.refresh = (op.reply["access_token"],
                               op.reply["refresh_token"])
        for i in range(self.patches):
            if i == self.patches // 2:
                op = cmd("refresh", "POST", P_REFRESH,
                         {"refresh_token": u.refresh})
                if not op.ok:
                    return conn
                u.access, u.refresh = (op.reply["access_token"],
                                       op.reply["refresh_token"])
            op = cmd("patch", "PATCH", P_PROFILE,
                     {"fullname": "Rel %d v%d" % (u.index, i + 2),
                      "gender": ("male", "female", "other")[i % 3]},
                     u.access)
            if not op.ok:
                return conn
            if isinstance(op.reply.get("version"), int):
                u.last_version = op.reply["version"]
            if self.reads:
                rd = Op("read", u, "GET", P_PROFILE, None, u.access)
                u.ops.append(rd)
                conn = self._run(conn, rd)
        cmd("logout", "POST", P_LOGOUT, None, u.access)
        return conn

    def _worker(self):
        conn = None
        while time.monotonic() < self.deadline:
            with self.lock:
                if not self.todo or self.stop_at is not None and \
                        self.sent >= self.stop_at:
                    break
                u = self.todo.popleft()
            conn = self._script(conn, u)
        if conn is not None:
            conn.close()

    def wait_sent(self, n, timeout=600.0):
        """Waits until n commands have been answered (bounded)."""
        gau.poll(lambda: self.sent >= n or not self.alive(), timeout, 0.02,
                 "%d commands sent" % n)

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def join(self, tc, timeout=900.0):
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        tc.assertFalse(self.alive(), "load threads still running")
        self.elapsed = time.monotonic() - self.start

    def summary(self):
        return "%d commands, %d requests in %.1f s; %s" % (
            self.sent, len(self.ops), self.elapsed,
            dict(sorted(self.stats.items())))


# ---------------------------------------------------------------- faults

def stack_sh(*args, timeout=180):
    p = subprocess.run([os.path.join(ROOT, "tools", "stack", "stack.sh")] +
                       list(args), capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        raise AssertionError("stack.sh %s failed (%d): %s %s"
                             % (" ".join(args), p.returncode, p.stdout,
                                p.stderr))
    return p


def server_down(name):
    stack_sh("down", "test", name)


def server_up():
    stack_sh("up", "test")


def system_start():
    """Starts whatever of the edge and workers is not running (the edge
    after a kill -9), then waits for /readyz."""
    env = dict(os.environ)
    env["BUILD"] = gau.env("GAU_BUILD")
    p = subprocess.run([os.path.join(ROOT, "tools", "stack", "system.sh"),
                        "start", "test"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=env)
    if p.returncode != 0:
        raise AssertionError("system.sh start test failed (%d): %s %s"
                             % (p.returncode, p.stdout, p.stderr))


def kind_of(pid, service):
    """actor, relay or projector from the child's name ("account.actor.1";
    the kernel keeps 15 characters: "authorization.a"), or None."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
    except OSError:
        return None
    if not comm.startswith(service + "."):
        return None
    rest = comm[len(service) + 1:]
    for k in ("actor", "relay", "projector"):
        if rest and (k.startswith(rest) or rest.startswith(k)):
            return k
    return None


def child(service, word):
    """The pid of a child of gau-worker <service> of kind word."""
    sup = gau.stack_pid("gau-worker-" + service)
    kids = gau.children(sup)
    found = [p for p in kids if kind_of(p, service) == word]
    if not found:
        raise AssertionError("no %r child of %s worker %d: %r" % (
            word, service, sup, [(p, gau.proc_title(p)) for p in kids]))
    return found[0]


def alive(pid):
    """True while pid runs (a zombie does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill9(pid):
    os.kill(pid, signal.SIGKILL)


def kill_edge():
    pid = gau.stack_pid("gau-edge")
    kill9(pid)
    gau.poll(lambda: not alive(pid), 10, 0.05, "edge %d gone" % pid)
    return pid


def wait_children(service, n=None, timeout=30.0):
    """Waits until the supervisor has its full set of children again."""
    sup = gau.stack_pid("gau-worker-" + service)
    want = n or int(os.environ.get("GAU_ACTORS", "4")) + 2

    def full():
        kinds = sorted(str(kind_of(p, service)) for p in gau.children(sup))
        return kinds == sorted(["actor"] * (want - 2) +
                               ["relay", "projector"])
    gau.poll(full, timeout, 0.1, "%s worker with %d children" %
             (service, want))


def ready(timeout=60.0):
    """Bounded wait for GET /readyz 200."""
    def ok():
        try:
            return gau.request("GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False
    gau.poll(ok, timeout, 0.1, "/readyz 200")


# ---------------------------------------------------------------- checker

def _retry(op, timeout):
    """Re-sends op with its Idempotency-Key until it gets a final answer
    (not 503/504/no answer) or timeout."""
    end = time.monotonic() + timeout
    while True:
        conn, status, body, err = send(None, op)
        if conn is not None:
            conn.close()
        if status is not None and status not in (502, 503, 504):
            op.retry_status = status
            try:
                op.retry_reply = json.loads(body) if body else None
            except ValueError:
                op.retry_reply = {"_raw": body[:200].decode("latin-1")}
            return
        if time.monotonic() >= end:
            op.retry_status = status if status is not None else err
            return
        time.sleep(0.2)


class State:
    """What PostgreSQL holds for the users of a load."""

    def __init__(self, load):
        self.load = load
        p = load.prefix
        self.users = {r[0]: r for r in psql_many(pg_url("account"), (
            "SELECT username, id, email, fullname, coalesce(gender, ''), "
            "coalesce(date_of_birth::text, ''), version, "
            "round(extract(epoch FROM created_at) * 1000)::bigint, "
            "round(extract(epoch FROM updated_at) * 1000)::bigint "
            "FROM users WHERE left(username, %d) = '%s';" % (len(p), p)))}
        uids = [r[1] for r in self.users.values()]
        self.acc_events = psql_many(pg_url("account"), (
            "SELECT e.causation_id, e.aggregate_id, e.aggregate_version, "
            "e.type, e.published_at IS NOT NULL FROM events e "
            "WHERE e.aggregate_id = ANY(%s::uuid[]);" % sql_array(uids)))
        self.sessions = {r[0]: r for r in psql_many(
            pg_url("authorization"), (
                "SELECT id, user_id, version, CASE WHEN revoked_at IS NULL "
                "THEN 'active' ELSE 'revoked' END FROM sessions "
                "WHERE user_id = ANY(%s::uuid[]);" % sql_array(uids)))}
        sids = list(self.sessions)
        self.auth_events = psql_many(pg_url("authorization"), (
            "SELECT e.causation_id, e.aggregate_id, e.aggregate_version, "
            "e.type, e.published_at IS NOT NULL FROM events e "
            "WHERE e.aggregate_id = ANY(%s::uuid[]);" % sql_array(sids)))
        self.by_cause = collections.defaultdict(list)
        for ev in self.acc_events + self.auth_events:
            self.by_cause[ev[0]].append(ev)

    def processed(self, db, cids):
        if not cids:
            return set()
        rows = psql_many(pg_url(db), (
            "SELECT command_id FROM processed_commands "
            "WHERE command_id = ANY(%s::text[]);" % sql_array(cids)))
        return {r[0] for r in rows}


def commands(load):
    return [op for op in load.ops if op.kind in KINDS]


def _applied(tc, state, op, stored):
    """'applied' or 'absent', asserting nothing in between."""
    evs = state.by_cause.get(op.cid(), [])
    want_type = KINDS[op.kind][1]
    tc.assertLessEqual(len(evs), 1, "%s applied twice: %r" % (op.key, evs))
    in_store = op.cid() in stored
    tc.assertEqual(bool(evs), in_store,
                   "%s %s half applied: events %r, idempotency record %r"
                   % (op.kind, op.key, evs, in_store))
    if evs:
        tc.assertEqual(evs[0][3], want_type, op.key)
    return "applied" if evs else "absent"


def check(tc, load, retry_timeout=60.0, projection_timeout=60.0):
    """(a)-(d) above; returns a dict of counts for the report."""
    cmds = commands(load)
    failed = [op for op in cmds if not op.ok]
    # Failed requests without a user id cannot be retried in the account
    # scope only when register itself failed; its scope is "anon".
    state = State(load)
    stored = {}
    for db in ("account", "authorization"):
        stored[db] = state.processed(
            db, [op.cid() for op in cmds if KINDS[op.kind][0] == db])
    # (b) before the retry: each failed one is applied once or not at all.
    for op in failed:
        op.pre_retry = _applied(tc, state, op, stored[KINDS[op.kind][0]])

    # Retry every failed one with its own key; a register that was not
    # applied gets its user id now, so the scope of nothing else changes.
    pre = collections.Counter(op.pre_retry for op in failed)
    for op in failed:
        op.retried = True
        _retry(op, retry_timeout)
    for op in failed:
        ok = op.retry_ok()
        # A logout that was applied revoked the very session its token
        # names: the edge refuses that token before the command, and the
        # final state (revoked once) is the same.
        if not ok and op.kind == "logout" and op.pre_retry == "applied" \
                and op.retry_status == 401:
            continue
        tc.assertTrue(ok, "retry of %s %s (first %r, %s) answered %r %r"
                      % (op.kind, op.key, op.outcome(), op.pre_retry,
                         op.retry_status, op.retry_reply))
        if op.kind == "register":
            op.user.uid = op.retry_reply["user_id"]

    state = State(load)
    for db in ("account", "authorization"):
        stored[db] = state.processed(
            db, [op.cid() for op in cmds if KINDS[op.kind][0] == db])
    # (a) and (b) after the retry: every command applied exactly once.
    for op in cmds:
        tc.assertEqual(_applied(tc, state, op, stored[KINDS[op.kind][0]]),
                       "applied", "%s %s (first %r, retry %r) not applied"
                       % (op.kind, op.key, op.outcome(), op.retry_status))
    # The stored reply is the first one: the same user id, the same
    # profile version.
    for op in failed:
        if op.kind == "register":
            ev = state.by_cause[op.cid()][0]
            tc.assertEqual(op.retry_reply["user_id"], ev[1], op.key)
        if op.kind == "patch" and op.retry_reply and \
                "version" in op.retry_reply:
            ev = state.by_cause[op.cid()][0]
            tc.assertEqual(str(op.retry_reply["version"]), ev[2], op.key)
    for op in cmds:
        if op.ok and op.kind == "register":
            tc.assertEqual(state.users[op.user.name][1],
                           op.reply["user_id"], op.key)
        if op.ok and op.kind == "patch" and "version" in (op.reply or {}):
            tc.assertEqual(str(op.reply["version"]),
                           state.by_cause[op.cid()][0][2], op.key)

    # (c) nothing twice, nothing extra, no gap.
    registered = {op.user.name for op in cmds if op.kind == "register"}
    tc.assertEqual(set(state.users), registered,
                   "users in PostgreSQL differ from the registrations")
    n_cmds = len(cmds)
    n_events = len(state.acc_events) + len(state.auth_events)
    tc.assertEqual(n_events, n_cmds, "events of the load's aggregates "
                   "(%d) differ from its commands (%d)" % (n_events, n_cmds))
    per_agg = collections.defaultdict(list)
    for ev in state.acc_events + state.auth_events:
        per_agg[ev[1]].append(int(ev[2]))
    for agg, vs in per_agg.items():
        tc.assertEqual(sorted(vs), list(range(1, len(vs) + 1)),
                       "versions of %s" % agg)
    for name, row in state.users.items():
        tc.assertEqual(int(row[6]), len(per_agg[row[1]]), name)
    for sid, row in state.sessions.items():
        tc.assertEqual(int(row[2]), len(per_agg[sid]), sid)
    logins = sum(1 for op in cmds if op.kind == "login")
    tc.assertEqual(len(state.sessions), logins)

    # (d) projections: wait for the relay and the projector, then compare
    # with PostgreSQL, replay, compare again.
    gau.poll(lambda: all(e[4] == "t" for e in (lambda s: s.acc_events +
                                                s.auth_events)(State(load))),
             projection_timeout, 0.5, "every event published")
    want = expected_projection(state)
    keys = sorted(want)

    def matches():
        got = redis_hashes(keys)
        bad = [k for k in keys if got[k] != want[k]]
        return (got, bad) if not bad else None

    try:
        got, _ = gau.poll(matches, projection_timeout, 0.5,
                          "projections equal to PostgreSQL")
    except AssertionError:
        got = redis_hashes(keys)
        bad = [(k, want[k], got[k]) for k in keys if got[k] != want[k]]
        tc.fail("%d of %d projections differ from PostgreSQL, e.g. %r"
                % (len(bad), len(keys), bad[:3]))
    for svc in ("account", "authorization"):
        p = gau.gauctl("replay", svc, timeout=300)
        tc.assertEqual(p.returncode, 0, "gauctl replay %s: %s %s"
                       % (svc, p.stdout, p.stderr))
    after = redis_hashes(keys)
    diff = [(k, got[k], after[k]) for k in keys if got[k] != after[k]]
    tc.assertEqual(diff[:3], [], "%d projections changed by replay"
                   % len(diff))
    return {"commands": n_cmds, "failed": len(failed),
            "failed_applied": pre["applied"],
            "failed_absent": pre["absent"], "users": len(state.users),
            "sessions": len(state.sessions), "events": n_events}


def expected_projection(state):
    want = {}
    for name, r in state.users.items():
        h = {"user_id": r[1], "username": name, "email": r[2],
             "fullname": r[3], "version": r[6], "created_at": r[7],
             "updated_at": r[8]}
        if r[4]:
            h["gender"] = r[4]
        if r[5]:
            h["date_of_birth"] = r[5]
        want["gau:account:user:" + r[1]] = h
    for sid, r in state.sessions.items():
        want["gau:authorization:session:" + sid] = {
            "session_id": sid, "user_id": r[1], "status": r[3],
            "version": r[2]}
    return want


def check_reads(tc, load, bound_s=READ_BOUND_S):
    """Reads answer the truth or 503, and always answer: never 404 for an
    existing user, never a profile older than the PATCH reply before it,
    never a timeout or a dropped connection, and each within bound_s (the
    edge gives Redis 200 ms to connect and 500 ms per command, so a read
    that waits longer is not bounded by those timeouts)."""
    bad = []
    slow = []
    n = 0
    longest = 0.0
    for u in load.users:
        last = None
        for op in u.ops:
            if op.kind == "patch" and op.ok:
                last = op
            if op.kind != "read":
                continue
            n += 1
            longest = max(longest, op.elapsed)
            if op.elapsed > bound_s:
                slow.append((op.user.name, op.outcome(),
                             round(op.elapsed, 2)))
            if op.status is None:
                bad.append((op.user.name, "no answer", op.error,
                            round(op.elapsed, 2)))
                continue
            if op.status == 503:
                continue
            if op.status != 200:
                bad.append((op.user.name, op.status, op.reply))
                continue
            if last is not None and op.reply.get("fullname") != \
                    last.body["fullname"]:
                bad.append((op.user.name, "stale", op.reply.get("fullname"),
                            last.body["fullname"]))
    log("reads: %d, the longest %.2f s" % (n, longest))
    tc.assertGreater(n, 0, "the load made no reads")
    tc.assertEqual(bad[:5], [], "%d wrong or unanswered reads" % len(bad))
    tc.assertEqual(slow[:5], [], "%d reads took longer than %.1f s"
                   % (len(slow), bound_s))


def run_case(tc, load, faults, label):
    """Runs faults, a list of (fraction of the load's commands, fn), each
    when that share of the commands has been answered; joins the load and
    runs the checker. Returns the checker's counts."""
    total = len(load.users) * load.commands_per_user()
    notes = []
    for frac, fn in faults:
        load.wait_sent(int(total * frac))
        t = time.monotonic()
        what = fn()
        notes.append("%s at %d (%.1f s)" % (what or fn.__name__, load.sent,
                                            time.monotonic() - t))
    load.join(tc)
    counts = check(tc, load)
    log("%s: %s" % (label, load.summary()))
    log("%s: faults %s" % (label, "; ".join(notes)))
    log("%s: checker %r" % (label, counts))
    return counts


def fault_kill(service, word):
    """A fault: kill -9 of one child (actor, relay, projector)."""
    def fn():
        pid = child(service, word)
        kill9(pid)
        return "kill -9 %s.%s %d" % (service, word, pid)
    fn.__name__ = "kill_%s_%s" % (service, word)
    return fn


def fault_kill_edge():
    """A fault: kill -9 of the edge, which nothing supervises; the test
    starts it again."""
    pid = kill_edge()
    t = time.monotonic()
    system_start()
    return "kill -9 edge %d, restarted in %.1f s" % (
        pid, time.monotonic() - t)


def wait_supervised():
    for svc in ("account", "authorization"):
        wait_children(svc)


def fault_server_restart(name, down_s=2.0, between=None):
    """A fault: stop one server of the test stack, keep it down for
    down_s (calling between() meanwhile), start it again."""
    def fn():
        t = time.monotonic()
        server_down(name)
        t_down = time.monotonic() - t
        if between:
            between()
        time.sleep(down_s)
        t = time.monotonic()
        server_up()
        return "%s stopped in %.1f s, down %.1f s, up in %.1f s" % (
            name, t_down, down_s, time.monotonic() - t)
    fn.__name__ = "restart_" + name
    return fn


def flush_redis():
    r = Redis()
    try:
        r.pipeline([("FLUSHALL",)])
    finally:
        r.close()
    return "FLUSHALL"


# The COMMIT of the transaction that claims command id :cid sleeps 2 s,
# once (a sequence is not rolled back), so that a test can terminate the
# backend while the COMMIT is in flight.
SLOW_COMMIT_SQL = """
DROP TRIGGER IF EXISTS rel_slow_commit ON processed_commands;
DROP FUNCTION IF EXISTS rel_slow_commit();
DROP SEQUENCE IF EXISTS rel_slow_commit_seq;
CREATE SEQUENCE rel_slow_commit_seq;
CREATE FUNCTION rel_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('rel_slow_commit_seq') = 1 THEN
        PERFORM pg_sleep(2);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER rel_slow_commit AFTER INSERT
    ON processed_commands DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.command_id = '%s') EXECUTE FUNCTION rel_slow_commit();
"""

DROP_SLOW_COMMIT_SQL = """
DROP TRIGGER IF EXISTS rel_slow_commit ON processed_commands;
DROP FUNCTION IF EXISTS rel_slow_commit();
DROP SEQUENCE IF EXISTS rel_slow_commit_seq;
"""


def commit_terminated(tc):
    """Registers one user whose COMMIT hangs; terminates that backend
    during the COMMIT. Asserts: applied exactly once, by a new
    transaction (the idempotency record was written after the kill, so
    nothing resent the COMMIT), and the client's retry with the same
    Idempotency-Key gets the same user. Returns a note for the log."""
    name = gau.unique("t")
    key = "commit-" + name
    cid = gau.idem_command_id(None, "POST", P_REGISTER, key)
    url = pg_url("account")
    psql_many(url, SLOW_COMMIT_SQL % cid)
    tc.addCleanup(psql_many, url, DROP_SLOW_COMMIT_SQL)
    user = User(name, 0)
    op = Op("register", user, "POST", P_REGISTER,
            {"username": name, "password": gau.PASSWORD}, key=key)
    log_path = os.path.join(gau.env("GAU_STACK_DIR"), "log",
                            "gau-worker-account.log")
    log_from = os.path.getsize(log_path) if os.path.exists(log_path) else 0

    def run():
        op.t0 = time.monotonic()
        conn, op.status, body, op.error = send(None, op)
        op.elapsed = time.monotonic() - op.t0
        if conn is not None:
            conn.close()
        op.reply = json.loads(body) if body else None
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def in_commit():
        rows = psql_many(url, (
            "SELECT pid, query FROM pg_stat_activity WHERE "
            "datname = current_database() AND wait_event = 'PgSleep' "
            "AND pid <> pg_backend_pid();"))
        return rows
    rows = gau.poll(in_commit, 20, 0.05, "a backend sleeping in COMMIT")
    tc.assertEqual(len(rows), 1, rows)
    tc.assertEqual(rows[0][1].strip().upper(), "COMMIT", rows)
    killed_at = psql_many(url, (
        "SELECT pg_terminate_backend(%d), "
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint;"
        % int(rows[0][0])))
    tc.assertEqual(killed_at[0][0], "t", killed_at)
    t.join(HTTP_TIMEOUT_S + 5)
    tc.assertFalse(t.is_alive(), "the register request hangs")
    tc.assertLessEqual(op.elapsed, RPC_TIMEOUT_S + 1.0, op.outcome())
    tc.assertIn(op.status, (201, 503, 504), (op.status, op.reply))

    # Exactly once, and the record is younger than the kill: a fresh
    # transaction applied it after the terminated one rolled back.
    def applied():
        rows = psql_many(url, (
            "SELECT (extract(epoch FROM created_at) * 1000)::bigint "
            "FROM processed_commands WHERE command_id = '%s';" % cid))
        return rows
    rec = gau.poll(applied, 30, 0.1, "the command applied")
    tc.assertEqual(len(rec), 1)
    tc.assertGreaterEqual(int(rec[0][0]), int(killed_at[0][1]) - 5,
                          "the idempotency record predates the kill")
    users = psql_many(url, "SELECT id FROM users WHERE username = '%s';"
                      % name)
    tc.assertEqual(len(users), 1, users)
    evs = psql_many(url, "SELECT count(*) FROM events WHERE "
                    "aggregate_id = '%s' AND causation_id = '%s';"
                    % (users[0][0], cid))
    tc.assertEqual(evs, [["1"]])
    if op.status == 201:
        tc.assertEqual(op.reply["user_id"], users[0][0])
    _retry(op, 30)
    tc.assertEqual(op.retry_status, 201, op.retry_reply)
    tc.assertEqual(op.retry_reply["user_id"], users[0][0])
    tc.assertEqual(psql_many(url, "SELECT count(*) FROM events WHERE "
                             "aggregate_id = '%s';" % users[0][0]), [["1"]])
    # How the worker retried: it saw the connection die in COMMIT and ran
    # the command again from BEGIN on a new connection.
    with open(log_path, errors="replace") as f:
        f.seek(log_from)
        lines = [ln.strip() for ln in f if "postgresql" in ln]
    tc.assertTrue(any("connection lost" in ln or "terminat" in ln
                      for ln in lines), lines[-5:])
    return "register %s: first answer %r after %.2f s, retry %r; worker " \
        "log: %s" % (name, op.status, op.elapsed, op.retry_status,
                     " / ".join(ln.split(" ", 5)[-1] for ln in lines[-3:]))
