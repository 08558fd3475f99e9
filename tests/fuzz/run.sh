#!/usr/bin/env bash
# run.sh BUILD_DIR [NAME...] - make fuzz: runs each libFuzzer harness
# BUILD_DIR/bin/fuzz_<name> (all of them unless names are given) for
# FUZZ_SECONDS (default 60) seconds.
#
# Seeds: tests/fuzz/corpus/<name> and tests/fuzz/regressions/<name>, both
# only read; what the fuzzer finds goes to the scratch corpus
# BUILD_DIR/work/<name>/corpus, which is kept between runs so that each
# run starts where the last one stopped. A crash, leak, timeout or
# out-of-memory fails the run: the input is copied to
# tests/fuzz/regressions/<name>/, where make test replays it from then on.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${1:?usage: tests/fuzz/run.sh BUILD_DIR [NAME...]}
shift
SECONDS_EACH=${FUZZ_SECONDS:-60}
cd "$ROOT"

# The longest input worth trying, per harness: an envelope or a request
# body of a few KiB reaches every branch (the size limits themselves are
# checked before any parsing); a token up to GAU_JWT_MAX plus the mode
# byte.
max_len() {
    case "$1" in
    jwt) echo 4200 ;;
    *) echo 8192 ;;
    esac
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for bin in "$BUILD_DIR"/bin/fuzz_*; do
        [ -x "$bin" ] && names+=("${bin##*/fuzz_}")
    done
fi
if [ ${#names[@]} -eq 0 ]; then
    echo "fuzz: no harness in $BUILD_DIR/bin" >&2
    exit 1
fi
stats='^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)'

failed=0
for name in "${names[@]}"; do
    bin="$BUILD_DIR/bin/fuzz_$name"
    work="$BUILD_DIR/work/$name"
    seeds=()
    for d in "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name"; do
        [ -d "$d" ] && seeds+=("$d")
    done
    dict=()
    [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    mkdir -p "$work/corpus" "$work/artifacts"
    rm -f "$work"/artifacts/*
    echo "== fuzz_$name for ${SECONDS_EACH}s (log: $work/fuzz.log)"
    status=0
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$bin" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$name")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$work/artifacts/" "$work/corpus" "${seeds[@]}" \
        >"$work/fuzz.log" 2>&1 || status=$?
    # The last status line: executions, coverage, features, corpus.
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' \
        "$work/fuzz.log" | tail -n 1 || true
    grep -E "$stats" "$work/fuzz.log" || true
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "FAIL: fuzz_$name exited with status $status"
        grep -E 'ERROR|SUMMARY|property broken|runtime error' \
            "$work/fuzz.log" | head -n 20 || true
        mkdir -p "tests/fuzz/regressions/$name"
        for f in "$work"/artifacts/*; do
            [ -f "$f" ] || continue
            cp "$f" "tests/fuzz/regressions/$name/"
            echo "crashing input: $f"
            echo "  saved as tests/fuzz/regressions/$name/$(basename "$f")"
            echo "  fix the bug, then commit it: make test replays it"
        done
    fi
done

if [ "$failed" -gt 0 ]; then
    echo "fuzz: $failed harness(es) failed"
    exit 1
fi
echo "fuzz: every harness ran ${SECONDS_EACH}s without a failure"
