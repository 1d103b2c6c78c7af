#!/usr/bin/env bash
# The README's test command: install what is missing, build from scratch with
# warnings as errors, run every test; then again under ASan+UBSan.
# KVSEAL_SKIP_SANITIZE=1 skips the sanitizer pass (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # build-dir, extra cmake options...
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVSEAL_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 1500)
}

echo "== kvseal: release build, all tests"
run_suite build/test

if [ "${KVSEAL_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== kvseal: ASan+UBSan build, all tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build/sanitize -DKVSEAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
