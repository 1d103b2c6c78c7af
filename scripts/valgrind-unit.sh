#!/usr/bin/env bash
# Run every unit test binary of a build under valgrind memcheck: any memory
# error or definite leak fails. Check's fork mode is off so valgrind sees the
# tests themselves. KVSEAL_VALGRIND_JOBS binaries run at once (default nproc:
# each valgrind process uses one core). Prints a final "N passed, M failed"
# line.
set -euo pipefail
build=${1:-build/test}
export CK_FORK=no CK_DEFAULT_TIMEOUT=3000
# Bounds on real time in the suites scale by this (memcheck runs ~20x slower).
export KVSEAL_TEST_SLOWDOWN=${KVSEAL_TEST_SLOWDOWN:-20}
export KVSEAL_SRC=${KVSEAL_SRC:-$PWD}
parallel=${KVSEAL_VALGRIND_JOBS:-$(nproc 2>/dev/null || echo 2)}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# one BINARY: its valgrind output in $logs/NAME.log, "ok" or "fail" in $logs/NAME.rc.
one() {
    local name
    name=$(basename "$1")
    if valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$1" >"$logs/$name.log" 2>&1; then
        echo ok >"$logs/$name.rc"
    else
        echo fail >"$logs/$name.rc"
    fi
}

tests=()
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    tests+=("$t")
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    one "$t" &
done
wait

pass=0
fail=0
for t in "${tests[@]}"; do
    name=$(basename "$t")
    if [ "$(cat "$logs/$name.rc" 2>/dev/null)" = ok ]; then
        pass=$((pass + 1))
        echo "ok - valgrind $name"
    else
        fail=$((fail + 1))
        echo "not ok - valgrind $name"
        tail -40 "$logs/$name.log"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
