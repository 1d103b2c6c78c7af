#!/usr/bin/env bash
# Round trips through the kvseal CLI at the sizes around chunk boundaries.
#
# For chunk sizes 4K, 1M and 64M and plaintext sizes 0, 1, C-1, C, C+1 and
# 5 MiB:
#   file: kvseal encrypt --threads T -o CT IN; the size of CT must be
#         44 + header_len + P + 16 * max(1, ceil(P / C)) (FORMAT.md §6);
#         kvseal decrypt --threads T -o OUT CT; cmp IN OUT        (T = 1, 2)
#   pipe: cat IN | kvseal encrypt --threads T | kvseal decrypt --threads 3-T | cmp - IN
#         every stage's exit status checked                       (T = 1, 2)
# With 64M chunks every kvseal process allocates chunk-sized buffers whatever
# the input size (about 2 s each on a busy 2-CPU machine), so there each size
# gets one or two of these trips (see trips()), together covering files and
# pipes with 1 and 2 threads on both sides; KVSEAL_E2E_FULL=1 runs all four.
#
# Env: KVSEAL_BIN (default: build/kvseal or build-interop/kvseal in the
# repository), KVSEAL_SRC (default: two levels up). Work dir under ${TMPDIR:-/tmp}.
# Last line "N passed, M failed"; exit 1 on any failure.
set -euo pipefail

SRC=${KVSEAL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [[ -n ${KVSEAL_BIN:-} ]]; then
    BIN=$KVSEAL_BIN
elif [[ -x $SRC/build/kvseal ]]; then
    BIN=$SRC/build/kvseal
else
    BIN=$SRC/build-interop/kvseal
fi
KEYS=$SRC/vectors/golden/keys
PUB=$KEYS/rsa2048-a.pub.pem
PRIV=$KEYS/rsa2048-a.pem
FULL=${KVSEAL_E2E_FULL:-0}

W=$(mktemp -d "${TMPDIR:-/tmp}/kvseal-roundtrip.XXXXXX")
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
errtext() { head -c 300 "$1" | tr '\n' ' '; }

if [[ ! -x $BIN ]]; then
    fail "setup: kvseal binary not found at $BIN (set KVSEAL_BIN)"
    echo "$passed passed, $failed failed"
    exit 1
fi

MIB=1048576
BIG=$((64 * MIB + 1))
# One random base file; every input is a prefix of it.
head -c "$BIG" /dev/urandom >"$W/base"

# expected_size CT P C: the size FORMAT.md §6 gives for CT's header.
expected_size() {
    local ct=$1 p=$2 c=$3 b hl n
    # header_len: big-endian bytes 8..11
    read -r -a b < <(od -An -v -tu1 -j8 -N4 "$ct")
    hl=$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]))
    n=$(((p + c - 1) / c))
    ((n == 0)) && n=1
    echo $((44 + hl + p + 16 * n))
}

# file_trip NAME IN P C CHUNKARG TENC TDEC
file_trip() {
    local name=$1 in=$2 p=$3 c=$4 arg=$5 te=$6 td=$7 rc=0 want got
    rm -f "$W/ct" "$W/out"
    "$BIN" encrypt --threads "$te" --chunk-size "$arg" -r "$PUB" -o "$W/ct" "$in" \
        2>"$W/err" || rc=$?
    if ((rc != 0)); then
        fail "$name: encrypt exit $rc, expected 0; stderr: $(errtext "$W/err")"
        return
    fi
    want=$(expected_size "$W/ct" "$p" "$c")
    got=$(stat -c %s "$W/ct")
    if ((want != got)); then
        fail "$name: ciphertext is $got bytes, expected $want"
        return
    fi
    "$BIN" decrypt --threads "$td" -k "$PRIV" -o "$W/out" "$W/ct" 2>"$W/err" || rc=$?
    if ((rc != 0)); then
        fail "$name: decrypt exit $rc, expected 0; stderr: $(errtext "$W/err")"
        return
    fi
    if ! cmp -s "$in" "$W/out"; then
        fail "$name: decrypted file differs: $(cmp "$in" "$W/out" 2>&1 | head -1)"
        return
    fi
    pass
}

# pipe_trip NAME IN C CHUNKARG TENC TDEC
pipe_trip() {
    local name=$1 in=$2 arg=$4 te=$5 td=$6 st
    set +e
    # cat on purpose: encrypt must read a pipe, not a regular file.
    # shellcheck disable=SC2002
    cat "$in" |
        "$BIN" encrypt --threads "$te" --chunk-size "$arg" -r "$PUB" 2>"$W/err.enc" |
        "$BIN" decrypt --threads "$td" -k "$PRIV" 2>"$W/err.dec" |
        cmp -s - "$in"
    st=("${PIPESTATUS[@]}")
    set -e
    if ((st[0] != 0)); then
        fail "$name: cat exit ${st[0]}"
    elif ((st[1] != 0)); then
        fail "$name: encrypt exit ${st[1]}, expected 0; stderr: $(errtext "$W/err.enc")"
    elif ((st[2] != 0)); then
        fail "$name: decrypt exit ${st[2]}, expected 0; stderr: $(errtext "$W/err.dec")"
    elif ((st[3] != 0)); then
        fail "$name: plaintext out of the pipe differs from the input (cmp exit ${st[3]})"
    else
        pass
    fi
}

# trips C P: the round trips to run, as MODE:TENC:TDEC words.
trips() {
    local c=$1 p=$2
    if ((c < 64 * MIB || FULL == 1)); then
        echo file:1:1 file:2:2 pipe:1:2 pipe:2:1
        return
    fi
    # 64M chunks: every process allocates chunk-sized buffers (about 2 s and
    # 75-200 MB each), so one or two trips per size, covering both modes and
    # both thread counts on each side across the sizes.
    case $p in
    0) echo file:1:2 ;;
    1) echo pipe:2:1 ;;
    $((c - 1))) echo pipe:1:2 ;;
    "$c") echo file:2:1 ;;
    $((c + 1))) echo file:1:2 pipe:2:1 ;;
    *) echo pipe:1:2 ;;
    esac
}

for spec in 4K:4096 1M:$MIB 64M:$((64 * MIB)); do
    arg=${spec%%:*}
    c=${spec#*:}
    for p in 0 1 $((c - 1)) "$c" $((c + 1)) $((5 * MIB)); do
        head -c "$p" "$W/base" >"$W/in"
        for trip in $(trips "$c" "$p"); do
            IFS=: read -r mode te td <<<"$trip"
            name="$mode/cs$arg/size$p/threads$te->$td"
            if [[ $mode == file ]]; then
                file_trip "$name" "$W/in" "$p" "$c" "$arg" "$te" "$td"
            else
                pipe_trip "$name" "$W/in" "$c" "$arg" "$te" "$td"
            fi
        done
    done
done
rm -f "$W/in" "$W/ct" "$W/out"

summary
