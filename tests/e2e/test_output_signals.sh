#!/usr/bin/env bash
# Terminating signals in the middle of writing output (issue 15 item 3).
#
# - Every terminating signal kvseal can catch (HUP INT QUIT TERM USR1 USR2
#   ALRM VTALRM PROF XCPU PWR IO) during a large decrypt to -o FILE: exit
#   128+N, no target, no temp file.
# - `decrypt > file` killed: the file holds a verified prefix of the
#   plaintext and nothing else (no zero-filled hole where a later chunk was
#   written before an earlier one); likewise `encrypt > file` holds no hole.
# - SIGKILL: where the file system has O_TMPFILE (the output's fd then names
#   no file), nothing at all is left in the directory.
#
# Needs: KVSEAL_BIN. KVSEAL_SIGNAL_MB: size of the large file (default 192),
# created on /dev/shm when it has room, else in TMPDIR.
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
MB=${KVSEAL_SIGNAL_MB:-192}
base=${TMPDIR:-/tmp}
if [[ -d /dev/shm && -w /dev/shm ]] &&
    [[ $(df -Pm /dev/shm | awk 'NR == 2 { print $4 }') -gt $((MB * 4 + 200)) ]]; then
    base=/dev/shm
fi
W=$(mktemp -d "$base/kvseal-outsig.XXXXXX")
BGPID=
FEEDPID=
cleanup() {
    [[ -n $BGPID ]] && kill -KILL "$BGPID" 2>/dev/null
    [[ -n $FEEDPID ]] && pkill -KILL -P "$FEEDPID" 2>/dev/null
    [[ -n $FEEDPID ]] && kill -KILL "$FEEDPID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/procfd.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/procfd.sh"

"$BIN" -q keygen --bits 2048 -o "$W/key.pem" --public-out "$W/pub.pem" >/dev/null
# Random plaintext: a hole of zeros in an output cannot pass for plaintext.
head -c $((MB * 1024 * 1024)) /dev/urandom >"$W/plain"
"$BIN" -q encrypt -r "$W/pub.pem" -o "$W/big.kvs" "$W/plain"

# grown FILE PID BYTES: wait until FILE holds more than BYTES (0) or PID ended (1).
grown() {
    local i
    for ((i = 0; i < 6000; i++)); do
        [[ $(stat -c %s "$1" 2>/dev/null || echo 0) -gt $3 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.005
    done
    return 1
}

# reap PID: wait at most 30 s; exit code in RC (999: had to be killed).
reap() {
    local pid=$1 i
    for ((i = 0; i < 3000; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    local killed=0 status=0
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        killed=1
    fi
    wait "$pid" 2>/dev/null || status=$?
    RC=$status
    [[ $killed == 1 ]] && RC=999
    BGPID=
}

# interrupted NAME SIGNAL: send SIGNAL to the job BGPID and reap it; 0 if it
# exited 128+N, else the failure is recorded and 1 returned.
interrupted() {
    local name=$1 sig=$2 want
    kill -s "$sig" "$BGPID"
    reap "$BGPID"
    want=$((128 + $(kill -l "$sig")))
    [[ $RC -eq $want ]] && return 0
    fail "$name: exit $RC, expected $want; stderr: $(head -c 300 "$W/stderr")"
    return 1
}

# ---- every terminating signal during decrypt -o FILE and encrypt -o FILE ----------

to_file() { # SIGNAL MODE
    local sig=$1 mode=$2 dir=$W/d name="SIG$1 during $2 -o FILE"
    rm -rf "$dir"
    mkdir "$dir"
    if [[ $mode == decrypt ]]; then
        "$BIN" decrypt -k "$W/key.pem" -o "$dir/target" "$W/big.kvs" 2>"$W/stderr" &
    else
        "$BIN" encrypt -r "$W/pub.pem" -o "$dir/target" "$W/plain" 2>"$W/stderr" &
    fi
    BGPID=$!
    if ! output_fd "$dir" "$BGPID" >/dev/null; then
        reap "$BGPID"
        skip "$name: the job ended (exit $RC) before its output was seen"
        return 0
    fi
    interrupted "$name" "$sig" || return 0
    if [[ -n $(ls -A "$dir") ]]; then
        fail "$name: left behind: $(ls -A "$dir")"
    else
        pass
    fi
}
for sig in HUP INT QUIT TERM USR1 USR2 ALRM VTALRM PROF XCPU PWR IO; do
    to_file "$sig" decrypt
done
for sig in QUIT USR1; do
    to_file "$sig" encrypt
done

# ---- decrypt > file: a verified prefix, no hole ---------------------------------------

# prefix_only NAME FILE: FILE is a prefix of the plaintext (all of FILE's bytes
# equal the plaintext's first bytes; a zero-filled hole would not).
prefix_only() {
    local name=$1 f=$2 n
    n=$(stat -c %s "$f")
    if [[ $n -gt $((MB * 1024 * 1024)) ]]; then
        fail "$name: the output ($n bytes) is larger than the plaintext"
    elif ! cmp -s -n "$n" "$f" "$W/plain"; then
        fail "$name: the output ($n bytes) is not a prefix of the plaintext: $(cmp -n "$n" "$f" "$W/plain" 2>&1 | head -c 200)"
    else
        echo "  $name: kept a verified prefix of $n bytes"
        pass
    fi
}

to_stdout() { # SIGNAL INPUT(path|stdin) ROUND
    local sig=$1 how=$2 name="SIG$1 during decrypt > file ($2 input, round $3)" out=$W/out
    rm -f "$out"
    if [[ $how == path ]]; then
        "$BIN" decrypt -k "$W/key.pem" "$W/big.kvs" >"$out" 2>"$W/stderr" &
    else
        "$BIN" decrypt -k "$W/key.pem" <"$W/big.kvs" >"$out" 2>"$W/stderr" &
    fi
    BGPID=$!
    if ! grown "$out" "$BGPID" $((8 * 1024 * 1024)); then
        reap "$BGPID"
        skip "$name: the job ended (exit $RC) first"
        return 0
    fi
    if interrupted "$name" "$sig"; then prefix_only "$name" "$out"; fi
}
for round in 1 2 3; do
    to_stdout TERM path "$round"
done
to_stdout INT path 1
to_stdout USR1 path 1
to_stdout TERM stdin 1
to_stdout QUIT stdin 1

# decrypt --require-signer > file: what a signal leaves is whole verified
# segments (16 chunks of 1 MiB), never chunks whose segment root was not
# checked yet.
"$BIN" -q encrypt -r "$W/pub.pem" --sign "$TEST_KEYS/ec-p256.pem" -o "$W/signed.kvs" "$W/plain"
signed_to_stdout() { # SIGNAL ROUND
    local name="SIG$1 during decrypt --require-signer > file (round $2)" out=$W/out n
    rm -f "$out"
    "$BIN" decrypt -k "$W/key.pem" --require-signer "$TEST_KEYS/ec-p256.pub.pem" "$W/signed.kvs" \
        >"$out" 2>"$W/stderr" &
    BGPID=$!
    if ! grown "$out" "$BGPID" $((20 * 1024 * 1024)); then
        reap "$BGPID"
        skip "$name: the job ended (exit $RC) first"
        return 0
    fi
    interrupted "$name" "$1" || return 0
    n=$(stat -c %s "$out")
    if [[ $((n % (16 * 1024 * 1024))) -ne 0 && $n -ne $((MB * 1024 * 1024)) ]]; then
        fail "$name: kept $n bytes, not whole verified segments"
    else
        prefix_only "$name" "$out"
    fi
}
signed_to_stdout TERM 1
signed_to_stdout INT 2

# encrypt > file: a valid prefix of a kvseal file, with no zero-filled page
# (each 4 KiB page of ciphertext is random; a hole reads as zeros).
no_zero_page() {
    python3 - "$1" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
zero = bytes(4096)
for off in range(0, len(data) - 4095, 4096):
    if data[off:off + 4096] == zero:
        sys.exit("zero-filled page at offset %d of %d" % (off, len(data)))
EOF
}
"$BIN" encrypt -r "$W/pub.pem" "$W/plain" >"$W/enc-out" 2>"$W/stderr" &
BGPID=$!
if grown "$W/enc-out" "$BGPID" $((8 * 1024 * 1024)); then
    if interrupted "SIGTERM during encrypt > file" TERM; then pass; fi
    check "SIGTERM during encrypt > file: no hole in the ciphertext" no_zero_page "$W/enc-out"
    # What is there decrypts to a prefix of the plaintext, then exits 2 (cut short).
    run "$BIN" decrypt -k "$W/key.pem" -o - "$W/enc-out"
    check "SIGTERM during encrypt > file: the kept part is a truncated file (exit 2)" \
        test "$RC" -eq 2
    prefix_only "SIGTERM during encrypt > file: decrypts to a prefix" "$W/stdout"
else
    reap "$BGPID"
    skip "encrypt > file: ended (exit $RC) first"
fi

# ---- SIGKILL: an unnamed temp file (O_TMPFILE) disappears with the process ------------

killed() { # MODE
    local mode=$1 dir=$W/k name="SIGKILL during $1 -o FILE" fd link
    rm -rf "$dir"
    mkdir "$dir"
    if [[ $mode == decrypt ]]; then
        # The input arrives through a FIFO that stalls after 4 MiB, so the
        # job is surely mid-file when it is killed (a file read finishes
        # in tens of milliseconds, before the kill on a quick machine).
        mkfifo "$dir.feed"
        { head -c $((4 * 1024 * 1024)) "$W/big.kvs"; sleep 60; } >"$dir.feed" &
        FEEDPID=$!
        "$BIN" decrypt -k "$W/key.pem" -o "$dir/target" - <"$dir.feed" 2>/dev/null &
    else
        cp "$W/big.kvs" "$dir/target"
        "$BIN" rewrap -k "$W/key.pem" -r "$W/pub2.pem" "$dir/target" 2>/dev/null &
    fi
    BGPID=$!
    if ! fd=$(output_fd "$dir" "$BGPID"); then
        reap "$BGPID"
        skip "$name: the job ended (exit $RC) first"
        return 0
    fi
    link=$(readlink "$fd" || true)
    local unnamed=0
    fd_unnamed "$fd" && unnamed=1
    kill -KILL "$BGPID" 2>/dev/null || true # it may have ended just now
    reap "$BGPID"
    if [[ -n $FEEDPID ]]; then
        pkill -KILL -P "$FEEDPID" 2>/dev/null || true # its sleep first
        kill -KILL "$FEEDPID" 2>/dev/null || true
        FEEDPID=
        rm -f "$dir.feed"
    fi
    local left
    left=$(ls -A "$dir")
    if [[ $link == */target ]]; then
        skip "$name: the job was past writing (its fd is the target)"
    elif [[ $unnamed == 1 ]]; then
        # O_TMPFILE: nothing named was ever created.
        if [[ $mode == decrypt && $left == target ]] && cmp -s "$dir/target" "$W/plain"; then
            # The job verified the last chunk and linked the file between
            # our look at its descriptor and the kill: complete, so allowed.
            skip "$name: the job finished between the look and the kill"
        elif [[ $mode == decrypt && -n $left ]]; then
            fail "$name: O_TMPFILE in use, yet left: $left"
        elif [[ $mode == rewrap && $left != target ]]; then
            fail "$name: O_TMPFILE in use, yet left: $left"
        elif [[ $mode == rewrap ]] && ! cmp -s "$dir/target" "$W/big.kvs"; then
            # Changed is allowed only as the whole rewrap, renamed in place
            # before the kill: then it verifies under the new key.
            if "$BIN" -q verify -k "$W/key2.pem" "$dir/target" 2>/dev/null; then
                skip "$name: the rewrap finished between the look and the kill"
            else
                fail "$name: the original file changed"
            fi
        else
            pass
        fi
    else
        echo "  $name: no O_TMPFILE here ($link); a named temp file may remain: $left"
        pass
    fi
}
"$BIN" -q keygen --bits 2048 -o "$W/key2.pem" --public-out "$W/pub2.pem" >/dev/null
killed decrypt
killed rewrap

[[ $skipped -gt 0 ]] && echo "$skipped case(s) skipped"
summary
