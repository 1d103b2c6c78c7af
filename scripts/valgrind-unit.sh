#!/usr/bin/env bash
# Run every unit test binary of a build under valgrind memcheck: any memory
# error or definite leak fails. Check's fork mode is off so valgrind sees the
# tests themselves. Prints a final "N passed, M failed" line.
set -euo pipefail
build=${1:-build/test}
export CK_FORK=no CK_DEFAULT_TIMEOUT=3000
export KVSEAL_SRC=${KVSEAL_SRC:-$PWD}
pass=0
fail=0
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  log=$(mktemp)
  if valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite "$t" >"$log" 2>&1; then
    pass=$((pass + 1))
    echo "ok - valgrind $(basename "$t")"
  else
    fail=$((fail + 1))
    echo "not ok - valgrind $(basename "$t")"
    tail -40 "$log"
  fi
  rm -f "$log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
