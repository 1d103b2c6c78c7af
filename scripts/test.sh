#!/usr/bin/env bash
# The README's test command: install what is missing, then
#   1. build with gcc and -Werror, run every test (ctest);
#   2. build with ASan+UBSan, run every test again;
#   3. run the unit tests under valgrind memcheck (no errors, no definite leaks);
#   4. build everything with clang and -Werror;
#   5. run each libFuzzer target for KVSEAL_FUZZ_SECONDS (default 60) under
#      ASan+UBSan; a crash fails the run and is saved as a regression input.
# For quick local runs: KVSEAL_SKIP_SANITIZE=1, KVSEAL_SKIP_VALGRIND=1,
# KVSEAL_SKIP_FUZZ=1 skip steps 2, 3 and 4-5.
set -euo pipefail
cd "$(dirname "$0")/.."

KVSEAL_WITH_CLANG=1 bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

configure_and_build() { # build-dir, extra cmake options...
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVSEAL_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
}

run_ctest() { # build-dir
  (cd "$1" && ctest --output-on-failure -j"$jobs" --timeout 1500)
}

echo "== kvseal 1/5: gcc -Werror build, all tests"
configure_and_build build/test
run_ctest build/test

if [ "${KVSEAL_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== kvseal 2/5: ASan+UBSan build, all tests"
  configure_and_build build/sanitize -DKVSEAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build/sanitize
fi

if [ "${KVSEAL_SKIP_VALGRIND:-0}" != 1 ]; then
  echo "== kvseal 3/5: unit tests under valgrind memcheck"
  bash scripts/valgrind-unit.sh build/test
fi

if [ "${KVSEAL_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== kvseal 4/5: clang -Werror build"
  CC=clang configure_and_build build/clang -DKVSEAL_TESTS=OFF
  echo "== kvseal 5/5: fuzzing, ${KVSEAL_FUZZ_SECONDS:-60} s per target"
  bash scripts/fuzz.sh "${KVSEAL_FUZZ_SECONDS:-60}"
fi
echo "== kvseal: all test steps passed"
