#!/usr/bin/env bash
# The README's test command: install what is missing, then
#   1. build with gcc and -Werror, run every test (ctest);
#   2. build with ASan+UBSan, run every test again;
#   3. run the unit tests under valgrind memcheck (no errors, no definite leaks);
#   4. build everything with clang and -Werror;
#   5. run each libFuzzer target for KVSEAL_FUZZ_SECONDS (default 60) under
#      ASan+UBSan; a crash fails the run and is saved as a regression input;
#   6. build with ThreadSanitizer, run the threaded tests (ctest -L threads).
#
# Faster through less waiting, never by testing less:
#  - the builds of steps 2, 4, 5 and 6 run in the background at low priority
#    (nice) while step 1's tests run, on the CPU those tests leave idle while
#    they wait on test servers, clocks and processes;
#  - ctest starts the longest tests first (COST) and runs the CPU-bound ones
#    at most one per core (resource "cores", build/ctest-resources.json)
#    beside the ones that mostly wait;
#  - steps 3 and 6 run at low priority beside step 2's tests;
#  - valgrind and the fuzz targets run one per core: every fuzz target still
#    gets KVSEAL_FUZZ_SECONDS of its own (the same fuzzing CPU time as one
#    after another), in a fraction of the wall time.
# Every step prints its time; the last lines are a table of them and
# "== kvseal: all test steps passed".
#
#   scripts/test.sh           everything (CI)
#   scripts/test.sh --quick   step 1 only, with the quick tier (ctest -L quick)
# KVSEAL_SKIP_SANITIZE=1, KVSEAL_SKIP_VALGRIND=1, KVSEAL_SKIP_FUZZ=1 (steps 4
# and 5), KVSEAL_SKIP_TSAN=1 skip steps.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac

if [ "$quick" = 1 ]; then
  bash scripts/install-deps.sh
else
  KVSEAL_WITH_CLANG=1 bash scripts/install-deps.sh
fi

jobs=$(nproc 2>/dev/null || echo 2)
# Slots: twice the cores, so tests that wait run beside the CPU-bound ones,
# which the resource spec keeps to one per core.
ctest_jobs=$((jobs * 2))
resources=$PWD/build/ctest-resources.json
mkdir -p build
printf '{"version":{"major":1,"minor":0},"local":[{"cores":[{"id":"0","slots":%d}]}]}\n' \
  "$jobs" >"$resources"

skip() { [ "${!1:-0}" = 1 ]; }
step_times=()
# step_done LABEL START: record how long a step took (seconds since START).
step_done() {
  local secs=$((SECONDS - $2))
  step_times+=("$(printf '%-44s %5d s' "$1" "$secs")")
  echo "== kvseal: $1 took $secs s"
}

configure_and_build() { # build-dir, extra cmake options...
  local dir=$1; shift
  rm -rf "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVSEAL_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
}

run_ctest() { # build-dir, extra ctest arguments...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j"$ctest_jobs" --resource-spec-file "$resources" \
    --timeout 1500 "$@")
}

# Background work: each job writes build/bg/NAME.log and, when it ends,
# build/bg/NAME.rc and build/bg/NAME.secs; await NAME waits for it.
rm -rf build/bg
mkdir -p build/bg
background() { # NAME FUNCTION: run a function of this script at low priority
  local name=$1; shift
  (
    start=$SECONDS
    renice -n 10 -p "$BASHPID" >/dev/null
    # Not "cmd || rc=$?": that would switch off set -e inside the function.
    set +e
    (set -e; "$@") >"build/bg/$name.log" 2>&1
    rc=$?
    echo $((SECONDS - start)) >"build/bg/$name.secs"
    echo "$rc" >"build/bg/$name.rc"
  ) &
}
await() { # NAME LABEL: wait for a background job, show its log, fail if it failed
  local name=$1 label=$2 rc
  while [ ! -e "build/bg/$name.rc" ]; do sleep 1; done
  rc=$(cat "build/bg/$name.rc")
  cat "build/bg/$name.log"
  step_times+=("$(printf '%-44s %5d s (background)' "$label" "$(cat "build/bg/$name.secs")")")
  if [ "$rc" != 0 ]; then
    echo "== kvseal: $label FAILED (exit $rc)" >&2
    exit "$rc"
  fi
}

total_start=$SECONDS
echo "== kvseal 1/6: gcc -Werror build, all tests"
t=$SECONDS
configure_and_build build/test
step_done "1 gcc build" "$t"

if [ "$quick" = 1 ]; then
  t=$SECONDS
  run_ctest build/test -L quick
  step_done "1 quick tier (ctest -L quick)" "$t"
  printf '%s\n' "${step_times[@]}"
  echo "== kvseal: quick tier passed (the full suite: scripts/test.sh)"
  exit 0
fi

# The other builds, one after another, while step 1's tests run.
build_rest() {
  if ! skip KVSEAL_SKIP_SANITIZE; then
    echo "-- ASan+UBSan build"
    configure_and_build build/sanitize -DKVSEAL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  fi
  if ! skip KVSEAL_SKIP_FUZZ; then
    echo "-- clang -Werror build"
    CC=clang configure_and_build build/clang -DKVSEAL_TESTS=OFF
    echo "-- libFuzzer build"
    bash scripts/fuzz.sh --build-only
  fi
  if ! skip KVSEAL_SKIP_TSAN; then
    echo "-- ThreadSanitizer build"
    configure_and_build build/tsan -DKVSEAL_TSAN=ON
  fi
}
background builds build_rest

t=$SECONDS
run_ctest build/test
step_done "1 gcc tests (ctest)" "$t"

echo "== kvseal: the other builds (started in the background during step 1)"
await builds "2,4,5,6 builds"

# Steps 3 and 6 beside step 2's tests, at low priority.
side_steps() {
  if ! skip KVSEAL_SKIP_VALGRIND; then
    echo "== kvseal 3/6: unit tests under valgrind memcheck"
    bash scripts/valgrind-unit.sh build/test
  fi
  if ! skip KVSEAL_SKIP_TSAN; then
    echo "== kvseal 6/6: ThreadSanitizer build, threaded tests (ctest -L threads)"
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
      bash -c 'cd build/tsan && ctest --output-on-failure -j"$1" --timeout 1500 -L "^threads$"' \
        _ "$jobs"
  fi
}
background side side_steps

if ! skip KVSEAL_SKIP_SANITIZE; then
  echo "== kvseal 2/6: ASan+UBSan build, all tests"
  t=$SECONDS
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build/sanitize
  step_done "2 ASan+UBSan tests (ctest)" "$t"
fi

await side "3 valgrind + 6 TSan tests"

if ! skip KVSEAL_SKIP_FUZZ; then
  echo "== kvseal 4/6: clang -Werror build: done in the background (above)"
  echo "== kvseal 5/6: fuzzing, ${KVSEAL_FUZZ_SECONDS:-60} s per target, $jobs at a time"
  t=$SECONDS
  KVSEAL_FUZZ_SKIP_BUILD=1 KVSEAL_FUZZ_PARALLEL=$jobs bash scripts/fuzz.sh "${KVSEAL_FUZZ_SECONDS:-60}"
  step_done "5 fuzzing" "$t"
fi

echo "== kvseal: step times"
printf '%s\n' "${step_times[@]}"
printf '%-44s %5d s\n' "total" $((SECONDS - total_start))
echo "== kvseal: all test steps passed"
