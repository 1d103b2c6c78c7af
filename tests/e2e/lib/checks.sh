# shellcheck shell=bash disable=SC2034
# (RC and the counters are read by the scripts that source this.)
# Shared by the e2e scripts that run kvseal locally (sourced, not run by
# ctest): pass/fail counters, one-line checks, a command runner and the
# summary line "N passed, M failed" that ends every script.
# shellcheck source=keys.sh
. "$(dirname "${BASH_SOURCE[0]}")/keys.sh"
passed=0
failed=0
RC=0

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*" >&2
}

# skip REASON: a case that could not be run this time (said, and counted
# in $skipped, which the script reports; never counted as a pass).
skipped=0
skip() {
    skipped=$((skipped + 1))
    echo "skip: $*"
}

# check NAME CMD...: one check, passing when CMD succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass; else fail "$name"; fi
}

# run CMD...: stdout to $W/stdout, stderr to $W/stderr (files, not a
# terminal); exit code in RC. The script sets W.
run() {
    RC=0
    "$@" >"$W/stdout" 2>"$W/stderr" || RC=$?
}

# summary: print the last line; succeeds only if no check failed.
summary() {
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}
