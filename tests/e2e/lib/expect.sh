# shellcheck shell=bash
# Exit-code expectations for CLI e2e scripts (sourced after checks.sh; the
# script sets W, the work directory where `run` leaves stderr).

# A failure prints exactly one line on stderr: "kvseal: <command>: <message>".
one_error_line() {
    [[ $(wc -l <"$W/stderr") -eq 1 ]] && grep -q '^kvseal: [a-z]*: ' "$W/stderr"
}

# expect NAME WANT_RC CMD...: exit code check (and the error-line format on failure).
expect() {
    local name=$1 want=$2
    shift 2
    run "$@"
    if [[ $RC -ne $want ]]; then
        fail "$name: exit $RC, expected $want; stderr: $(head -c 400 "$W/stderr")"
    elif [[ $want -ne 0 ]] && ! one_error_line; then
        fail "$name: expected one 'kvseal: <cmd>: ...' line on stderr, got: $(head -c 400 "$W/stderr")"
    else
        pass
    fi
}

# expect_clean NAME WANT_RC DIR CMD...: like expect, and DIR's listing
# (including dot files such as temp files) must be unchanged afterwards.
expect_clean() {
    local name=$1 want=$2 dir=$3
    shift 3
    local before after
    before=$(ls -A "$dir")
    expect "$name" "$want" "$@"
    after=$(ls -A "$dir")
    if [[ $before != "$after" ]]; then
        fail "$name: $dir changed: before [$before] after [$after]"
    fi
}
