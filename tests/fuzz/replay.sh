#!/usr/bin/env bash
# tests/fuzz/replay.sh [OUTDIR] — build the fuzz targets in replay mode
# (no libFuzzer; ASan + UBSan) into OUTDIR (default build/fuzz-replay) and
# run each over its committed corpus, tests/fuzz/corpus/<target>/.
#
# Output is one TAP stream: one test per target, with that target's own
# TAP (one line per corpus file) indented under it as a subtest. Exits
# non-zero if any target fails a property, trips a sanitizer or leaks.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-build/fuzz-replay}
targets=(fuzz_request fuzz_jwt fuzz_fingerprint)

if ! log=$(tests/fuzz/build.sh replay "$out" 2>&1); then
    printf '%s\n' "$log" | sed 's/^/# /'
    echo "1..0 # build failed"
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "1..${#targets[@]}"
n=0 failed=0
for t in "${targets[@]}"; do
    n=$((n + 1))
    res=$("$out/$t" "tests/fuzz/corpus/$t" 2>&1)
    rc=$?
    printf '%s\n' "$res" | sed 's/^/    /'
    count=$(printf '%s\n' "$res" | grep -c '^ok ')
    if [[ $rc -eq 0 ]]; then
        echo "ok $n - $t: $count corpus inputs"
    else
        echo "not ok $n - $t: failed after $count inputs (exit $rc)"
        failed=$((failed + 1))
    fi
done
exit $((failed > 0))
