#!/usr/bin/env bash
# --progress / --no-progress of encrypt, decrypt and verify: progress text on
# stderr when asked for, nothing on stderr in pipes and logs otherwise, and on
# by default when stderr is a terminal (checked under script(1) if present).
#
# Needs: KVSEAL_BIN (the kvseal binary).
# (bash -c '...' snippets get their values as "$1"... on purpose.)
# shellcheck disable=SC2016
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

stderr_empty() { [[ ! -s $W/stderr ]]; }
# A summary line "kvseal: CMD: <size> in <time>, <rate>/s" ending in a newline.
has_summary() {
    grep -q "kvseal: $1: .* in .*/s" "$W/stderr" && [[ $(tail -c 1 "$W/stderr" | od -An -c | tr -d ' ') == '\n' ]]
}

test_key rsa4096 "$W/k.pem"
head -c 3000000 /dev/urandom >"$W/in"

# --progress into a file: text, and a final newline.
run "$BIN" encrypt -r "$W/k.pem" --progress --chunk-size 64K -o "$W/in.kvs" "$W/in"
check "encrypt --progress exit 0 (got $RC)" test "$RC" -eq 0
check "encrypt --progress writes a summary" has_summary encrypt
check "encrypt --progress: total size shown" grep -q "2.86 MiB" "$W/stderr"

run "$BIN" decrypt -k "$W/k.pem" --progress -o "$W/out" "$W/in.kvs"
check "decrypt --progress exit 0 (got $RC)" test "$RC" -eq 0
check "decrypt --progress writes a summary" has_summary decrypt
check "decrypt --progress output intact" cmp -s "$W/in" "$W/out"

run "$BIN" verify -k "$W/k.pem" --progress "$W/in.kvs"
check "verify --progress exit 0 (got $RC)" test "$RC" -eq 0
check "verify --progress writes a summary" has_summary verify
check "verify --progress keeps OK on stdout" grep -qx "OK: $W/in.kvs" "$W/stdout"

# Streams: --progress still reports, without a size.
run sh -c '"$1" encrypt -r "$2" --progress <"$3" | cat >/dev/null' sh "$BIN" "$W/k.pem" "$W/in"
check "encrypt --progress in a pipe: summary" has_summary encrypt

# Without a terminal and without --progress: stderr stays empty.
rm -f "$W/in.kvs" "$W/out"
run "$BIN" encrypt -r "$W/k.pem" -o "$W/in.kvs" "$W/in"
check "encrypt default exit 0 (got $RC)" test "$RC" -eq 0
check "encrypt default: stderr empty" stderr_empty
run "$BIN" decrypt -k "$W/k.pem" -o "$W/out" "$W/in.kvs"
check "decrypt default: stderr empty" stderr_empty
run "$BIN" verify -k "$W/k.pem" "$W/in.kvs"
check "verify default: stderr empty" stderr_empty
run sh -c 'cat "$3" | "$1" encrypt -r "$2" | "$1" decrypt -k "$2" | cmp -s - "$3"' sh "$BIN" "$W/k.pem" "$W/in"
check "pipeline default exit 0 (got $RC)" test "$RC" -eq 0
check "pipeline default: stderr empty" stderr_empty

# The last of --progress / --no-progress wins.
run "$BIN" encrypt -r "$W/k.pem" --progress --no-progress -o "$W/x.kvs" "$W/in"
check "--progress --no-progress: stderr empty" stderr_empty

# A failure under --progress: the error is a line of its own.
cp "$W/in.kvs" "$W/bad.kvs"
printf 'X' | dd of="$W/bad.kvs" bs=1 seek=2000000 conv=notrunc status=none
run "$BIN" decrypt -k "$W/k.pem" --progress -o "$W/bad.out" "$W/bad.kvs"
check "damaged file exit 2 (got $RC)" test "$RC" -eq 2
check "damaged file: error on its own line" grep -q '^kvseal: decrypt: .*bad.kvs' "$W/stderr"
check "damaged file: no output" test ! -e "$W/bad.out"

# On a terminal the meter is on by default; --no-progress turns it off. The
# input is a pipe that stalls, so the job outlasts the first redraw.
if command -v script >/dev/null 2>&1; then
    slow='{ head -c 1000000 "$3"; sleep 1; head -c 1000000 "$3"; } | "$1" encrypt -r "$2" $4 >/dev/null'
    script -qec "sh -c '$slow' sh '$BIN' '$W/k.pem' '$W/in' ''" /dev/null >"$W/tty" 2>&1 || true
    check "terminal: progress on by default" grep -q "kvseal: encrypt: .*/s" "$W/tty"
    script -qec "sh -c '$slow' sh '$BIN' '$W/k.pem' '$W/in' --no-progress" /dev/null >"$W/tty" 2>&1 || true
    check "terminal: --no-progress is silent" test ! -s "$W/tty"
fi

summary
