#!/usr/bin/env bash
# decrypt -o DIR of many files with local RSA keys: the data keys are
# unwrapped ahead by several threads (src/cli/restore.c, dekcache.c). Every
# file must come back byte-identical whatever the interleaving: distinct data
# keys, data keys shared by several files (--share-dek), files only a second
# key opens, and a file whose wrapped key is damaged (reported, nothing
# written, the others restored). Run it under ASan/TSan builds too.
#
# Needs: KVSEAL_BIN; openssl.
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/a.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/b.pem" 2>/dev/null
openssl pkey -in "$W/a.pem" -pubout -out "$W/a.pub" 2>/dev/null
openssl pkey -in "$W/b.pem" -pubout -out "$W/b.pub" 2>/dev/null

mkdir "$W/plain" "$W/one" "$W/shared" "$W/onlyb" "$W/enc"
for i in $(seq 1 60); do head -c $((i * 37 % 3000)) /dev/urandom >"$W/plain/one$i"; done
for i in $(seq 1 40); do head -c $((i * 53 % 5000 + 1)) /dev/urandom >"$W/plain/shared$i"; done
for i in $(seq 1 20); do head -c $((i * 11)) /dev/urandom >"$W/plain/onlyb$i"; done

# 60 data keys; 4 data keys for 40 files; 20 files for key b only.
run "$BIN" encrypt -r "$W/a.pub" -o "$W/one" "$W"/plain/one*
check "encrypt distinct keys" test "$RC" -eq 0
run "$BIN" encrypt --share-dek-max-files 10 -r "$W/a.pub" -o "$W/shared" "$W"/plain/shared*
check "encrypt shared keys" test "$RC" -eq 0
run "$BIN" encrypt -r "$W/b.pub" -o "$W/onlyb" "$W"/plain/onlyb*
check "encrypt for b" test "$RC" -eq 0
mv "$W"/one/*.kvs "$W"/shared/*.kvs "$W"/onlyb/*.kvs "$W/enc/"

# restore N OUTDIR OPTIONS...: decrypt all, compare all.
restore() {
    local name=$1 out=$2
    shift 2
    mkdir "$out"
    run "$BIN" decrypt -k "$W/a.pem" -k "$W/b.pem" "$@" -o "$out" "$W"/enc/*.kvs
    check "$name: exit 0" test "$RC" -eq 0
    local bad=0 f
    for f in "$W"/plain/*; do
        cmp -s "$f" "$out/$(basename "$f")" || bad=$((bad + 1))
    done
    check "$name: 120 files byte-identical ($bad differ)" test "$bad" -eq 0
    check "$name: nothing else written" test "$(find "$out" -type f | wc -l)" -eq 120
}
restore "parallel" "$W/out1" --threads 4 --unwrap-concurrency 8 -v
check "parallel: 4 unwrap threads" grep -q "inputs unlocked ahead of decryption, 4 at a time" "$W/stderr"
restore "two workers" "$W/out2" --threads 2 -v
check "two workers: 2 unwrap threads" grep -q "unlocked ahead of decryption, 2 at a time" "$W/stderr"
restore "one at a time" "$W/out3" --unwrap-concurrency 1 -v
check "one at a time: none ahead" bash -c '! grep -q "unlocked ahead" "$1"' _ "$W/stderr"

# The same file named twice: one unwrap serves both (and both are correct).
mkdir "$W/twice"
run "$BIN" decrypt -k "$W/a.pem" -o "$W/twice" "$W/enc/one7.kvs" "$W/enc/one7.kvs" --force
check "same file twice: exit 0" test "$RC" -eq 0
check "same file twice: content" cmp -s "$W/plain/one7" "$W/twice/one7"

# A damaged wrapped key in one file: that file fails (exit 3: no recipient
# could be unwrapped), writes nothing; the other files are still restored.
cp "$W/enc/one9.kvs" "$W/bad.kvs"
"${KVSEAL_PYTHON:-/usr/bin/python3}" - "$W/bad.kvs" <<'EOF'
import re, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
m = re.search(rb'"wrapped_key"\s*:\s*"', b)
i = m.end() + 40  # a base64 digit in the middle of the wrapped key
b[i] = ord("B") if b[i] != ord("B") else ord("C")
open(p, "wb").write(b)
EOF
mkdir "$W/out4" "$W/in4"
cp "$W/bad.kvs" "$W/in4/"
cp "$W"/enc/one1?.kvs "$W"/enc/shared1?.kvs "$W/in4/"
run "$BIN" decrypt -k "$W/a.pem" --threads 2 -o "$W/out4" "$W"/in4/*.kvs
check "damaged key: exit 3 ($RC)" test "$RC" -eq 3
check "damaged key: named" grep -q "bad.kvs" "$W/stderr"
check "damaged key: no output" test ! -e "$W/out4/bad"
bad=0
for f in "$W"/in4/one1?.kvs "$W"/in4/shared1?.kvs; do
    n=$(basename "$f" .kvs)
    cmp -s "$W/plain/$n" "$W/out4/$n" || bad=$((bad + 1))
done
check "damaged key: the other files restored ($bad differ)" test "$bad" -eq 0

summary
