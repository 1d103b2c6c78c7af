#!/usr/bin/env bash
# End-to-end tests of the kvseal CLI: round trips, failure exit codes, and
# that a failed command leaves no output or temp file behind.
#
# Needs: KVSEAL_BIN (the kvseal binary); KVSEAL_PYTHON (default /usr/bin/python3).
# (sh -c '...' snippets get their values as "$1"... on purpose.)
# shellcheck disable=SC2016,SC2012
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# shellcheck source=lib/expect.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"

# check NAME CMD...: passes if CMD succeeds.

same() { cmp -s "$1" "$2"; }

mkdata() { # mkdata FILE SIZE
    head -c "$2" /dev/urandom >"$1"
}

# slice FILE OFFSET LENGTH -> stdout (Python slice semantics: clipped at the end).
slice() {
    "$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
o, n = int(sys.argv[2]), int(sys.argv[3])
sys.stdout.buffer.write(d[o:o + n])' "$@"
}

empty_dir() { [[ -z $(ls -A "$1") ]]; }

F="$W/fail" # output directory for commands expected to fail: must stay empty
mkdir "$F"

# ---------------------------------------------------------------- basics
expect "--version" 0 "$BIN" --version
check "--version text" grep -q '^kvseal ' "$W/stdout"
expect "--help" 0 "$BIN" --help
for c in encrypt decrypt inspect verify keygen; do
    expect "$c --help" 0 "$BIN" "$c" --help
    check "$c --help text" grep -q "^Usage: kvseal $c" "$W/stdout"
done
# Errors before a command is known: "kvseal: <message>", one line.
expect_global_error() {
    local name=$1
    shift
    run "$@"
    if [[ $RC -eq 1 && $(wc -l <"$W/stderr") -eq 1 ]] && grep -q '^kvseal: ' "$W/stderr"; then
        pass
    else
        fail "$name: exit $RC, stderr: $(head -c 400 "$W/stderr")"
    fi
}
expect_global_error "no command" "$BIN"
expect_global_error "unknown command" "$BIN" frobnicate
expect_global_error "unknown global option" "$BIN" --frobnicate encrypt
expect "unknown option" 1 "$BIN" encrypt --frobnicate
expect "missing option value" 1 "$BIN" encrypt -r

# ---------------------------------------------------------------- keygen
K="$W/keys"
mkdir "$K"
for k in k1 k2 k3; do
    expect "keygen $k" 0 "$BIN" keygen --bits 2048 -o "$K/$k.pem"
done
check "keygen prints key id" grep -q '^sha256:[0-9a-f]\{64\}$' "$W/stdout"
check "keygen mode 0600" test "$(stat -c %a "$K/k1.pem")" = 600
cp "$K/k1.pem" "$W/k1.copy"
expect_clean "keygen refuses overwrite" 1 "$K" "$BIN" keygen --bits 2048 -o "$K/k1.pem"
check "keygen overwrite left key intact" same "$K/k1.pem" "$W/k1.copy"
expect_clean "keygen bad bits" 1 "$K" "$BIN" keygen --bits 1024 -o "$K/small.pem"
expect_clean "keygen without -o" 1 "$K" "$BIN" keygen --bits 2048

printf 'correct horse battery staple\n' >"$W/pass"
printf 'wrong passphrase\n' >"$W/badpass"
expect "keygen with passphrase" 0 "$BIN" keygen --bits 2048 --passphrase-file "$W/pass" \
    -o "$K/kp.pem"
check "passphrase key is encrypted" grep -q 'ENCRYPTED' "$K/kp.pem"
check "passphrase key mode 0600" test "$(stat -c %a "$K/kp.pem")" = 600

expect "keygen --public-out" 0 "$BIN" keygen --bits 2048 -o "$K/k5.pem" \
    --public-out "$K/k5.pub.pem"
check "public key file" grep -q 'BEGIN PUBLIC KEY' "$K/k5.pub.pem"
check "public key has no private part" test "$(grep -c PRIVATE "$K/k5.pub.pem" || true)" = 0
expect_clean "keygen existing --public-out" 1 "$K" "$BIN" keygen --bits 2048 \
    -o "$K/k6.pem" --public-out "$K/k5.pub.pem"
expect "keygen -q prints nothing" 0 "$BIN" -q keygen --bits 2048 -o "$K/k7.pem"
check "keygen -q stdout empty" test ! -s "$W/stdout"

# ---------------------------------------------------------------- round trips
D="$W/data"
mkdir "$D"
SIZES="0 1 4095 4096 4097 3145728"
for s in $SIZES; do mkdata "$D/p$s" "$s"; done

R="$W/rt"
mkdir "$R"
for cs in 4K default; do
    copt=()
    [[ $cs == default ]] || copt=(--chunk-size "$cs")
    for s in $SIZES; do
        p="$D/p$s"
        t="$s-$cs"
        # path -> path
        expect "encrypt file $t" 0 "$BIN" encrypt -r "$K/k1.pem" "${copt[@]}" -o "$R/$t.kvs" "$p"
        expect "decrypt file $t" 0 "$BIN" decrypt -k "$K/k1.pem" -o "$R/$t.dec" "$R/$t.kvs"
        check "round trip file $t" same "$p" "$R/$t.dec"
        # pipe -> pipe
        RC=0
        "$BIN" encrypt -r "$K/k1.pem" "${copt[@]}" <"$p" | "$BIN" decrypt -k "$K/k1.pem" \
            >"$R/$t.pipe" 2>"$W/stderr" || RC=$?
        check "round trip pipe $t (exit $RC)" test "$RC" -eq 0
        check "round trip pipe $t content" same "$p" "$R/$t.pipe"
        # stdin -> file (atomic temp file path), file -> stdout
        expect "encrypt stdin->file $t" 0 sh -c '"$1" encrypt -r "$2" $4 -o "$3" < "$5"' _ \
            "$BIN" "$K/k1.pem" "$R/$t.s.kvs" "${copt[*]:-}" "$p"
        expect "decrypt stdin->file $t" 0 sh -c '"$1" decrypt -k "$2" -o "$3" < "$4"' _ \
            "$BIN" "$K/k1.pem" "$R/$t.s.dec" "$R/$t.s.kvs"
        check "round trip stdin->file $t" same "$p" "$R/$t.s.dec"
        expect "decrypt file->stdout $t" 0 "$BIN" decrypt -k "$K/k1.pem" "$R/$t.s.kvs"
        check "round trip file->stdout $t" same "$p" "$W/stdout"
    done
done
only_outputs() { # only_outputs DIR: no names other than *.kvs, *.dec, *.pipe
    local f
    for f in "$1"/* "$1"/.[!.]*; do
        [[ -e $f ]] || continue
        [[ $f =~ \.(kvs|dec|pipe)$ ]] || return 1
    done
}
check "no temp files after round trips" only_outputs "$R"
expect "explicit - for stdin/stdout" 0 sh -c \
    '"$1" encrypt -r "$2" -o - - < "$3" | "$1" decrypt -k "$2" -o - - > "$4"' _ \
    "$BIN" "$K/k1.pem" "$D/p4097" "$R/dash.out"
check "explicit - round trip" same "$D/p4097" "$R/dash.out"

# ---------------------------------------------------------------- recipients
P="$D/p4097"
expect "encrypt two recipients" 0 "$BIN" encrypt -r "$K/k1.pem" -r "$K/k2.pem" -o "$R/two.kvs" "$P"
expect "decrypt with first" 0 "$BIN" decrypt -k "$K/k1.pem" -o "$R/two.1" "$R/two.kvs"
check "first key content" same "$P" "$R/two.1"
expect "decrypt with second" 0 "$BIN" decrypt -k "$K/k2.pem" -o "$R/two.2" "$R/two.kvs"
check "second key content" same "$P" "$R/two.2"
expect "decrypt wrong key then right key" 0 "$BIN" decrypt -k "$K/k3.pem" -k "$K/k2.pem" \
    -o "$R/two.3" "$R/two.kvs"
check "key list content" same "$P" "$R/two.3"
expect_clean "wrong key: exit 3" 3 "$F" "$BIN" decrypt -k "$K/k3.pem" -o "$F/out" "$R/two.kvs"
expect_clean "wrong key stdin->file: exit 3" 3 "$F" sh -c '"$1" decrypt -k "$2" -o "$3" < "$4"' _ \
    "$BIN" "$K/k3.pem" "$F/out" "$R/two.kvs"
# Without -k only Azure Key Vault recipients are tried: none in this file.
expect_clean "decrypt without -k: exit 3" 3 "$F" "$BIN" decrypt -o "$F/out" "$R/two.kvs"
# without -k verify, like decrypt, tries Key Vault recipients only: none here
expect_clean "verify without -k (no Key Vault recipient)" 3 "$F" "$BIN" verify "$R/two.kvs"
expect_clean "encrypt without -r" 1 "$F" "$BIN" encrypt -o "$F/out" "$P"
expect_clean "missing key file" 1 "$F" "$BIN" decrypt -k "$K/nope.pem" -o "$F/out" "$R/two.kvs"
expect "encrypt to public key" 0 "$BIN" encrypt -r "$K/k5.pub.pem" -o "$R/pub.kvs" "$P"
expect "decrypt public-key file" 0 "$BIN" decrypt -k "$K/k5.pem" -o "$R/pub.dec" "$R/pub.kvs"
check "public key round trip" same "$P" "$R/pub.dec"
expect_clean "public key cannot decrypt" 3 "$F" "$BIN" decrypt -k "$K/k5.pub.pem" \
    -o "$F/out" "$R/pub.kvs"

# ---------------------------------------------------------------- context
expect "encrypt with context" 0 "$BIN" encrypt -r "$K/k1.pem" --context app=payroll \
    --context env=prod -o "$R/ctx.kvs" "$P"
expect "context match" 0 "$BIN" decrypt -k "$K/k1.pem" --context app=payroll \
    -o "$R/ctx.dec" "$R/ctx.kvs"
check "context match content" same "$P" "$R/ctx.dec"
expect "context subset match" 0 "$BIN" decrypt -k "$K/k1.pem" --context env=prod \
    --context app=payroll "$R/ctx.kvs"
expect_clean "context mismatch: exit 2" 2 "$F" "$BIN" decrypt -k "$K/k1.pem" \
    --context app=billing -o "$F/out" "$R/ctx.kvs"
expect_clean "context missing key: exit 2" 2 "$F" "$BIN" decrypt -k "$K/k1.pem" \
    --context tenant=x -o "$F/out" "$R/ctx.kvs"
expect_clean "context mismatch stdin->file: exit 2" 2 "$F" sh -c \
    '"$1" decrypt -k "$2" --context app=billing -o "$3" < "$4"' _ \
    "$BIN" "$K/k1.pem" "$F/out" "$R/ctx.kvs"
expect_clean "bad context syntax" 1 "$F" "$BIN" encrypt -r "$K/k1.pem" --context novalue \
    -o "$F/out" "$P"
expect_clean "duplicate context key" 1 "$F" "$BIN" encrypt -r "$K/k1.pem" --context a=1 \
    --context a=2 -o "$F/out" "$P"

# ---------------------------------------------------------------- options and overwrite
for bad in 1000 3K 128M 2M5 abc -4K 4Q ""; do
    expect_clean "bad chunk size '$bad'" 1 "$F" "$BIN" encrypt -r "$K/k1.pem" \
        --chunk-size "$bad" -o "$F/out" "$P"
done
expect "chunk size 64M accepted" 0 "$BIN" encrypt -r "$K/k1.pem" --chunk-size 64M \
    -o "$R/c64.kvs" "$D/p1"
expect "chunk size in bytes" 0 "$BIN" encrypt -r "$K/k1.pem" --chunk-size 8192 \
    -o "$R/c8k.kvs" "$D/p4097"
expect_clean "bad --threads" 1 "$F" "$BIN" encrypt -r "$K/k1.pem" --threads x -o "$F/out" "$P"

E="$W/exists"
mkdir "$E"
echo "precious" >"$E/target"
cp "$E/target" "$W/target.copy"
expect_clean "encrypt existing output: exit 1" 1 "$E" "$BIN" encrypt -r "$K/k1.pem" \
    -o "$E/target" "$P"
expect_clean "encrypt stdin existing output: exit 1" 1 "$E" sh -c \
    '"$1" encrypt -r "$2" -o "$3" < "$4"' _ "$BIN" "$K/k1.pem" "$E/target" "$P"
expect_clean "decrypt existing output: exit 1" 1 "$E" "$BIN" decrypt -k "$K/k1.pem" \
    -o "$E/target" "$R/two.kvs"
check "existing output untouched" same "$E/target" "$W/target.copy"
expect_clean "failed --force keeps target" 3 "$E" "$BIN" decrypt -k "$K/k3.pem" --force \
    -o "$E/target" "$R/two.kvs"
check "failed --force left target untouched" same "$E/target" "$W/target.copy"
expect "--force replaces" 0 "$BIN" decrypt -k "$K/k1.pem" --force -o "$E/target" "$R/two.kvs"
check "--force content" same "$E/target" "$P"
check "--force left no temp file" test "$(ls -A "$E")" = target
expect "output to /dev/null" 0 "$BIN" decrypt -k "$K/k1.pem" -o /dev/null "$R/two.kvs"

# ---------------------------------------------------------------- hostile / damaged input
mkdata "$W/random.bin" 5000
expect_clean "decrypt not-kvseal: exit 2" 2 "$F" "$BIN" decrypt -k "$K/k1.pem" \
    -o "$F/out" "$W/random.bin"
expect_clean "decrypt not-kvseal stdin: exit 2" 2 "$F" sh -c \
    '"$1" decrypt -k "$2" -o "$3" < "$4"' _ "$BIN" "$K/k1.pem" "$F/out" "$W/random.bin"
expect "inspect not-kvseal: exit 2" 2 "$BIN" inspect "$W/random.bin"
expect "verify not-kvseal: exit 2" 2 "$BIN" verify -k "$K/k1.pem" "$W/random.bin"
expect "inspect empty file: exit 2" 2 "$BIN" inspect /dev/null
expect "decrypt missing input: exit 4" 4 "$BIN" decrypt -k "$K/k1.pem" "$W/no-such-file"

BIG="$R/3145728-4K.kvs"
expect "verify ok" 0 "$BIN" verify -k "$K/k1.pem" "$BIG"
check "verify prints OK" grep -qx "OK: $BIG" "$W/stdout"
expect "verify quiet" 0 "$BIN" -q verify -k "$K/k1.pem" "$BIG"
check "verify quiet prints nothing" test ! -s "$W/stdout"
expect "verify stdin" 0 sh -c '"$1" verify -k "$2" - < "$3"' _ "$BIN" "$K/k1.pem" "$BIG"
expect "verify wrong key: exit 3" 3 "$BIN" verify -k "$K/k3.pem" "$BIG"

corrupt() { # corrupt IN OUT OFFSET: flip one byte
    "$PY" -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[int(sys.argv[3])] ^= 0x40
open(sys.argv[2], "wb").write(d)' "$@"
}
SZ=$(stat -c %s "$BIG")
corrupt "$BIG" "$W/corrupt-mid.kvs" $((SZ / 2))
corrupt "$BIG" "$W/corrupt-last.kvs" $((SZ - 1))
corrupt "$BIG" "$W/corrupt-hdr.kvs" 30
head -c $((SZ - 1)) "$BIG" >"$W/truncated.kvs"
head -c $((SZ - 4112)) "$BIG" >"$W/truncated-chunk.kvs"
cat "$BIG" "$D/p1" >"$W/trailing.kvs"
for bad in corrupt-mid corrupt-last corrupt-hdr truncated truncated-chunk trailing; do
    expect "verify $bad: exit 2" 2 "$BIN" verify -k "$K/k1.pem" "$W/$bad.kvs"
    check "verify $bad prints no OK" test ! -s "$W/stdout"
    expect_clean "decrypt $bad: exit 2" 2 "$F" "$BIN" decrypt -k "$K/k1.pem" \
        -o "$F/out" "$W/$bad.kvs"
done
expect_clean "decrypt corrupt via stdin->file: exit 2" 2 "$F" sh -c \
    '"$1" decrypt -k "$2" -o "$3" < "$4"' _ "$BIN" "$K/k1.pem" "$F/out" "$W/corrupt-mid.kvs"
# On a pipe, a failure mid-stream leaves only a verified prefix.
RC=0
"$BIN" decrypt -k "$K/k1.pem" "$W/corrupt-mid.kvs" >"$W/prefix" 2>"$W/stderr" || RC=$?
check "stream decrypt of corrupt file exits 2 (got $RC)" test "$RC" -eq 2
check "stream prefix is a verified prefix" \
    "$PY" -c 'import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
sys.exit(0 if len(a) < len(b) and b.startswith(a) and len(a) % 4096 == 0 else 1)' \
    "$W/prefix" "$D/p3145728"

# ---------------------------------------------------------------- inspect
expect "inspect text" 0 "$BIN" inspect "$R/ctx.kvs"
check "inspect text suite" grep -q 'AES-256-GCM-HKDF-SHA256' "$W/stdout"
check "inspect text chunk size" grep -q '^chunk size: *1048576$' "$W/stdout"
check "inspect text context" grep -q '^  app=payroll$' "$W/stdout"
check "inspect text plaintext size" grep -q '^plaintext size: *4097$' "$W/stdout"
check "inspect text recipient" grep -q 'type=rsa alg=RSA-OAEP-256 key_id=sha256:' "$W/stdout"

expect "encrypt for json" 0 "$BIN" encrypt -r "$K/k1.pem" -r "$K/k2.pem" --chunk-size 4K \
    --context app=payroll -o "$R/json.kvs" "$D/p3145728"
expect "inspect --json" 0 "$BIN" inspect --json "$R/json.kvs"
check "inspect json fields" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
size = int(sys.argv[2])
assert j["format_version"] == 1
assert j["suite"] == "AES-256-GCM-HKDF-SHA256"
assert j["chunk_size"] == 4096
assert j["context"] == {"app": "payroll"}
assert isinstance(j["created"], str) and j["created"].endswith("Z")
assert len(j["recipients"]) == 2
for i, r in enumerate(j["recipients"]):
    assert r["index"] == i and r["type"] == "rsa" and r["alg"] == "RSA-OAEP-256"
    assert r["key_id"].startswith("sha256:") and len(r["key_id"]) == 71
    assert r["wrapped_key_len"] == 256
assert j["recipients"][0]["key_id"] != j["recipients"][1]["key_id"]
assert j["payload_offset"] == 8 + 4 + j["header_len"] + 32
assert j["file_size"] == size
assert j["plaintext_size"] == 3145728
assert j["chunks"] == 768
assert j["header_authenticated"] is False
assert "error" not in j
' "$W/stdout" "$(stat -c %s "$R/json.kvs")"
expect "inspect json stdin pipe" 0 sh -c '"$1" inspect --json - < "$2" | cat' _ "$BIN" "$R/json.kvs"
expect "inspect --no-created" 0 sh -c \
    '"$1" encrypt -r "$2" --no-created -o "$3" "$4" && "$1" inspect --json "$3"' _ \
    "$BIN" "$K/k1.pem" "$R/nocreated.kvs" "$D/p1"
check "inspect created null" "$PY" -c '
import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["created"] is None else 1)' \
    "$W/stdout"
# A size no valid file can have: 3 bytes into the payload.
"$BIN" inspect --json "$R/json.kvs" >"$W/j"
PO=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["payload_offset"])' "$W/j")
head -c $((PO + 3)) "$R/json.kvs" >"$W/impossible.kvs"
expect "inspect impossible size: exit 2" 2 "$BIN" inspect --json "$W/impossible.kvs"
check "inspect impossible size json" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["plaintext_size"] is None and j["chunks"] is None and j["error"]' "$W/stdout"

# ---------------------------------------------------------------- byte ranges
BIGP="$D/p3145728"
SIZE=3145728
for range in "0 100" "4000 200" "4095 1" "4096 4096" "8191 2" "12000 20000" "0 $SIZE" \
    "$((SIZE - 10)) 10" "$((SIZE - 10)) 100" "$((SIZE - 4097)) 4097" "1048575 3"; do
    read -r off len <<<"$range"
    set -- "$off" "$len"
    expect "range $1+$2" 0 "$BIN" decrypt -k "$K/k1.pem" --offset "$1" --length "$2" "$BIG"
    slice "$BIGP" "$1" "$2" >"$W/want"
    check "range $1+$2 content" same "$W/want" "$W/stdout"
done
expect "range to file" 0 "$BIN" decrypt -k "$K/k1.pem" --offset 5000 --length 9000 \
    -o "$R/range.out" "$BIG"
slice "$BIGP" 5000 9000 >"$W/want"
check "range to file content" same "$W/want" "$R/range.out"
expect "range offset only" 0 "$BIN" decrypt -k "$K/k1.pem" --offset $((SIZE - 5000)) "$BIG"
slice "$BIGP" $((SIZE - 5000)) 5000 >"$W/want"
check "range offset only content" same "$W/want" "$W/stdout"
expect "range with K suffix" 0 "$BIN" decrypt -k "$K/k1.pem" --offset 4K --length 1K "$BIG"
slice "$BIGP" 4096 1024 >"$W/want"
check "range K suffix content" same "$W/want" "$W/stdout"
expect "range default chunk size" 0 "$BIN" decrypt -k "$K/k1.pem" --offset 1048570 \
    --length 20 "$R/3145728-default.kvs"
slice "$BIGP" 1048570 20 >"$W/want"
check "range default chunk size content" same "$W/want" "$W/stdout"
expect_clean "range past the end: exit 1" 1 "$F" "$BIN" decrypt -k "$K/k1.pem" \
    --offset $((SIZE + 1)) --length 1 -o "$F/out" "$BIG"
expect "range from a pipe: exit 1" 1 sh -c \
    'cat "$3" | "$1" decrypt -k "$2" --offset 0 --length 10' _ "$BIN" "$K/k1.pem" "$BIG"
expect_clean "range on truncated file: exit 2" 2 "$F" "$BIN" decrypt -k "$K/k1.pem" \
    --offset 0 --length 10 -o "$F/out" "$W/truncated.kvs"
expect_clean "range wrong key: exit 3" 3 "$F" "$BIN" decrypt -k "$K/k3.pem" \
    --offset 0 --length 10 -o "$F/out" "$BIG"
expect_clean "bad --offset" 1 "$F" "$BIN" decrypt -k "$K/k1.pem" --offset -1 \
    -o "$F/out" "$BIG"

# ---------------------------------------------------------------- passphrases
expect "encrypt to passphrase key" 0 "$BIN" encrypt -r "$K/kp.pem" --passphrase-file "$W/pass" \
    -o "$R/pp.kvs" "$P"
expect "decrypt --passphrase-file" 0 "$BIN" decrypt -k "$K/kp.pem" --passphrase-file "$W/pass" \
    -o "$R/pp.1" "$R/pp.kvs"
check "passphrase-file content" same "$P" "$R/pp.1"
expect "decrypt --passphrase-env" 0 env KVS_TEST_PW='correct horse battery staple' \
    "$BIN" decrypt -k "$K/kp.pem" --passphrase-env KVS_TEST_PW -o "$R/pp.2" "$R/pp.kvs"
check "passphrase-env content" same "$P" "$R/pp.2"
expect "verify with passphrase" 0 "$BIN" verify -k "$K/kp.pem" --passphrase-file "$W/pass" \
    "$R/pp.kvs"
expect_clean "wrong passphrase fails" 1 "$F" "$BIN" decrypt -k "$K/kp.pem" \
    --passphrase-file "$W/badpass" -o "$F/out" "$R/pp.kvs"
run "$BIN" decrypt -k "$K/kp.pem" -o "$F/out" "$R/pp.kvs"
check "missing passphrase fails (exit $RC)" test "$RC" -ne 0
check "missing passphrase left nothing" empty_dir "$F"
check "passphrase never echoed" test "$(grep -c 'correct horse' "$W/stderr" || true)" = 0
expect_clean "unset passphrase env" 1 "$F" env -u KVS_NOPE "$BIN" decrypt -k "$K/kp.pem" \
    --passphrase-env KVS_NOPE -o "$F/out" "$R/pp.kvs"
expect_clean "missing passphrase file" 1 "$F" "$BIN" decrypt -k "$K/kp.pem" \
    --passphrase-file "$W/nope" -o "$F/out" "$R/pp.kvs"
expect_clean "both passphrase options" 1 "$F" env X=1 "$BIN" decrypt -k "$K/kp.pem" \
    --passphrase-file "$W/pass" --passphrase-env X -o "$F/out" "$R/pp.kvs"
expect "keygen --passphrase-env" 0 env KVS_TEST_PW=s3cret "$BIN" keygen --bits 2048 \
    --passphrase-env KVS_TEST_PW -o "$K/kpe.pem"
check "passphrase-env key is encrypted" grep -q 'ENCRYPTED' "$K/kpe.pem"

# ---------------------------------------------------------------- several inputs
M="$W/multi"
O1="$W/multi.enc"
O2="$W/multi.dec"
mkdir "$M" "$O1" "$O2"
mkdata "$M/a" 10
mkdata "$M/b.txt" 5000
mkdata "$M/c" 0
expect "encrypt several into dir" 0 "$BIN" encrypt -r "$K/k1.pem" -o "$O1" "$M/a" "$M/b.txt" "$M/c"
check "encrypt dir names" test "$(ls -A "$O1" | tr '\n' ' ')" = "a.kvs b.txt.kvs c.kvs "
cp "$O1/a.kvs" "$O1/plain-name"
expect "decrypt several into dir" 0 "$BIN" decrypt -k "$K/k1.pem" -o "$O2" \
    "$O1/a.kvs" "$O1/b.txt.kvs" "$O1/c.kvs" "$O1/plain-name"
check "decrypt dir names" test "$(ls -A "$O2" | tr '\n' ' ')" = "a b.txt c plain-name.out "
for f in a b.txt c; do check "several inputs: $f" same "$M/$f" "$O2/$f"; done
check "several inputs: suffix-less name" same "$M/a" "$O2/plain-name.out"
# One bad input among several: the others are still done, exit code of the failure.
O3="$W/multi.dec3"
mkdir "$O3"
cp "$W/corrupt-mid.kvs" "$O1/bad.kvs"
expect "several inputs, one corrupt: exit 2" 2 "$BIN" decrypt -k "$K/k1.pem" -o "$O3" \
    "$O1/a.kvs" "$O1/bad.kvs" "$O1/c.kvs"
check "several inputs, one corrupt: others written, no temp" \
    test "$(ls -A "$O3" | tr '\n' ' ')" = "a c "
expect_clean "several inputs without dir: exit 1" 1 "$F" "$BIN" encrypt -r "$K/k1.pem" \
    "$M/a" "$M/c"
expect_clean "several inputs, existing outputs: exit 1" 1 "$O1" "$BIN" encrypt \
    -r "$K/k1.pem" -o "$O1" "$M/a" "$M/c"
expect_clean "stdin into dir: exit 1" 1 "$F" sh -c '"$1" encrypt -r "$2" -o "$3" - < "$4"' _ \
    "$BIN" "$K/k1.pem" "$F" "$M/a"

# ---------------------------------------------------------------- broken pipes and signals
set +e
"$BIN" decrypt -k "$K/k1.pem" "$BIG" 2>"$W/stderr" | head -c 10 >/dev/null
RC=${PIPESTATUS[0]}
set -e
check "EPIPE on decrypt is exit 4 (got $RC)" test "$RC" -eq 4
check "EPIPE on decrypt: one error line" one_error_line
set +e
"$BIN" encrypt -r "$K/k1.pem" "$BIGP" 2>"$W/stderr" | head -c 10 >/dev/null
RC=${PIPESTATUS[0]}
set -e
check "EPIPE on encrypt is exit 4 (got $RC)" test "$RC" -eq 4

# A terminal as output is refused without --force (checked through a pty).
on_tty() {
    "$PY" -c 'import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stderr.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))' "$@"
}
expect "decrypt to a terminal refused" 1 on_tty "$BIN" decrypt -k "$K/k1.pem" "$R/two.kvs"
check "terminal refusal message" grep -q 'refusing to write plaintext to a terminal' "$W/stderr"
expect "encrypt to a terminal refused" 1 on_tty "$BIN" encrypt -r "$K/k1.pem" "$P"
expect "decrypt to a terminal with --force" 0 on_tty "$BIN" decrypt -k "$K/k1.pem" --force \
    "$R/1-4K.kvs"

# --verbose names the recipient that matched, and never prints a secret.
expect "verbose decrypt" 0 "$BIN" -v decrypt -k "$K/k3.pem" -k "$K/k2.pem" \
    --passphrase-file "$W/pass" -o "$R/verbose.out" "$R/two.kvs"
check "verbose names recipient 1" grep -q 'unlocked by recipient 1 (rsa sha256:[0-9a-f]*)' \
    "$W/stderr"
check "verbose prints no passphrase" test "$(grep -c 'correct horse' "$W/stderr" || true)" = 0

# SIGTERM while writing from a stdin that never ends: the temp file must go.
S="$W/sig"
mkdir "$S"
mkfifo "$W/fifo"
"$BIN" encrypt -r "$K/k1.pem" -o "$S/out.kvs" <"$W/fifo" 2>/dev/null &
pid=$!
exec 3>"$W/fifo"
head -c 100000 /dev/urandom >&3
# (named, or unnamed with O_TMPFILE: then only the process's fd shows it)
temp_seen() { [[ -n $(ls -A "$S") ]] || ls -l /proc/"$pid"/fd 2>/dev/null | grep -q "$S/"; }
for _ in $(seq 50); do
    temp_seen && break
    sleep 0.1
done
check "temp file exists while encrypting" temp_seen
kill -TERM "$pid"
RC=0
wait "$pid" || RC=$?
exec 3>&-
check "SIGTERM exit 143 (got $RC)" test "$RC" -eq 143
check "SIGTERM removed the temp file" empty_dir "$S"

check "failure dir still empty" empty_dir "$F"
summary
