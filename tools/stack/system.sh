#!/usr/bin/env bash
# system.sh start|stop|status|check <run|test> - the gau processes.
#
#   start   start gau-worker account, gau-worker authorization and gau-edge
#           from $BUILD/bin (default build/release) against the stack's
#           servers (stack.sh up must have run), logs in
#           var/<stack>/log/<name>.log, pids in var/<stack>/pids/<name>.pid
#           (names gau-worker-account, gau-worker-authorization, gau-edge);
#           then
#           wait until GET /readyz answers 200 (GAU_READY_TIMEOUT seconds,
#           default 60). A process that exits meanwhile fails the start.
#   stop    SIGTERM the edge, then the workers; KILL what is left after
#           10 s.
#   status  show which processes run.
#   check   fail unless every binary is built.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/stack"
BUILD=${BUILD:-build/release}
case "$BUILD" in /*) BIN="$BUILD/bin" ;; *) BIN="$ROOT/$BUILD/bin" ;; esac
# Start order; stop goes the other way, so the edge stops taking requests
# before the workers drain.
PROCS="gau-worker-account gau-worker-authorization gau-edge"

die() {
    echo "system: $*" >&2
    exit 1
}

say() {
    echo "system[$STACK]: $*" >&2
}

usage() {
    echo "usage: system.sh start|stop|status|check <run|test|bench>" >&2
    exit 2
}

proc_cmd() {
    case "$1" in
    gau-edge) echo "$BIN/gau-edge" ;;
    gau-worker-*) echo "$BIN/gau-worker ${1#gau-worker-}" ;;
    esac
}

# A process that has exited but is not reaped yet (a daemon's parent is
# init, which may take its time) still answers kill -0.
zombie() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
        "/proc/$1/status" 2>/dev/null || true)
    [ "$state" = Z ]
}

proc_alive() {
    local pid
    pid=$(head -n 1 "$PIDS/$1.pid" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null && ! zombie "$pid"
}

log_tail() {
    local f="$LOGDIR/$1.log"
    [ -s "$f" ] || return 0
    echo "--- last lines of $f" >&2
    tail -n 20 "$f" >&2
}

# Exits the script with a message when a binary is missing, before
# anything has been started.
check_built() {
    local p b
    for p in $PROCS; do
        b=$(proc_cmd "$p")
        b=${b%% *}
        [ -x "$b" ] || die "$b is not built (run make, or set BUILD)"
    done
}

# Credentials and keys: each process is started with its own only, so the
# edge cannot sign tokens or publish as a service, and no worker can
# publish as the edge (whose principal the services trust).
CREDENTIALS="GAU_AMQP_URL GAU_AMQP_URL_EDGE GAU_AMQP_URL_ACCOUNT
    GAU_AMQP_URL_AUTHORIZATION GAU_AMQP_URL_PRODUCER GAU_PG_URL
    GAU_PG_URL_ACCOUNT GAU_PG_URL_AUTHORIZATION GAU_JWT_PRIVATE_KEY_FILE
    GAU_JWT_PUBLIC_KEY_FILES GAU_SEAL_KEY_FILE"

proc_credentials() {
    case "$1" in
    gau-edge) echo "GAU_AMQP_URL_EDGE GAU_JWT_PUBLIC_KEY_FILES" ;;
    gau-worker-account) echo "GAU_AMQP_URL_ACCOUNT GAU_PG_URL_ACCOUNT" ;;
    gau-worker-authorization)
        echo "GAU_AMQP_URL_AUTHORIZATION GAU_PG_URL_AUTHORIZATION" \
            "GAU_JWT_PRIVATE_KEY_FILE GAU_SEAL_KEY_FILE"
        ;;
    esac
}

# Prints the "-u NAME" arguments of env(1) that hide from process $1 every
# credential that is not its own. A process whose own variable is unset
# keeps the shared one (GAU_AMQP_URL, GAU_PG_URL) given from outside.
proc_hidden() {
    local own v
    own=" $(proc_credentials "$1") "
    for v in $own; do
        case "$v" in
        GAU_AMQP_URL_*) [ -n "${!v:-}" ] || own+=" GAU_AMQP_URL " ;;
        GAU_PG_URL_*) [ -n "${!v:-}" ] || own+=" GAU_PG_URL " ;;
        esac
    done
    for v in $CREDENTIALS; do
        case "$own" in *" $v "*) ;; *) printf -- '-u %s ' "$v" ;; esac
    done
}

start_one() {
    local p=$1 cmd hidden
    if proc_alive "$p"; then
        say "$p already runs (pid $(head -n 1 "$PIDS/$p.pid"))"
        return 0
    fi
    read -r -a cmd <<<"$(proc_cmd "$p")"
    # A session of its own, so a Ctrl-C at the terminal reaches only the
    # script, which then stops everything in order with SIGTERM.
    read -r -a hidden <<<"$(proc_hidden "$p")"
    setsid env "${hidden[@]}" "${cmd[@]}" </dev/null \
        >>"$LOGDIR/$p.log" 2>&1 &
    echo $! >"$PIDS/$p.pid"
}

wait_ready() {
    local url="http://127.0.0.1:$GAU_HTTP_PORT/readyz"
    local limit=${GAU_READY_TIMEOUT:-60} t0=$SECONDS p code
    while :; do
        for p in $PROCS; do
            if ! proc_alive "$p"; then
                say "$p exited during start-up"
                log_tail "$p"
                return 1
            fi
        done
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)
        [ "$code" = 200 ] && return 0
        if ((SECONDS - t0 >= limit)); then
            say "$url did not answer 200 within ${limit}s (last: $code)"
            log_tail gau-edge
            return 1
        fi
        sleep 0.2
    done
}

cmd_start() {
    local p
    check_built
    eval "$("$HERE/stack.sh" env "$STACK")"
    # The test stack closes idle and dribbling connections after 5 s
    # instead of 30, so the slow-client tests finish quickly.
    if [ "$STACK" = test ]; then
        export GAU_HTTP_TIMEOUT_S=${GAU_HTTP_TIMEOUT_S:-5}
    fi
    mkdir -p "$PIDS" "$LOGDIR"
    if ! proc_alive gau-edge &&
        (exec 3<>"/dev/tcp/127.0.0.1/$GAU_HTTP_PORT") 2>/dev/null; then
        die "port $GAU_HTTP_PORT is taken by another program"
    fi
    for p in $PROCS; do
        start_one "$p"
    done
    if ! wait_ready; then
        cmd_stop
        die "gau did not become ready (logs: $LOGDIR)"
    fi
}

stop_one() {
    local p=$1 pid i
    if ! proc_alive "$p"; then
        rm -f "$PIDS/$p.pid"
        return 0
    fi
    pid=$(head -n 1 "$PIDS/$p.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        { kill -0 "$pid" 2>/dev/null && ! zombie "$pid"; } || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && ! zombie "$pid"; then
        say "$p (pid $pid) did not stop within 10 s, killing it"
        # The worker's children share its process group.
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null ||
            true
    fi
    rm -f "$PIDS/$p.pid"
}

cmd_stop() {
    local p order=""
    for p in $PROCS; do
        order="$p $order"
    done
    for p in $order; do
        stop_one "$p"
    done
}

cmd_status() {
    local p rc=0
    for p in $PROCS; do
        if proc_alive "$p"; then
            printf '%-26s running (pid %s)\n' "$p" \
                "$(head -n 1 "$PIDS/$p.pid")"
        else
            printf '%-26s stopped\n' "$p"
            rc=1
        fi
    done
    return "$rc"
}

[ $# -eq 2 ] || usage
STACK=$2
case "$STACK" in run | test | bench) ;; *) usage ;; esac
DIR=$(readlink -f "$ROOT/var/$STACK" 2>/dev/null || echo "$ROOT/var/$STACK")
PIDS="$DIR/pids"
LOGDIR="$DIR/log"
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
check) check_built ;;
*) usage ;;
esac
