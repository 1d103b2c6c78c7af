#!/usr/bin/env bash
# Fault injection at the edges of the CLI (issue 6): disk full (RLIMIT_FSIZE,
# /dev/full), unreadable input, unwritable output directory, input shrinking
# while read, a pipe that ends early, and SIGINT / SIGTERM / SIGKILL in the
# middle of encrypting and decrypting a large file.
#
# Every failure must be clean: the documented exit code (4 for local I/O, 2 for
# an invalid file, 128+N after signal N), one "kvseal: <command>: ..." line on
# stderr, and nothing at the target path. After SIGINT or SIGTERM no temp file
# either; after SIGKILL none where the temp file is unnamed (O_TMPFILE), else
# a temp file .NAME.kvseal-tmp-XXXXXX may remain.
#
# Permission cases run the CLI as nobody (setpriv) when this runs as root,
# because root ignores file modes; without setpriv they are skipped as root.
#
# Needs: KVSEAL_BIN. KVSEAL_FAULT_MB: size of the large file (default 500),
# created on /dev/shm when it has room, else in TMPDIR.
# (sh -c '...' snippets get their values as "$0", "$1"... on purpose.)
# shellcheck disable=SC2016
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
BIG_MB=${KVSEAL_FAULT_MB:-500}

base=${TMPDIR:-/tmp}
if [[ -d /dev/shm && -w /dev/shm ]] &&
    [[ $(df -Pm /dev/shm | awk 'NR == 2 { print $4 }') -gt $((BIG_MB * 3 + 200)) ]]; then
    base=/dev/shm
fi
W=$(mktemp -d "$base/kvseal-faults.XXXXXX")
chmod 755 "$W"
BGPID=
cleanup() {
    [[ -n $BGPID ]] && kill -KILL "$BGPID" 2>/dev/null
    chmod -R u+rwX "$W" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/procfd.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/procfd.sh"

# expect_fail NAME WANT_RC DIR TARGET CMD...: exit WANT_RC with one error line;
# TARGET absent afterwards and DIR's listing unchanged (no temp files).
expect_fail() {
    local name=$1 want=$2 dir=$3 target=$4
    shift 4
    local before after
    before=$(ls -A "$dir")
    run "$@"
    after=$(ls -A "$dir")
    if [[ $RC -ne $want ]]; then
        fail "$name: exit $RC, expected $want; stderr: $(head -c 400 "$W/stderr")"
    elif [[ $(wc -l <"$W/stderr") -ne 1 ]] || ! grep -q '^kvseal: [a-z]*: ' "$W/stderr"; then
        fail "$name: expected one 'kvseal: <cmd>: ...' line, got: $(head -c 400 "$W/stderr")"
    elif [[ -e $target ]]; then
        fail "$name: $target exists after the failure"
    elif [[ $before != "$after" ]]; then
        fail "$name: $dir changed: before [$before] after [$after]"
    else
        pass
    fi
}

# ---- fixtures ----
test_key rsa2048-a "$W/key.pem" "$W/pub.pem"
chmod 644 "$W/key.pem" # readable by nobody: a throwaway test key
head -c 1000000 /dev/urandom >"$W/plain1m"
"$BIN" -q encrypt -r "$W/pub.pem" --chunk-size 64K -o "$W/c1m.kvs" "$W/plain1m"
chmod 644 "$W/c1m.kvs" # outputs are created 0600; nobody reads it below
O=$W/out # output directory for the cases below
mkdir "$O"
chmod 777 "$O"

# ---------------------------------------------------------------- disk full
# RLIMIT_FSIZE: writing past the limit fails with EFBIG (SIGXFSZ must not kill).
fsize_run() { # LIMIT_KB CMD...
    local kb=$1
    shift
    bash -c 'ulimit -f "$1"; shift; exec "$@"' _ "$kb" "$@"
}
expect_fail "encrypt past RLIMIT_FSIZE" 4 "$O" "$O/big.kvs" \
    fsize_run 256 "$BIN" encrypt -r "$W/pub.pem" -o "$O/big.kvs" "$W/plain1m"
expect_fail "encrypt stdin past RLIMIT_FSIZE" 4 "$O" "$O/big.kvs" \
    fsize_run 256 sh -c 'exec "$0" encrypt -r "$1" -o "$2" <"$3"' \
    "$BIN" "$W/pub.pem" "$O/big.kvs" "$W/plain1m"
expect_fail "decrypt past RLIMIT_FSIZE" 4 "$O" "$O/big.plain" \
    fsize_run 256 "$BIN" decrypt -k "$W/key.pem" -o "$O/big.plain" "$W/c1m.kvs"
expect_fail "decrypt stdin past RLIMIT_FSIZE" 4 "$O" "$O/big.plain" \
    fsize_run 256 sh -c 'exec "$0" decrypt -k "$1" -o "$2" <"$3"' \
    "$BIN" "$W/key.pem" "$O/big.plain" "$W/c1m.kvs"
if grep -q 'File too large\|too large' "$W/stderr" 2>/dev/null; then pass; else
    fail "RLIMIT_FSIZE message should name the cause (EFBIG): $(head -c 300 "$W/stderr")"
fi
if [[ -w /dev/full ]]; then
    expect_fail "encrypt to /dev/full" 4 "$O" "$O/none" \
        "$BIN" encrypt -r "$W/pub.pem" -o /dev/full "$W/plain1m"
    expect_fail "decrypt to /dev/full" 4 "$O" "$O/none" \
        "$BIN" decrypt -k "$W/key.pem" -o /dev/full "$W/c1m.kvs"
    expect_fail "decrypt stdout to /dev/full" 4 "$O" "$O/none" \
        sh -c 'exec "$0" decrypt -k "$1" -o - "$2" >/dev/full' "$BIN" "$W/key.pem" "$W/c1m.kvs"
else
    skip "/dev/full not writable"
fi

# ---------------------------------------------------------------- permissions
AS_NOBODY=()
if [[ $(id -u) -eq 0 ]]; then
    if command -v setpriv >/dev/null 2>&1 &&
        setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
        AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
    else
        AS_NOBODY=(none)
    fi
fi
if [[ ${AS_NOBODY[0]:-} == none ]]; then
    skip "permission cases: running as root without setpriv"
else
    cp "$W/plain1m" "$W/secret.plain"
    cp "$W/c1m.kvs" "$W/secret.kvs"
    chmod 000 "$W/secret.plain" "$W/secret.kvs"
    expect_fail "encrypt unreadable input" 4 "$O" "$O/s.kvs" \
        "${AS_NOBODY[@]}" "$BIN" encrypt -r "$W/pub.pem" -o "$O/s.kvs" "$W/secret.plain"
    if grep -q 'Permission denied' "$W/stderr"; then pass; else fail "unreadable input: no EACCES text"; fi
    expect_fail "decrypt unreadable input" 4 "$O" "$O/s.plain" \
        "${AS_NOBODY[@]}" "$BIN" decrypt -k "$W/key.pem" -o "$O/s.plain" "$W/secret.kvs"
    expect_fail "encrypt unreadable input into a directory" 4 "$O" "$O/secret.plain.kvs" \
        "${AS_NOBODY[@]}" "$BIN" encrypt -r "$W/pub.pem" -o "$O" "$W/secret.plain"

    RO=$W/readonly # owned by root, 0755: nobody cannot create files in it
    mkdir "$RO"
    chmod 755 "$RO"
    expect_fail "encrypt into unwritable directory" 4 "$RO" "$RO/x.kvs" \
        "${AS_NOBODY[@]}" "$BIN" encrypt -r "$W/pub.pem" -o "$RO/x.kvs" "$W/plain1m"
    if grep -q 'Permission denied' "$W/stderr"; then pass; else fail "unwritable dir: no EACCES text"; fi
    expect_fail "decrypt into unwritable directory" 4 "$RO" "$RO/x.plain" \
        "${AS_NOBODY[@]}" "$BIN" decrypt -k "$W/key.pem" -o "$RO/x.plain" "$W/c1m.kvs"
    expect_fail "decrypt stdin into unwritable directory" 4 "$RO" "$RO/x.plain" \
        "${AS_NOBODY[@]}" sh -c 'exec "$0" decrypt -k "$1" -o "$2" <"$3"' \
        "$BIN" "$W/key.pem" "$RO/x.plain" "$W/c1m.kvs"
    expect_fail "encrypt -o DIR into unwritable directory" 4 "$RO" "$RO/plain1m.kvs" \
        "${AS_NOBODY[@]}" "$BIN" encrypt -r "$W/pub.pem" -o "$RO" "$W/plain1m"
fi
expect_fail "encrypt a directory as input" 4 "$O" "$O/d.kvs" \
    "$BIN" encrypt -r "$W/pub.pem" -o "$O/d.kvs" "$W"
expect_fail "decrypt a directory as input" 4 "$O" "$O/d.plain" \
    "$BIN" decrypt -k "$W/key.pem" -o "$O/d.plain" "$W"
expect_fail "encrypt a missing input" 4 "$O" "$O/m.kvs" \
    "$BIN" encrypt -r "$W/pub.pem" -o "$O/m.kvs" "$W/does-not-exist"
expect_fail "encrypt into a missing directory" 4 "$O" "$W/no-such-dir/x.kvs" \
    "$BIN" encrypt -r "$W/pub.pem" -o "$W/no-such-dir/x.kvs" "$W/plain1m"

# ---------------------------------------------------------------- large files
BIG=$W/big.plain
BIGC=$W/big.kvs
head -c $((BIG_MB * 1024 * 1024)) /dev/zero >"$BIG"
"$BIN" -q encrypt -r "$W/pub.pem" -o "$BIGC" "$BIG"

# wait_for_temp DIR PID: wait until PID writes a temp file with data in DIR
# (named, or unnamed with O_TMPFILE) or ends; 0 if it does. TEMP_UNNAMED
# says whether that temp file is unnamed.
TEMP_UNNAMED=0
wait_for_temp() {
    local fd
    TEMP_UNNAMED=0
    fd=$(output_fd "$1" "$2") || return 1
    if fd_unnamed "$fd"; then TEMP_UNNAMED=1; fi
    return 0
}

# A process still running at the kill must end within 30 s.
wait_bounded() { # PID -> exit code in RC
    local pid=$1 i
    for ((i = 0; i < 3000; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        RC=999
        wait "$pid" 2>/dev/null || true
        return
    fi
    RC=0
    wait "$pid" 2>/dev/null || RC=$? # (no "Killed" notice from bash)
}

# signal_mid_write NAME SIGNAL DIR: once the background job BGPID has a temp
# file with data in DIR, send it SIGNAL and wait for it (exit code in RC).
# Returns 1, after a skip, when the job finished before that.
signal_mid_write() {
    local name=$1 sig=$2 dir=$3
    if ! wait_for_temp "$dir" "$BGPID"; then
        wait_bounded "$BGPID"
        BGPID=
        skip "$name: finished (exit $RC) before a temp file was seen; use a larger KVSEAL_FAULT_MB"
        return 1
    fi
    kill -s "$sig" "$BGPID"
    wait_bounded "$BGPID"
    BGPID=
}

# interrupt NAME SIGNAL MODE(encrypt|decrypt) INPUT(path|stdin)
interrupt() {
    local name=$1 sig=$2 mode=$3 how=$4 dir=$W/sig target
    rm -rf "$dir"
    mkdir "$dir"
    target=$dir/target
    local args
    if [[ $mode == encrypt ]]; then
        args=(encrypt -r "$W/pub.pem" -o "$target")
        src=$BIG
    else
        args=(decrypt -k "$W/key.pem" -o "$target")
        src=$BIGC
    fi
    if [[ $how == path ]]; then
        "$BIN" "${args[@]}" "$src" 2>"$W/stderr" &
    else
        "$BIN" "${args[@]}" <"$src" 2>"$W/stderr" &
    fi
    BGPID=$!
    signal_mid_write "$name" "$sig" "$dir" || return 0
    local signum
    signum=$(kill -l "$sig")
    local left
    left=$(ls -A "$dir")
    if [[ $RC -ne $((128 + signum)) ]]; then
        fail "$name: exit $RC after SIG$sig, expected $((128 + signum)); stderr: $(head -c 300 "$W/stderr")"
    elif [[ -e $target ]]; then
        fail "$name: the target exists after SIG$sig"
    elif [[ $sig != KILL && -n $left ]]; then
        fail "$name: left behind after SIG$sig: $left"
    elif [[ $sig == KILL && -n $left && $TEMP_UNNAMED == 1 ]]; then
        fail "$name: the temp file was unnamed (O_TMPFILE), yet SIGKILL left: $left"
    elif [[ $sig == KILL && -n $left && ! $left =~ ^\.target\.kvseal-tmp-[A-Za-z0-9]{6}$ ]]; then
        fail "$name: unexpected files after SIGKILL: $left"
    else
        pass
    fi
}

for sig in INT TERM KILL; do
    for mode in encrypt decrypt; do
        for how in path stdin; do
            interrupt "SIG$sig mid-$mode ($how input, ${BIG_MB} MB)" "$sig" "$mode" "$how"
        done
    done
done

# rewrap replaces the file through a temp file beside it: SIGINT/SIGTERM
# remove that temp file and leave the original file exactly as it was.
test_key rsa2048-b "$W/key2.pem" "$W/pub2.pem"
interrupt_rewrap() { # SIGNAL
    local sig=$1 dir=$W/sig name="SIG$1 mid-rewrap (${BIG_MB} MB)"
    rm -rf "$dir"
    mkdir "$dir"
    cp "$BIGC" "$dir/target"
    "$BIN" rewrap -k "$W/key.pem" -r "$W/pub2.pem" "$dir/target" 2>"$W/stderr" &
    BGPID=$!
    signal_mid_write "$name" "$sig" "$dir" || return 0
    local left
    left=$(ls -A "$dir")
    if [[ $RC -ne $((128 + $(kill -l "$sig"))) ]]; then
        fail "$name: exit $RC, expected $((128 + $(kill -l "$sig"))); stderr: $(head -c 300 "$W/stderr")"
    elif [[ $left != target ]]; then
        fail "$name: left behind: $left"
    elif ! cmp -s "$BIGC" "$dir/target"; then
        fail "$name: the original file changed"
    else
        pass
    fi
}
interrupt_rewrap INT
interrupt_rewrap TERM

# ---------------------------------------------------------------- shrinking input
# The input is cut while it is read: a clean error (no output), or an output
# that is a complete, authentic file (encrypt) - never a crash or a hang.
shrink() { # NAME MODE SRC
    local name=$1 mode=$2 src=$3 dir=$W/shrink victim=$W/victim
    rm -rf "$dir"
    mkdir "$dir"
    cp "$src" "$victim"
    if [[ $mode == encrypt ]]; then
        "$BIN" encrypt -r "$W/pub.pem" -o "$dir/target" "$victim" 2>"$W/stderr" &
    else
        "$BIN" decrypt -k "$W/key.pem" -o "$dir/target" "$victim" 2>"$W/stderr" &
    fi
    BGPID=$!
    wait_for_temp "$dir" "$BGPID" || true
    truncate -s $((BIG_MB * 1024 * 1024 / 3)) "$victim"
    wait_bounded "$BGPID"
    BGPID=
    if [[ $RC -eq 999 || $RC -ge 128 ]]; then
        fail "$name: hung or crashed (exit $RC)"
    elif [[ $RC -ne 0 ]]; then
        if [[ -n $(ls -A "$dir") ]]; then
            fail "$name: failed (exit $RC) but left $(ls -A "$dir")"
        elif [[ $(wc -l <"$W/stderr") -ne 1 ]]; then
            fail "$name: expected one error line, got: $(head -c 300 "$W/stderr")"
        elif [[ $mode == decrypt && $RC -ne 2 && $RC -ne 4 ]]; then
            fail "$name: exit $RC, expected 2 (truncated) or 4"
        else
            echo "  $name: exit $RC: $(cat "$W/stderr")"
            pass
        fi
    elif [[ $mode == decrypt ]]; then
        fail "$name: a truncated ciphertext decrypted successfully"
    elif ! "$BIN" -q verify -k "$W/key.pem" "$dir/target" >/dev/null 2>&1; then
        fail "$name: exit 0 but the output does not verify"
    else
        echo "  $name: exit 0 (encrypted what it could read; the output verifies)"
        pass
    fi
    rm -f "$victim"
}
shrink "input truncated while encrypting" encrypt "$BIG"
shrink "ciphertext truncated while decrypting" decrypt "$BIGC"

# A pipe whose writer stops early: truncated ciphertext from stdin.
head -c 700000 "$W/c1m.kvs" >"$W/c-cut.kvs"
expect_fail "decrypt from a pipe that ends early" 2 "$O" "$O/p.plain" \
    sh -c 'cat "$3" | exec "$0" decrypt -k "$1" -o "$2"' "$BIN" "$W/key.pem" "$O/p.plain" \
    "$W/c-cut.kvs"
mkfifo "$W/fifo"
(head -c 300000 "$W/c1m.kvs" >"$W/fifo") &
expect_fail "decrypt from a FIFO closed early" 2 "$O" "$O/f.plain" \
    "$BIN" decrypt -k "$W/key.pem" -o "$O/f.plain" "$W/fifo"
wait

[[ $skipped -gt 0 ]] && echo "$skipped case(s) skipped"
summary
