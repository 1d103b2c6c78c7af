#!/usr/bin/env bash
# Output targets that an attacker can plant (issue 15 item 1): a FIFO, a
# symbolic link to a FIFO, a device or a file, at the -o path or at a name
# that -o DIR will write, before the run or while it runs. No plaintext (and
# no ciphertext) may reach a node that kvseal did not create, unless the user
# named that node explicitly (-o /dev/null, -o /dev/stdout, -o FIFO --force).
#
# A FIFO's reader runs in the background with a timeout and is released by
# opening the FIFO's write end ourselves, so no case can hang.
#
# Needs: KVSEAL_BIN.
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
base=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
W=$(mktemp -d "$base/kvseal-outsafe.XXXXXX")
READERS=()
BGPID=
cleanup() {
    local p
    for p in "${READERS[@]}" $BGPID; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/procfd.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/procfd.sh"

"$BIN" -q keygen --bits 2048 -o "$W/key.pem" --public-out "$W/pub.pem" >/dev/null
head -c 300000 /dev/urandom >"$W/plain"
"$BIN" -q encrypt -r "$W/pub.pem" --chunk-size 64K -o "$W/f.kvs" "$W/plain"
A=$W/att # the attacker's directory
mkdir "$A"

# ---- helpers ------------------------------------------------------------------

# reader_start FIFO GOT: read FIFO into GOT in the background; returns once
# the reader waits in open() for a writer (at most 2 s), so that it holds the
# FIFO even if its name is replaced right afterwards.
READER=
reader_start() {
    local i
    cat "$1" >"$2" 3>&- &
    READER=$!
    READERS+=("$READER")
    for ((i = 0; i < 200; i++)); do
        [[ $(cat /proc/"$READER"/wchan 2>/dev/null) == wait_for_partner ]] && return 0
        kill -0 "$READER" 2>/dev/null || return 0
        sleep 0.01
    done
}
# reader_stop FIFO: release a reader still waiting in open() by opening the
# write end ourselves (a no-op once the reader has finished), then reap it.
# If FIFO was replaced meanwhile, the reader waits on a FIFO that has no name
# any more: it gets 0.2 s to finish, then it is killed.
reader_stop() {
    local i
    if ! kill -0 "$READER" 2>/dev/null; then
        : # finished: it was written to, and the writer closed
    elif [[ -p $1 ]]; then
        timeout 2 bash -c ': >"$1"' _ "$1" 2>/dev/null || true
    else
        for ((i = 0; i < 20; i++)); do
            kill -0 "$READER" 2>/dev/null || break
            sleep 0.01
        done
        kill "$READER" 2>/dev/null || true
    fi
    wait "$READER" 2>/dev/null || true
}

# refused NAME WANT_RC FIFO GOT CMD...: CMD exits WANT_RC with one error line and
# the reader of FIFO got nothing.
refused() {
    local name=$1 want=$2 fifo=$3 got=$4
    shift 4
    reader_start "$fifo" "$got"
    run "$@"
    reader_stop "$fifo"
    if [[ $RC -ne $want ]]; then
        fail "$name: exit $RC, expected $want; stderr: $(head -c 300 "$W/stderr")"
    elif [[ -s $got ]]; then
        fail "$name: the planted FIFO received $(wc -c <"$got") bytes"
    elif [[ $(wc -l <"$W/stderr") -ne 1 ]] || ! grep -q '^kvseal: [a-z]*: ' "$W/stderr"; then
        fail "$name: expected one error line, got: $(head -c 300 "$W/stderr")"
    else
        pass
    fi
}

# not_fed NAME FIFO GOT CMD...: CMD succeeds, and the reader of FIFO got nothing.
not_fed() {
    local name=$1 fifo=$2 got=$3
    shift 3
    reader_start "$fifo" "$got"
    run "$@"
    reader_stop "$fifo"
    if [[ $RC -ne 0 ]]; then
        fail "$name: exit $RC; stderr: $(head -c 300 "$W/stderr")"
    elif [[ -s $got ]]; then
        fail "$name: the planted FIFO received $(wc -c <"$got") bytes"
    else
        pass
    fi
}

is_regular_not_link() { [[ -f $1 && ! -L $1 ]]; }
# holds FILE EXPECTED: FILE is a regular file (never a FIFO: cmp would block)
# with EXPECTED's bytes.
holds() { is_regular_not_link "$1" && cmp -s "$1" "$2"; }

# ---- -o PATH: a planted FIFO, or a symbolic link to one ----------------------

mkfifo "$A/fifo"
ln -s "$A/fifo" "$W/out"
refused "decrypt -o symlink-to-FIFO" 1 "$A/fifo" "$W/got" \
    "$BIN" decrypt -k "$W/key.pem" -o "$W/out" "$W/f.kvs"
check "decrypt -o symlink-to-FIFO: the link is left alone" test -L "$W/out"
refused "encrypt -o symlink-to-FIFO" 1 "$A/fifo" "$W/got" \
    "$BIN" encrypt -r "$W/pub.pem" -o "$W/out" "$W/plain"
refused "decrypt stdin -o symlink-to-FIFO" 1 "$A/fifo" "$W/got" \
    sh -c 'exec "$0" decrypt -k "$1" -o "$2" <"$3"' "$BIN" "$W/key.pem" "$W/out" "$W/f.kvs"
# --force replaces the link with a new regular file; it never follows it.
not_fed "decrypt -o symlink-to-FIFO --force" "$A/fifo" "$W/got" \
    "$BIN" decrypt -k "$W/key.pem" -f -o "$W/out" "$W/f.kvs"
check "decrypt -o symlink-to-FIFO --force: the link became a regular file" \
    is_regular_not_link "$W/out"
check "decrypt -o symlink-to-FIFO --force: the new file holds the plaintext" \
    holds "$W/out" "$W/plain"
check "decrypt -o symlink-to-FIFO --force: the FIFO is still there" test -p "$A/fifo"
rm -f "$W/out"

# A FIFO at -o itself (anyone can create one in a shared directory): refused
# without --force, for decrypt and encrypt.
mkfifo "$W/pipe"
refused "decrypt -o FIFO without --force" 1 "$W/pipe" "$W/got" \
    "$BIN" decrypt -k "$W/key.pem" -o "$W/pipe" "$W/f.kvs"
refused "encrypt -o FIFO without --force" 1 "$W/pipe" "$W/got" \
    "$BIN" encrypt -r "$W/pub.pem" -o "$W/pipe" "$W/plain"
if grep -q 'FIFO' "$W/stderr"; then pass; else
    fail "FIFO refusal should say what it found: $(cat "$W/stderr")"
fi
# Named explicitly with --force, a FIFO is written into (a named pipe to a
# consumer).
reader_start "$W/pipe" "$W/got"
run "$BIN" decrypt -k "$W/key.pem" -f -o "$W/pipe" "$W/f.kvs"
reader_stop "$W/pipe"
check "decrypt -o FIFO --force: exit 0" test "$RC" -eq 0
check "decrypt -o FIFO --force: the reader got the plaintext" holds "$W/got" "$W/plain"
check "decrypt -o FIFO --force: the FIFO stays a FIFO" test -p "$W/pipe"

# ---- rewrap of a FIFO or a device: refused at once, nothing waits for a writer ----

mkfifo "$W/rw.fifo"
run timeout 20 "$BIN" rewrap -k "$W/key.pem" -r "$W/pub.pem" "$W/rw.fifo"
check "rewrap FIFO: exit 1 without waiting (not 124 from timeout)" test "$RC" -eq 1
check "rewrap FIFO: says it is not a regular file" grep -q "not a regular file" "$W/stderr"
check "rewrap FIFO: the FIFO stays a FIFO" test -p "$W/rw.fifo"
run timeout 20 "$BIN" rewrap -k "$W/key.pem" -r "$W/pub.pem" /dev/null
check "rewrap /dev/null: exit 1" test "$RC" -eq 1

# ---- -o PATH: a symbolic link to a regular file or a device ---------------------

echo "attacker's file" >"$A/file"
cp "$A/file" "$W/file.orig"
ln -s "$A/file" "$W/lnk"
run "$BIN" decrypt -k "$W/key.pem" -o "$W/lnk" "$W/f.kvs"
check "decrypt -o symlink-to-file: exit 1" test "$RC" -eq 1
check "decrypt -o symlink-to-file: the linked file is unchanged" holds "$A/file" "$W/file.orig"
run "$BIN" decrypt -k "$W/key.pem" -f -o "$W/lnk" "$W/f.kvs"
check "decrypt -o symlink-to-file --force: exit 0" test "$RC" -eq 0
check "decrypt -o symlink-to-file --force: the linked file is unchanged" \
    holds "$A/file" "$W/file.orig"
check "decrypt -o symlink-to-file --force: the link was replaced" is_regular_not_link "$W/lnk"
check "decrypt -o symlink-to-file --force: the plaintext is in the new file" \
    holds "$W/lnk" "$W/plain"

ln -s /dev/null "$W/nul"
run "$BIN" decrypt -k "$W/key.pem" -o "$W/nul" "$W/f.kvs"
check "decrypt -o symlink-to-/dev/null: exit 1 (links are not followed)" test "$RC" -eq 1
check "decrypt -o symlink-to-/dev/null: the link is left alone" test -L "$W/nul"

# Devices named explicitly keep working without --force (documented).
run "$BIN" decrypt -k "$W/key.pem" -o /dev/null "$W/f.kvs"
check "decrypt -o /dev/null: exit 0" test "$RC" -eq 0
run "$BIN" encrypt -r "$W/pub.pem" -o /dev/null "$W/plain"
check "encrypt -o /dev/null: exit 0" test "$RC" -eq 0
run "$BIN" decrypt -k "$W/key.pem" -o /dev/stdout "$W/f.kvs"
check "decrypt -o /dev/stdout: exit 0" test "$RC" -eq 0
check "decrypt -o /dev/stdout: the plaintext on standard output" holds "$W/stdout" "$W/plain"

# ---- -o DIR: names planted before the run ------------------------------------------

D=$W/dir
mkdir "$D"
mkfifo "$D/f"
refused "decrypt -o DIR with a FIFO at the target name" 1 "$D/f" "$W/got" \
    "$BIN" decrypt -k "$W/key.pem" -o "$D" "$W/f.kvs"
# --force replaces what is at the name with a regular file, never writes into it.
not_fed "decrypt -o DIR --force with a FIFO at the target name" "$D/f" "$W/got" \
    "$BIN" decrypt -k "$W/key.pem" -f -o "$D" "$W/f.kvs"
check "decrypt -o DIR --force: the FIFO was replaced by the plaintext file" \
    is_regular_not_link "$D/f"
check "decrypt -o DIR --force: the new file holds the plaintext" holds "$D/f" "$W/plain"
rm -f "$D/f"
ln -s "$A/fifo" "$D/f"
not_fed "decrypt -o DIR --force with a symlink-to-FIFO at the target name" "$A/fifo" \
    "$W/got" "$BIN" decrypt -k "$W/key.pem" -f -o "$D" "$W/f.kvs"
check "decrypt -o DIR --force: the link was replaced" is_regular_not_link "$D/f"
rm -f "$D/f"
ln -s "$A/fifo" "$D/plain.kvs"
not_fed "encrypt -o DIR --force with a symlink-to-FIFO at the target name" "$A/fifo" \
    "$W/got" "$BIN" encrypt -r "$W/pub.pem" -f -o "$D" "$W/plain"
check "encrypt -o DIR --force: the link was replaced" is_regular_not_link "$D/plain.kvs"
rm -f "$D/plain.kvs"

# ---- -o DIR: a name planted while the run is busy with an earlier input -------------

# The first input is a FIFO that this script feeds: once half of it is in and
# the first output is open (after the up-front check of all names), a FIFO
# or a link is planted at the second input's output name; then the rest of
# the first input follows.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$W/first.plain"
"$BIN" -q encrypt -r "$W/pub.pem" --chunk-size 64K -o "$W/first.plain.kvs" "$W/first.plain"
cp "$W/plain" "$W/small"
"$BIN" -q encrypt -r "$W/pub.pem" --chunk-size 64K -o "$W/small.kvs" "$W/small"

# planted_midrun NAME FORCE(0|1) PLANT(fifo|link) MODE(encrypt|decrypt)
planted_midrun() {
    local name=$1 force=$2 plant=$3 mode=$4 dir=$W/mid in=$W/in fifo args second src
    rm -rf "$dir" "$in"
    mkdir "$dir" "$in"
    if [[ $mode == decrypt ]]; then
        src=$W/first.plain.kvs
        mkfifo "$in/first.kvs"
        args=(decrypt -k "$W/key.pem" -o "$dir" "$in/first.kvs" "$W/small.kvs")
        second=$dir/small
    else
        src=$W/first.plain
        mkfifo "$in/first"
        args=(encrypt -r "$W/pub.pem" -o "$dir" "$in/first" "$W/small")
        second=$dir/small.kvs
    fi
    [[ $force == 1 ]] && args+=(--force)
    if [[ $plant == fifo ]]; then fifo=$second; else fifo=$A/fifo; fi
    "$BIN" "${args[@]}" >/dev/null 2>"$W/stderr" &
    BGPID=$!
    exec 3>"$in"/first*
    head -c $((2 * 1024 * 1024)) "$src" >&3
    if ! output_fd "$dir" "$BGPID" -1 >/dev/null; then
        exec 3>&-
        wait "$BGPID" || true
        BGPID=
        fail "$name: the run ended before its first output was seen"
        return 0
    fi
    if [[ $plant == fifo ]]; then mkfifo "$second"; else ln -s "$A/fifo" "$second"; fi
    reader_start "$fifo" "$W/got"
    tail -c +$((2 * 1024 * 1024 + 1)) "$src" >&3
    exec 3>&-
    RC=0
    wait "$BGPID" || RC=$?
    BGPID=
    reader_stop "$fifo"
    if [[ -s $W/got ]]; then
        fail "$name: the planted FIFO received $(wc -c <"$W/got") bytes"
    elif [[ $force == 0 && $RC -ne 1 ]]; then
        fail "$name: exit $RC, expected 1: the planted name should have been refused"
    elif [[ $force == 0 && $plant == fifo && ! -p $second ]]; then
        fail "$name: the planted FIFO was replaced without --force"
    elif [[ $force == 0 && $plant == link && ! -L $second ]]; then
        fail "$name: the planted link was replaced without --force"
    elif [[ $force == 1 && ($RC -ne 0 || -L $second || ! -f $second) ]]; then
        fail "$name: exit $RC, expected 0 and a new regular file at $second"
    elif [[ -n $(find "$dir" -name '.*kvseal-tmp*') ]]; then
        fail "$name: a temp file was left: $(ls -A "$dir")"
    else
        pass
    fi
}

for mode in decrypt encrypt; do
    for plant in fifo link; do
        planted_midrun "$mode -o DIR, $plant planted mid-run" 0 "$plant" "$mode"
        planted_midrun "$mode -o DIR --force, $plant planted mid-run" 1 "$plant" "$mode"
    done
done

summary
