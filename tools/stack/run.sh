#!/usr/bin/env bash
# run.sh - make run: the whole system on this machine until Ctrl-C.
#
# Starts the run stack (tools/stack/stack.sh), then the workers and the
# edge (tools/stack/system.sh), prints the base URL and waits. On Ctrl-C
# or SIGTERM it stops the edge and the workers, then the servers it
# started itself, and exits 0. The binaries come from $BUILD/bin; the
# Makefile builds them first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tools/stack"
export BUILD=${BUILD:-build/release}
cd "$ROOT"

started=()
stopping=0

stop_all() {
    [ "$stopping" = 1 ] && return 0
    stopping=1
    "$HERE/system.sh" stop run || true
    if [ ${#started[@]} -gt 0 ]; then
        "$HERE/stack.sh" down run "${started[@]}" || true
    fi
}

on_signal() {
    echo >&2
    echo "run: stopping" >&2
    stop_all
    exit 0
}

trap on_signal INT TERM
trap stop_all EXIT

"$HERE/system.sh" check run
"$HERE/stack.sh" up run
mapfile -t started <"$ROOT/var/run/started"
"$HERE/system.sh" start run

eval "$("$HERE/stack.sh" env run)"
echo "gau is up at http://127.0.0.1:$GAU_HTTP_PORT (logs: var/run/log)"

# Waits in short sleeps so a signal is handled at once; a process that
# exits on its own ends the run with an error.
while :; do
    sleep 1 &
    wait $! || true
    if ! "$HERE/system.sh" status run >/dev/null; then
        echo "run: a gau process exited; see var/run/log" >&2
        "$HERE/system.sh" status run >&2 || true
        exit 1
    fi
done
