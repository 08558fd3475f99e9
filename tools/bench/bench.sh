#!/usr/bin/env bash
# bench.sh - make bench: every figure of the performance table, each next
# to a reference measured in the same run, on the same machine, with the
# same client and concurrency.
#
# Starts the bench stack (tools/stack/stack.sh, ports 27672/27432/27379,
# HTTP 28080, data under var/bench) and the system on $BUILD (default
# build/release), loads it, prints one Markdown table and writes
# tools/bench/results.json; stops everything it started at the end.
#
# Every figure is the median of BENCH_REPS (3) repetitions; a timed
# repetition runs BENCH_SECS (5) seconds. Knobs: BENCH_USERS (32),
# BENCH_BUS_N (3000 commands), BENCH_EVENTS (1000000), BENCH_CONNS
# (10000). Everything talks to 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/bench"
STACKSH="$ROOT/tools/stack/stack.sh"
SYSTEMSH="$ROOT/tools/stack/system.sh"
export BUILD=${BUILD:-build/release}
case "$BUILD" in /*) BIN="$BUILD/bin" ;; *) BIN="$ROOT/$BUILD/bin" ;; esac
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECS:-5}
NUSERS=${BENCH_USERS:-32}
BUS_N=${BENCH_BUS_N:-3000}
EVENTS=${BENCH_EVENTS:-1000000}
CONNS=${BENCH_CONNS:-10000}
CONC=64
THREADS=2
NGINX_PORT=28081
cd "$ROOT"

say() {
    echo "bench: $*" >&2
}

die() {
    echo "bench: $*" >&2
    exit 1
}

for tool in wrk nginx pgbench redis-benchmark curl; do
    command -v "$tool" >/dev/null || die "$tool is missing (make bench" \
        "installs tools/stack/packages-bench.txt)"
done
for b in gau-edge gau-worker gauctl busbench eventgen idleconns; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is not built (make bench builds it)"
done

# The edge and the idle-connection tool each hold 10,000 sockets.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((CONNS + 500)) ] ||
    die "the fd limit ($(ulimit -n)) is too low for $CONNS connections"

NGINX_PID=""
cleanup() {
    set +e
    if [ -n "$NGINX_PID" ] && [ -f "$NGINX_PID" ]; then
        kill -QUIT "$(cat "$NGINX_PID")" 2>/dev/null
        sleep 0.5
    fi
    "$SYSTEMSH" stop bench
    "$STACKSH" down bench
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$STACKSH" up bench
eval "$("$STACKSH" env bench)"
VAR=$GAU_STACK_DIR
RUN="$VAR/run"
RES="$VAR/results"
rm -rf "$RUN" "$RES"
mkdir -p "$RUN" "$RES"
BASE="http://127.0.0.1:$GAU_HTTP_PORT"
PGURL_PORT=$(echo "$GAU_PG_URL_ACCOUNT" | sed 's/.*:\([0-9]*\)\/.*/\1/')
PGARGS=(-h 127.0.0.1 -p "$PGURL_PORT" -U gau)
REDIS_PORT=$(echo "$GAU_REDIS_URL" | sed 's/.*:\([0-9]*\)\/.*/\1/')

psql_q() {
    psql -X -q -t -A "${PGARGS[@]}" -d gau_account -c "$1"
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# Appends one repetition's value of a figure.
record() {
    echo "$3" >>"$RES/$1.$2"
}

system_start() {
    "$SYSTEMSH" start bench >&2
}

system_stop() {
    "$SYSTEMSH" stop bench >&2
}

# wrk's latency in ms from "99%  1.23ms" style output.
wrk_p99_ms() {
    awk '$1 == "99%" {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000
        print v }' "$1"
}

wrk_rps() {
    awk '/^Requests\/sec:/ { print $2 }' "$1"
}

# Refuses a run where wrk saw errors or non-2xx answers: its rate would
# count failures as work.
wrk_check() {
    local f=$1 what=$2
    if grep -q "Non-2xx\|Socket errors" "$f"; then
        say "$what: wrk reported errors:"
        cat "$f" >&2
        die "$what did not run cleanly"
    fi
}

run_wrk() {
    local out=$1
    shift
    wrk -t "$THREADS" -c "$CONC" -d "${SECS}s" --latency "$@" >"$out" 2>&1
}

# --- the system and its users ---------------------------------------------

export GAU_PROJECT_INLINE=1
# The edge logs one line per request: a run writes millions. Start each
# run with empty logs of the gau processes instead of keeping them all.
for f in "$VAR"/log/gau-*.log; do
    [ -e "$f" ] && : >"$f"
done
system_start
say "registering $NUSERS users"
"$HERE/users.py" "$BASE" "$NUSERS" "b$(date +%s)u" "$RUN"
TOKEN=$(head -n 1 "$RUN/tokens.txt")
export BENCH_TOKENS="$RUN/tokens.txt" BENCH_LOGIN="$RUN/login.json"

# --- read path ------------------------------------------------------------

say "read path: GET /api/v2/account/profile vs nginx, $CONC connections"
mkdir -p "$VAR/nginx/www/api/v2/account" "$VAR/nginx/tmp"
curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v2/account/profile" \
    -o "$VAR/nginx/www/api/v2/account/profile"
chmod -R a+rX "$VAR/nginx/www"
NGINX_PID="$VAR/nginx/nginx.pid"
# As many workers as the edge has threads (GAU_HTTP_THREADS, 3), no access
# log (the edge does write one line per request), keep-alive without a
# request limit (the edge has none).
cat >"$VAR/nginx/nginx.conf" <<EOF
worker_processes ${GAU_HTTP_THREADS:-3};
pid $NGINX_PID;
error_log $VAR/log/nginx.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $VAR/nginx/tmp/body;
    proxy_temp_path $VAR/nginx/tmp/proxy;
    fastcgi_temp_path $VAR/nginx/tmp/fastcgi;
    uwsgi_temp_path $VAR/nginx/tmp/uwsgi;
    scgi_temp_path $VAR/nginx/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $VAR/nginx/www;
        default_type application/json;
    }
}
EOF
nginx -q -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" -g 'daemon on;'
curl -sf "http://127.0.0.1:$NGINX_PORT/api/v2/account/profile" |
    cmp -s - "$VAR/nginx/www/api/v2/account/profile" ||
    die "nginx does not serve the profile bytes"
for ((i = 1; i <= REPS; i++)); do
    run_wrk "$RUN/read.$i" -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v2/account/profile"
    wrk_check "$RUN/read.$i" "read path"
    record read ours "$(wrk_rps "$RUN/read.$i")"
    record read_p99 ours "$(wrk_p99_ms "$RUN/read.$i")"
    run_wrk "$RUN/nginx.$i" "http://127.0.0.1:$NGINX_PORT/api/v2/account/profile"
    wrk_check "$RUN/nginx.$i" "nginx"
    record read ref "$(wrk_rps "$RUN/nginx.$i")"
    record read_p99 ref "$(wrk_p99_ms "$RUN/nginx.$i")"
done
kill -QUIT "$(cat "$NGINX_PID")"
NGINX_PID=""

# --- write path -----------------------------------------------------------

say "write path: PATCH /api/v2/account/profile vs pgbench, $CONC clients"
write_ours() {
    run_wrk "$RUN/write.$1" -s "$HERE/patch.lua" "$BASE/api/v2/account/profile"
    wrk_check "$RUN/write.$1" "write path"
    record write ours "$(wrk_rps "$RUN/write.$1")"
    record write_p99 ours "$(wrk_p99_ms "$RUN/write.$1")"
}

# The first repetition of our side also writes the rows the reference
# copies its bodies from; after it, the two sides alternate, so a drift
# of the shared machine falls on both.
write_ours 1

# The reference runs the worker's profile_update transaction statement by
# statement (actors/runtime/tx.c, actors/account/account.c), on the real
# tables and the bench's own users, one script per user so that no lookup
# is added: pgbench picks a script at random for every transaction. The
# event and reply bodies are copies of ones the worker just wrote, so the
# rows have the same size. The events are inserted as already published:
# the relay then has nothing to send, which spares the reference the
# publishing our side pays for. -M extended sends every statement with
# parameters, as the worker's PQexecParams does.
EV_HEX=$(psql_q "SELECT encode(body, 'hex') FROM events WHERE type =
    'account.profile_updated' ORDER BY seq DESC LIMIT 1")
RE_HEX=$(psql_q "SELECT encode(reply, 'hex') FROM processed_commands WHERE
    type = 'account.profile_update' ORDER BY created_at DESC LIMIT 1")
HASH_HEX=$(printf 'bench' | sha256sum | cut -c1-64)
COLS="id, username, email, fullname, to_char(date_of_birth, 'YYYY-MM-DD'),"
COLS="$COLS gender, round(extract(epoch from created_at) * 1000)::bigint,"
COLS="$COLS round(extract(epoch from updated_at) * 1000)::bigint, version"
pgb_args=()
n=0
while read -r uid _sid; do
    f="$RUN/pgbench.$n.sql"
    cat >"$f" <<EOF
\set r random(1, 9000000000000000000)
BEGIN;
INSERT INTO processed_commands (command_id, type, request_hash, reply) VALUES ('pgb-' || :client_id || '-' || :r, 'account.profile_update', '\\x$HASH_HEX'::bytea, ''::bytea) ON CONFLICT (command_id) DO NOTHING;
SELECT $COLS FROM users WHERE id = '$uid'::uuid FOR UPDATE;
UPDATE users SET fullname = 'pgbench ' || :r, date_of_birth = NULL::date, gender = NULL, version = version + 1, updated_at = now() WHERE id = '$uid'::uuid RETURNING id AS c0, username AS c1, email AS c2, fullname AS c3, to_char(date_of_birth, 'YYYY-MM-DD') AS c4, gender AS c5, round(extract(epoch from created_at) * 1000)::bigint AS c6, round(extract(epoch from updated_at) * 1000)::bigint AS c7, version AS ver \gset
INSERT INTO events (event_id, aggregate_id, aggregate_version, type, schema_version, body, correlation_id, causation_id, occurred_at, published_at) VALUES (gen_random_uuid(), '$uid'::uuid, :ver, 'account.profile_updated', 1, '\\x$EV_HEX'::bytea, 'pgbench', 'pgbench', now(), now());
UPDATE processed_commands SET reply = '\\x$RE_HEX'::bytea, sealed = false WHERE command_id = 'pgb-' || :client_id || '-' || :r;
SELECT pg_notify('gau_outbox', '');
COMMIT;
EOF
    pgb_args+=(-f "$f@1")
    n=$((n + 1))
done <"$RUN/users.txt"
for ((i = 1; i <= REPS; i++)); do
    [ "$i" -gt 1 ] && write_ours "$i"
    pgbench -n -M extended -c "$CONC" -j "$THREADS" -T "$SECS" \
        "${PGARGS[@]}" "${pgb_args[@]}" gau_account >"$RUN/pgbench.$i" 2>&1 ||
        { tail -n 20 "$RUN/pgbench.$i" >&2; die "pgbench failed"; }
    grep -q "number of failed transactions: 0" "$RUN/pgbench.$i" ||
        { tail -n 20 "$RUN/pgbench.$i" >&2; die "pgbench had failures"; }
    record write ref "$(awk '/^tps = / { print $3 }' "$RUN/pgbench.$i")"
done

# --- bus ------------------------------------------------------------------

ACTORS=${GAU_ACTORS:-4}
PREFETCH=${GAU_PREFETCH:-1}
say "bus: $BUS_N commands straight to AMQP vs a raw loop" \
    "($ACTORS consumers, prefetch $PREFETCH)"
for ((i = 1; i <= REPS; i++)); do
    "$BIN/busbench" pool "$BUS_N" "$RUN/users.txt" >"$RUN/bus.$i"
    record bus ours "$(sed 's/.* rate=\([0-9.]*\).*/\1/' "$RUN/bus.$i")"
    "$BIN/busbench" raw "$BUS_N" "$ACTORS" "$PREFETCH" "$RUN/users.txt" \
        >"$RUN/raw.$i"
    record bus ref "$(sed 's/.* rate=\([0-9.]*\).*/\1/' "$RUN/raw.$i")"
    # What the database allows the pool: the write path's transaction
    # with as many clients as the pool has actors.
    pgbench -n -M extended -c "$ACTORS" -j "$ACTORS" -T "$SECS" \
        "${PGARGS[@]}" "${pgb_args[@]}" gau_account >"$RUN/pgbench2.$i" 2>&1 ||
        { tail -n 20 "$RUN/pgbench2.$i" >&2; die "pgbench failed"; }
    record bus_db ours "$(sed 's/.* rate=\([0-9.]*\).*/\1/' "$RUN/bus.$i")"
    record bus_db ref "$(awk '/^tps = / { print $3 }' "$RUN/pgbench2.$i")"
done

# --- sign-in --------------------------------------------------------------

say "sign-in: POST /api/v2/account/login"
for ((i = 1; i <= REPS; i++)); do
    wrk -t "$THREADS" -c 16 -d "${SECS}s" --latency -s "$HERE/login.lua" \
        "$BASE/api/v2/account/login" >"$RUN/login.$i" 2>&1
    wrk_check "$RUN/login.$i" "sign-in"
    record signin ours "$(awk -v c="$(nproc)" '/^Requests\/sec:/ {
        printf "%.2f\n", $2 / c }' "$RUN/login.$i")"
done

# --- projection lag -------------------------------------------------------

# Without the inline projection the event reaches Redis only through the
# outbox relay, gau.events and the projector: the path under test.
WRITE_RATE=$(median <"$RES/write.ours")
LAG_RATE=$(awk -v r="$WRITE_RATE" 'BEGIN { printf "%.0f", r / 2 }')
say "projection lag at $LAG_RATE commands/s (half the write path's peak)"
system_stop
GAU_PROJECT_INLINE=0 system_start
for ((i = 1; i <= REPS; i++)); do
    "$BIN/busbench" lag "$LAG_RATE" "$SECS" "$RUN/users.txt" >"$RUN/lag.$i" ||
        { cat "$RUN/lag.$i" >&2; die "projection lag run failed"; }
    record lag_p50 ours "$(sed 's/.* p50_ms=\([0-9]*\).*/\1/' "$RUN/lag.$i")"
    record lag_p99 ours "$(sed 's/.* p99_ms=\([0-9]*\).*/\1/' "$RUN/lag.$i")"
done
system_stop
system_start

# --- memory ---------------------------------------------------------------

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

EDGE=$(head -n 1 "$VAR/pids/gau-edge.pid")
record edge_mem_idle ours "$(rss_kib "$EDGE" |
    awk '{ printf "%.1f\n", $1 / 1024 }')"
say "edge memory: $CONNS idle keep-alive connections"
for ((i = 1; i <= REPS; i++)); do
    "$BIN/idleconns" "$GAU_HTTP_PORT" "$CONNS" "$EDGE" >"$RUN/idle.$i" ||
        { cat "$RUN/idle.$i" >&2; die "not every connection was answered"; }
    record edge_mem ours "$(sed 's/.* rss_kib=\([0-9]*\).*/\1/' \
        "$RUN/idle.$i" | awk '{ printf "%.1f\n", $1 / 1024 }')"
    sleep 1
done

say "worker memory: idle actor and supervisor of gau-worker account"
SUP=$(head -n 1 "$VAR/pids/gau-worker-account.pid")
sleep 2
for ((i = 1; i <= REPS; i++)); do
    actor=""
    for c in $(pgrep -P "$SUP"); do
        if [ "$(cat "/proc/$c/comm")" = account.actor.1 ]; then
            actor=$c
        fi
    done
    [ -n "$actor" ] || die "no account.actor.1 under pid $SUP"
    record actor_mem ours "$(rss_kib "$actor" |
        awk '{ printf "%.1f\n", $1 / 1024 }')"
    record sup_mem ours "$(rss_kib "$SUP" |
        awk '{ printf "%.1f\n", $1 / 1024 }')"
    sleep 1
done

# --- replay ---------------------------------------------------------------

# The projector would start its own rebuild as soon as replay clears the
# ready marker; with the system stopped, replay runs alone.
system_stop
have=$(psql_q "SELECT count(*) FROM events WHERE
    correlation_id = 'bench-replay'")
if [ "$have" -ne "$EVENTS" ]; then
    say "generating $EVENTS events (once; they stay in var/bench)"
    psql_q "DELETE FROM events WHERE correlation_id = 'bench-replay'" \
        >/dev/null
    "$BIN/eventgen" "$EVENTS" $((EVENTS / 10)) >&2
    psql_q "VACUUM ANALYZE events" >/dev/null
fi
say "replay: gauctl replay account vs redis-benchmark -P 16"
for ((i = 1; i <= REPS; i++)); do
    "$BIN/gauctl" replay account >"$RUN/replay.$i" 2>"$RUN/replay.$i.err" ||
        { cat "$RUN/replay.$i" "$RUN/replay.$i.err" >&2; die "replay failed"; }
    record replay ours "$(sed 's/.*(\([0-9]*\) events\/s).*/\1/' \
        "$RUN/replay.$i")"
    # The same number of writes of hashes with the fields a profile has,
    # one connection like replay, pipelined 16 deep, into database 1.
    redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" --dbnum 1 -c 1 -P 16 \
        -n "$EVENTS" -r $((EVENTS / 10)) -q \
        HSET "gau:bench:__rand_int__" user_id \
        "00000000-0000-4000-8000-000000000000" username bench12345 \
        fullname "Replay Bench 1" created_at 1764000000000 \
        updated_at 1764000000001 version 1 >"$RUN/redis.$i" 2>&1
    record replay ref "$(tr '\r' '\n' <"$RUN/redis.$i" |
        grep -o '[0-9.]* requests per second' | tail -n 1 | cut -d' ' -f1)"
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -n 1 flushdb >/dev/null
done

# --- report ---------------------------------------------------------------

/usr/bin/python3 "$HERE/report.py" "$RES" "$HERE/results.json" \
    "$(nproc)" "${GAU_ARGON2_M_KIB:-19456}" "${GAU_ARGON2_T:-2}" \
    "${GAU_ARGON2_P:-1}" "$LAG_RATE" "$SECS" "$REPS" "$EVENTS" "$CONNS" \
    "$ACTORS"
