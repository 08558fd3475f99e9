#!/usr/bin/env bash
# test.sh [unit|reliability] - make test: every test of gau, ending in one
# line "N passed, M failed".
#
# 1. every $BUILD/tests/test_* (cmocka) binary, then every fuzz harness
#    $BUILD/tests/fuzz_* over tests/fuzz/corpus and tests/fuzz/regressions;
# 2. unless "unit": the test stack (tools/stack/stack.sh up test), the
#    workers and the edge (tools/stack/system.sh start test), then
#    tests/integration/test_*.py and the fast reliability cases,
#    tests/reliability/test_fast_*.py, with the stack's environment plus
#    GAU_TEST_BASE_URL, GAU_BUILD and GAU_STACK_DIR; then everything is
#    stopped again, whatever happened;
#    "reliability" (make reliability) skips the unit tests and runs every
#    tests/reliability/test_*.py the same way instead, with a cheap
#    password hash (GAU_ARGON2_M_KIB 1024, T 1) so that thousands of
#    registrations fit the run; GAU_TEST_PATTERN narrows it to some files;
# 3. any AddressSanitizer or UndefinedBehaviorSanitizer report written to
#    var/test/san/ by any of the C programs is a failure and is printed.
#
# BUILD (default build/san) names the build folder; GAU_TEST_TIMEOUT caps
# the integration run (seconds, default 900).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK="$ROOT/tools/stack"
export BUILD=${BUILD:-build/san}
case "$BUILD" in /*) BUILD_DIR=$BUILD ;; *) BUILD_DIR="$ROOT/$BUILD" ;; esac
MODE=${1:-all}
T0=$SECONDS
PASSED=0
FAILED=0
SKIPPED=0
STACK_UP=0
cd "$ROOT" || exit 1

case "$MODE" in all | unit | reliability) ;; *)
    echo "usage: tools/test.sh [unit|reliability]" >&2
    exit 2
    ;;
esac

"$STACK/stack.sh" prepare test || exit 1
VAR=$(readlink -f "$ROOT/var/test")
# One test run per tree: the lock is held on fd 8 for the whole run and
# is not passed on to the programs started (8>&- below), which would
# otherwise keep it after the run. stack.sh down test refuses to stop the
# servers of a run holding it, unless it is this run's own teardown.
exec 8>"$VAR/test.lock"
if ! flock -n 8; then
    echo "test: another test run is using var/test; try again later" >&2
    exit 1
fi
export GAU_TEST_LOCK_HELD=1
SAN="$VAR/san"
LOGDIR="$VAR/log"
rm -f "$SAN"/asan.* "$SAN"/ubsan.*
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$SAN/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SAN/ubsan"

teardown() {
    [ "$STACK_UP" = 1 ] || return 0
    STACK_UP=0
    "$STACK/system.sh" stop test 8>&- || true
    "$STACK/stack.sh" down test 8>&- || true
}
trap teardown EXIT
trap 'echo "test: interrupted" >&2; exit 130' INT TERM

fail() {
    echo "FAIL: $*"
    FAILED=$((FAILED + 1))
}

# Adds the counts cmocka printed; a binary that crashed or failed
# without saying how many counts as one failure.
count_cmocka() {
    local log=$1 status=$2 p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]\{1,\}\) test.*/\1/p' "$log" |
        awk '{ n += $1 } END { print n + 0 }')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]\{1,\}\) test.*/\1/p' "$log" |
        awk '{ n += $1 } END { print n + 0 }')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$(basename "$log" .log) exited with status $status"
    fi
}

run_unit() {
    local t name log status n=0
    echo "== unit tests ($BUILD/tests)"
    for t in "$BUILD_DIR"/tests/test_*; do
        [ -x "$t" ] || continue
        n=$((n + 1))
        name=$(basename "$t")
        log="$LOGDIR/unit-$name.log"
        "$t" >"$log" 2>&1 8>&-
        status=$?
        cat "$log"
        count_cmocka "$log" "$status"
    done
    [ "$n" -gt 0 ] || echo "(no unit test binaries in $BUILD/tests)"
}

# Replays the committed fuzz corpus and regression inputs through each
# fuzz harness linked with tests/fuzz/replay_main.c ($BUILD/tests/fuzz_*):
# one test per harness.
run_fuzz_regressions() {
    local t name log status dirs d
    echo "== fuzz regressions (tests/fuzz/corpus, tests/fuzz/regressions)"
    for t in "$BUILD_DIR"/tests/fuzz_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        log="$LOGDIR/unit-$name.log"
        dirs=()
        for d in corpus regressions; do
            [ -d "tests/fuzz/$d/${name#fuzz_}" ] &&
                dirs+=("tests/fuzz/$d/${name#fuzz_}")
        done
        if [ ${#dirs[@]} -eq 0 ]; then
            fail "$name: no tests/fuzz/corpus/${name#fuzz_}"
            continue
        fi
        "$t" "${dirs[@]}" >"$log" 2>&1 8>&-
        status=$?
        echo "$name: $(tail -n 1 "$log")"
        if [ "$status" -eq 0 ]; then
            PASSED=$((PASSED + 1))
        else
            tail -n 20 "$log"
            fail "$name exited with status $status"
        fi
    done
}

# Adds the counts of a unittest run: "Ran N tests" and the last line,
# "OK", "OK (skipped=1)" or "FAILED (failures=1, errors=2)".
count_unittest() {
    local log=$1 status=$2 ran last f e s u
    ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1)
    last=$(grep -E '^(OK|FAILED)( \(.*\))?$' "$log" | tail -n 1)
    f=$(echo "$last" | sed -n 's/.*failures=\([0-9]*\).*/\1/p')
    e=$(echo "$last" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
    s=$(echo "$last" | sed -n 's/.*skipped=\([0-9]*\).*/\1/p')
    u=$(echo "$last" | sed -n 's/.*unexpected successes=\([0-9]*\).*/\1/p')
    f=$((${f:-0} + ${e:-0} + ${u:-0}))
    s=${s:-0}
    if [ -z "$ran" ]; then
        fail "$(basename "$log" .log) did not run to the end" \
            "(status $status)"
        return
    fi
    # A test failing both in its body and in tearDown counts twice.
    if [ $((ran - f - s)) -gt 0 ]; then
        PASSED=$((PASSED + ran - f - s))
    fi
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$(basename "$log" .log) exited with status $status"
    fi
}

start_system() {
    STACK_UP=1
    if ! "$STACK/stack.sh" up test 8>&-; then
        fail "the test stack did not start"
        return 1
    fi
    if ! "$STACK/system.sh" start test 8>&-; then
        fail "the edge and workers did not start"
        return 1
    fi
}

# run_python <folder> <pattern> <log name>: one unittest discovery.
run_python() {
    local dir=$1 pattern=$2 log="$LOGDIR/$3.log" status
    echo "== $3 tests ($dir/$pattern)"
    if ! compgen -G "$dir/$pattern" >/dev/null; then
        echo "(no tests matching $dir/$pattern)"
        return
    fi
    (
        eval "$("$STACK/stack.sh" env test)"
        export GAU_TEST_BASE_URL="http://127.0.0.1:$GAU_HTTP_PORT"
        export GAU_BUILD="$BUILD_DIR"
        exec timeout "${GAU_TEST_TIMEOUT:-900}" /usr/bin/python3 -m unittest \
            discover -s "$dir" -t "$dir" -p "$pattern" -v
    ) 2>&1 8>&- | tee "$log"
    status=${PIPESTATUS[0]}
    count_unittest "$log" "$status"
}

run_integration() {
    start_system || return
    run_python tests/integration 'test_*.py' integration
    run_python tests/reliability 'test_fast_*.py' reliability-fast
}

run_reliability() {
    export GAU_ARGON2_M_KIB=${GAU_ARGON2_M_KIB:-1024}
    export GAU_ARGON2_T=${GAU_ARGON2_T:-1}
    export GAU_TEST_TIMEOUT=${GAU_TEST_TIMEOUT:-1500}
    start_system || return
    run_python tests/reliability "${GAU_TEST_PATTERN:-test_*.py}" \
        reliability
}

check_sanitizers() {
    local f n=0
    for f in "$SAN"/asan.* "$SAN"/ubsan.*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        echo "== sanitizer report $f"
        cat "$f"
    done
    if [ "$n" -gt 0 ]; then
        fail "$n sanitizer report(s) in $SAN"
    fi
}

if [ "$MODE" != reliability ]; then
    run_unit
    run_fuzz_regressions
fi
if [ "$MODE" = all ]; then
    run_integration
    teardown
elif [ "$MODE" = reliability ]; then
    run_reliability
    teardown
fi
check_sanitizers

echo "elapsed: $((SECONDS - T0))s"
if [ "$SKIPPED" -gt 0 ]; then
    echo "($SKIPPED skipped)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
