#!/usr/bin/env bash
# Build the libFuzzer targets with clang (ASan + UBSan) into build/fuzz and run
# each for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: see KVSEAL_FUZZ_TARGETS
#                                             in cmake/Fuzz.cmake (default: all)
#   scripts/fuzz.sh --build-only [TARGET...]  build, do not run
#
# Seeds come from tests/fuzz/corpus/<target> (read-only); what the fuzzer
# learns goes to build/fuzz/corpus/<target> and is kept between runs. A
# crashing, leaking, timing-out or memory-exhausting input is saved to
# tests/fuzz/regressions/<target>/ - commit it once the bug is fixed, and the
# normal test run (ctest -L fuzz) replays it forever. Exits non-zero if any
# target failed. Environment: KVSEAL_FUZZ_JOBS (build jobs), CC (default clang),
# KVSEAL_FUZZ_ARGS (extra libFuzzer flags), KVSEAL_FUZZ_PARALLEL (targets run
# at once, default nproc: each target still gets SECONDS of its own, so the
# fuzzing CPU time is the same and the wall time is divided by the cores).
# KVSEAL_FUZZ_SKIP_BUILD=1 runs what build/fuzz already holds.
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
if [[ ${1:-} == --build-only ]]; then
    build_only=1
    shift
    set -- 60 "$@"
fi
secs=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ $secs =~ ^[0-9]+$ ]] || [[ $secs -lt 1 ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi
all=(header decrypt kvjson challenge kvurl b64url pem listxml trailer)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

build=build/fuzz
jobs=${KVSEAL_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
export CC=${CC:-clang}

if [[ ${KVSEAL_FUZZ_SKIP_BUILD:-0} != 1 ]]; then
    echo "== building fuzz targets with $CC into $build"
    cmake -S . -B "$build" -DKVSEAL_FUZZ=ON -DKVSEAL_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.cmake.log" 2>&1 ||
        { cat "$build.cmake.log" >&2; exit 1; }
    cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}" >"$build.build.log" 2>&1 ||
        { tail -50 "$build.build.log" >&2; exit 1; }
fi
[[ $build_only == 1 ]] && exit 0
parallel=${KVSEAL_FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 2)}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# fuzz_one TARGET: run one target; its summary line goes to $build/fuzz_T.result.
fuzz_one() {
    local t=$1 bin=$build/fuzz_$1 seeds=tests/fuzz/corpus/$1 regress=tests/fuzz/regressions/$1
    local work=$build/corpus/$1 log=$build/fuzz_$1.log rc=0 done_line execs rate cov
    mkdir -p "$work" "$regress"
    local dict=()
    [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$regress/" "${dict[@]}" ${KVSEAL_FUZZ_ARGS:-} \
        "$work" "$seeds" "$regress" >"$log" 2>&1 || rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, ft \2/p' <<<"$done_line")
    if [[ $rc -ne 0 ]]; then
        {
            echo "FAIL: fuzz_$t exited $rc; input saved under $regress/; log: $log"
            grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY|Test unit written' "$log" | head -20 || true
        } >&2
        printf '%-10s FAILED (exit %d)\n' "$t" "$rc" >"$build/fuzz_$t.result"
        return 1
    fi
    printf '%-10s %10s execs  %7s exec/s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        >"$build/fuzz_$t.result"
}

# At most $parallel targets at once; wait -n frees a slot as one finishes.
# The result files, not the exit statuses, say which failed.
for t in "${targets[@]}"; do
    rm -f "$build/fuzz_$t.result"
    while [[ $(jobs -rp | wc -l) -ge $parallel ]]; do wait -n || true; done
    echo "== fuzz_$t for ${secs}s"
    fuzz_one "$t" &
done
wait
failed=0
summary=()
for t in "${targets[@]}"; do
    line=$(cat "$build/fuzz_$t.result" 2>/dev/null || printf '%-10s FAILED (no result)' "$t")
    [[ $line == *FAILED* ]] && failed=$((failed + 1))
    summary+=("$line")
done

echo "== summary (${secs}s per target, $parallel at a time)"
printf '%s\n' "${summary[@]}"
if [[ $failed -gt 0 ]]; then
    echo "$failed target(s) failed" >&2
    exit 1
fi
