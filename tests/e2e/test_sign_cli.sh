#!/usr/bin/env bash
# End-to-end tests of signed files through the CLI, with local keys only:
# encrypt --sign, decrypt/verify --require-signer (files, pipes, ranges,
# directories), the key-less authorship check, inspect, audit --json, rewrap,
# and the refusals (unsigned, another signer, altered, pipe to pipe, a
# signing key that is too weak or is also a recipient).
#
# Needs: KVSEAL_BIN (the kvseal binary); KVSEAL_PYTHON (default /usr/bin/python3);
# the test keys tests/keys/ec-p256*.pem, ec-p384.pem, rsa3072.pem, rsa2048-*.pem.
# (sh -c '...' snippets get their values as "$1"... on purpose.)
# shellcheck disable=SC2016
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# shellcheck source=lib/expect.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"

same() { cmp -s "$1" "$2"; }
mkdata() { head -c "$2" /dev/urandom >"$1"; }
slice() {
    "$PY" -c 'import sys
d = open(sys.argv[1], "rb").read()
o, n = int(sys.argv[2]), int(sys.argv[3])
sys.stdout.buffer.write(d[o:o + n])' "$@"
}
# json FILE EXPR: evaluate a Python expression over the JSON document j.
json() {
    "$PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$@"
}
# flip FILE OFFSET: invert one byte in place.
flip() {
    "$PY" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$@"
}

K=$TEST_KEYS
RK="$K/rsa2048-a.pem"      # the recipient (decrypts)
RPUB="$K/rsa2048-a.pub.pem"
S="$K/ec-p256.pem"         # the signer
SPUB="$K/ec-p256.pub.pem"
SB="$K/ec-p256-b.pem"      # another signer
for f in "$RK" "$RPUB" "$S" "$SPUB" "$SB" "$K/ec-p384.pem" "$K/rsa3072.pem"; do
    [[ -r $f ]] || { echo "missing test key $f" >&2; exit 1; }
done

CS=4096
F="$W/fail" # outputs of commands expected to fail: must stay empty
D="$W/data"
E="$W/enc"
O="$W/out"
mkdir "$F" "$D" "$E" "$O"
enc() { "$BIN" encrypt -r "$RPUB" --chunk-size "$CS" "$@"; }

# ---------------------------------------------------------------- round trips
# 0 B, 1 B, exactly 16 chunks (one full segment), 17 chunks (a second
# segment of one chunk).
SIZES="0 1 $((16 * CS)) $((17 * CS))"
for s in $SIZES; do
    p="$D/p$s"
    c="$E/p$s.kvs"
    mkdata "$p" "$s"
    expect "encrypt --sign $s" 0 enc --sign "$S" -o "$c" "$p"
    # file -> file
    expect "decrypt --require-signer file->file $s" 0 \
        "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$O/f$s" "$c"
    check "file->file $s matches" same "$p" "$O/f$s"
    # stdin (a pipe) -> file
    run bash -c 'set -o pipefail; cat "$1" | "$2" decrypt -k "$3" --require-signer "$4" -o "$5"' _ \
        "$c" "$BIN" "$RK" "$SPUB" "$O/s$s"
    check "decrypt --require-signer pipe->file $s: exit 0 ($(head -c 200 "$W/stderr"))" \
        test "$RC" -eq 0
    check "pipe->file $s matches" same "$p" "$O/s$s"
    # seekable file -> standard output (a pipe)
    run bash -c 'set -o pipefail; "$2" decrypt -k "$3" --require-signer "$4" "$1" | cat >"$5"' _ \
        "$c" "$BIN" "$RK" "$SPUB" "$O/o$s"
    check "decrypt --require-signer file->stdout $s: exit 0 ($(head -c 200 "$W/stderr"))" \
        test "$RC" -eq 0
    check "file->stdout $s matches" same "$p" "$O/o$s"
    # standard input redirected from the file: seekable, so stdout is fine
    run sh -c '"$2" decrypt -k "$3" --require-signer "$4" <"$1" >"$5"' _ \
        "$c" "$BIN" "$RK" "$SPUB" "$O/r$s"
    check "decrypt --require-signer <file >stdout $s: exit 0 ($(head -c 200 "$W/stderr"))" \
        test "$RC" -eq 0
    check "<file >stdout $s matches" same "$p" "$O/r$s"
    # a signed file still decrypts when no signer is required
    expect "decrypt signed without --require-signer $s" 0 "$BIN" decrypt -k "$RK" -o "$O/n$s" "$c"
    check "no --require-signer $s matches" same "$p" "$O/n$s"
    expect "verify -k --require-signer $s" 0 "$BIN" verify -k "$RK" --require-signer "$SPUB" "$c"
    check "verify names the commitment $s" grep -q "^OK: .*data key commitment verified" "$W/stdout"
done

# encrypt from a pipe to a pipe, signed
P17="$D/p$((17 * CS))"
run bash -c 'set -o pipefail; cat "$1" | "$2" encrypt -r "$3" --chunk-size 4096 --sign "$4" | cat >"$5"' _ \
    "$P17" "$BIN" "$RPUB" "$S" "$E/piped.kvs"
check "encrypt --sign pipe->pipe: exit 0" test "$RC" -eq 0
expect "decrypt a file signed from a pipe" 0 \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$O/piped" "$E/piped.kvs"
check "signed from a pipe matches" same "$P17" "$O/piped"

# the other algorithms: ES384 (P-384), PS256 and PS384 (RSA 3072)
for a in "ec-p384::ES384:96" "rsa3072::PS256:384" "rsa3072:PS384:PS384:384"; do
    IFS=: read -r key alg want len <<<"$a"
    aopt=()
    [[ -z $alg ]] || aopt=(--sign-alg "$alg")
    c="$E/$key-$want.kvs"
    expect "encrypt --sign $key $want" 0 enc --sign "$K/$key.pem" "${aopt[@]}" -o "$c" "$P17"
    expect "inspect --json $key $want" 0 "$BIN" inspect --json "$c"
    cp "$W/stdout" "$W/i.json"
    check "$key: alg $want" test "$(json "$W/i.json" 'j["signer"]["alg"]')" = "$want"
    check "$key: signature $len bytes" \
        test "$(json "$W/i.json" 'j["signer"]["trailer"]["sig_len"]')" = "$len"
    expect "decrypt $key $want --require-signer (private PEM)" 0 \
        "$BIN" decrypt -k "$RK" --require-signer "$K/$key.pem" -o "$O/$key-$want" "$c"
    check "$key $want matches" same "$P17" "$O/$key-$want"
done
run enc --sign "$S" --sign-alg ES384 -o "$F/x.kvs" "$P17"
check "an alg the key cannot make is refused (exit $RC)" test "$RC" -eq 1 -o "$RC" -eq 3
check "... and leaves no output" test -z "$(ls -A "$F")"

# ---------------------------------------------------------------- refusals
U="$E/unsigned.kvs"
expect "encrypt unsigned" 0 enc -o "$U" "$P17"
expect_clean "unsigned under --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$F/u" "$U"
check "unsigned: the message says so" grep -qiE 'unsigned|not signed' "$W/stderr"
expect_clean "unsigned to stdout under --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" "$U"
check "unsigned: nothing on stdout" test ! -s "$W/stdout"
expect "verify unsigned under --require-signer: exit 2" 2 \
    "$BIN" verify -k "$RK" --require-signer "$SPUB" "$U"

OTHER="$E/other.kvs"
expect "encrypt signed by ec-p256-b" 0 enc --sign "$SB" -o "$OTHER" "$P17"
expect "inspect the other signer" 0 "$BIN" inspect --json "$OTHER"
other_id=$(json "$W/stdout" 'j["signer"]["id"]' || true)
check "the other signer has a key id" grep -q '^sha256:[0-9a-f]\{64\}$' <<<"$other_id"
expect_clean "another signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$F/o" "$OTHER"
check "another signer: names the signer found" grep -qF "$other_id" "$W/stderr"

# a stored chunk byte altered: refused with the signature required, before
# anything is written
payload_offset() { "$BIN" inspect --json "$1" >"$W/po.json" || true; json "$W/po.json" 'j["payload_offset"]'; }
ALT="$E/altered.kvs"
cp "$E/p$((17 * CS)).kvs" "$ALT"
flip "$ALT" $(($(payload_offset "$ALT") + 100))
expect_clean "altered chunk under --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$F/a" "$ALT"
# the trailer cut off and the file cut short
TR="$E/truncated.kvs"
head -c $(($(stat -c %s "$E/p$((17 * CS)).kvs") - 1)) "$E/p$((17 * CS)).kvs" >"$TR"
expect_clean "truncated trailer under --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$F/t" "$TR"
expect_clean "truncated trailer without --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" -o "$F/t" "$TR"

# pipe to pipe under --require-signer: a usage error before anything is read
# (what kvseal leaves unread in the pipe is the whole file)
C17="$E/p$((17 * CS)).kvs"
run bash -c 'cat "$1" | { "$2" decrypt -k "$3" --require-signer "$4" 2>"$5"; echo $? >"$6"; cat >"$7"; } | cat' _ \
    "$C17" "$BIN" "$RK" "$SPUB" "$W/pp.err" "$W/pp.rc" "$W/pp.rest"
check "pipe->pipe --require-signer: exit 1" test "$(cat "$W/pp.rc")" = 1
check "pipe->pipe: nothing on stdout" test ! -s "$W/stdout"
check "pipe->pipe: one error line" test "$(wc -l <"$W/pp.err")" -eq 1
check "pipe->pipe: says why (-o FILE)" grep -q -- '--require-signer.*-o FILE' "$W/pp.err"
check "pipe->pipe: nothing was read" same "$C17" "$W/pp.rest"
run bash -c 'cat "$1" | "$2" decrypt -k "$3" --require-signer "$4" >"$5"' _ \
    "$C17" "$BIN" "$RK" "$SPUB" "$F/pp"
check "pipe->stdout file: exit 1" test "$RC" -eq 1
check "pipe->stdout file: nothing written" test ! -s "$F/pp"
rm -f "$F/pp"

# ---------------------------------------------------------------- ranges
RSZ=$((40 * CS + 777)) # 41 chunks: segments of 16, 16 and 9 chunks
RP="$D/range"
RC_="$E/range.kvs"
mkdata "$RP" "$RSZ"
expect "encrypt the range file" 0 enc --sign "$S" -o "$RC_" "$RP"
for off in 0 $((16 * CS - 1)) $((16 * CS)) $((32 * CS + 5)) $((RSZ - 1)) $((16 * CS - 3)); do
    for len in 1 10 $((CS + 7)); do
        expect "range $off+$len --require-signer" 0 "$BIN" decrypt -k "$RK" -f \
            --require-signer "$SPUB" --offset "$off" --length "$len" -o "$O/rg" "$RC_"
        slice "$RP" "$off" "$len" >"$W/want"
        check "range $off+$len matches" same "$W/want" "$O/rg"
    done
done
expect_clean "range of an unsigned file under --require-signer: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" --offset 5 --length 10 -o "$F/r" "$U"
expect_clean "range of another signer's file: exit 2" 2 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$SPUB" --offset 5 --length 10 -o "$F/r" "$OTHER"

# ---------------------------------------------------------------- directories
M="$W/many"
MO="$W/many-out"
mkdir "$M" "$MO"
for i in 1 2 3; do mkdata "$M/f$i" $((i * 5000)); done
expect "encrypt -o DIR --sign (3 files)" 0 "$BIN" -v encrypt -r "$RPUB" --chunk-size "$CS" \
    --sign "$S" -o "$MO" "$M/f1" "$M/f2" "$M/f3"
check "one signer made 3 signatures" grep -q 'signatures made: 3' "$W/stderr"
R2="$W/many-restored"
mkdir "$R2"
cp "$U" "$MO/zz-unsigned.kvs"
run "$BIN" decrypt -k "$RK" --require-signer "$SPUB" -o "$R2" "$MO"/*.kvs
check "directory restore with an unsigned file: exit 2" test "$RC" -eq 2
for i in 1 2 3; do check "restored f$i" same "$M/f$i" "$R2/f$i"; done
check "the unsigned file was not restored" test ! -e "$R2/zz-unsigned"

# ---------------------------------------------------------------- inspect
expect "inspect signed" 0 "$BIN" inspect "$C17"
check "inspect: signer line" grep -qE '^signer: +key sha256:[0-9a-f]{64} ES256$' "$W/stdout"
check "inspect: trailer line" grep -qE '^trailer: +2 segments, signature 64 bytes$' "$W/stdout"
check "inspect: plaintext size leaves the trailer out" \
    grep -qE "^plaintext size: +$((17 * CS))$" "$W/stdout"
grep '^signer:' "$W/stdout" >"$W/signer-before"
expect "inspect --json signed" 0 "$BIN" inspect --json "$C17"
cp "$W/stdout" "$W/s.json"
check "inspect --json: signer type" test "$(json "$W/s.json" 'j["signer"]["type"]')" = key
check "inspect --json: segments" test "$(json "$W/s.json" 'j["signer"]["trailer"]["segments"]')" = 2
check "inspect --json: chunks" test "$(json "$W/s.json" 'j["chunks"]')" = 17
expect "inspect unsigned" 0 "$BIN" inspect "$U"
check "inspect: signer none" grep -qE '^signer: +none$' "$W/stdout"
expect "inspect --json unsigned" 0 "$BIN" inspect --json "$U"
check "inspect --json: signer null" test "$(json "$W/stdout" 'j["signer"] is None')" = True
run sh -c 'cat "$1" | "$2" inspect -' _ "$C17" "$BIN"
check "inspect from a pipe: exit 0" test "$RC" -eq 0
check "inspect from a pipe: signer line" grep -qE '^signer: +key sha256:[0-9a-f]{64} ES256$' "$W/stdout"
check "inspect from a pipe: trailer not read" grep -qE '^trailer: +not read' "$W/stdout"
expect "inspect 16 chunks" 0 "$BIN" inspect "$E/p$((16 * CS)).kvs"
check "16 chunks: one segment" grep -qE '^trailer: +1 segments, signature 64 bytes$' "$W/stdout"

# ---------------------------------------------------------------- verify without a key
expect "verify --require-signer without -k" 0 "$BIN" verify --require-signer "$SPUB" "$C17"
check "key-less verify says what it checked" \
    grep -q '^OK: .*signature, segment roots and signer verified; data key commitment not checked' \
    "$W/stdout"
expect "key-less verify of 0 bytes" 0 "$BIN" verify --require-signer "$SPUB" "$E/p0.kvs"
expect "key-less verify: one stored byte flipped: exit 2" 2 \
    "$BIN" verify --require-signer "$SPUB" "$ALT"
expect "key-less verify: unsigned: exit 2" 2 "$BIN" verify --require-signer "$SPUB" "$U"
expect "key-less verify: another signer: exit 2" 2 "$BIN" verify --require-signer "$SPUB" "$OTHER"
expect "key-less verify: truncated: exit 2" 2 "$BIN" verify --require-signer "$SPUB" "$TR"
CX="$E/context.kvs"
expect "encrypt --sign --context" 0 enc --sign "$S" --context app=payroll -o "$CX" "$D/p1"
expect "key-less verify --context (signed pair)" 0 \
    "$BIN" verify --require-signer "$SPUB" --context app=payroll "$CX"
expect "key-less verify --context (other value): exit 2" 2 \
    "$BIN" verify --require-signer "$SPUB" --context app=hr "$CX"
check "key-less --context names the pair" grep -q 'app' "$W/stderr"
# A blob URL is checked key-less too (on Azurite: test_sign_blob_azurite.sh);
# here, without a service, an unusable one fails on its own terms.
expect "key-less verify: a blob URL goes to Blob Storage (an unusable one: exit 1)" 1 \
    "$BIN" verify --require-signer "$SPUB" https://acct.blob.core.windows.net/c/x.kvs
check "key-less verify: the blob URL itself is refused" grep -q "not a usable blob URL" "$W/stderr"

# ---------------------------------------------------------------- rewrap
RW="$E/rewrap.kvs"
cp "$C17" "$RW"
expect "rewrap a signed file" 0 "$BIN" rewrap -k "$RK" -r "$K/rsa2048-b.pub.pem" "$RW"
check "rewrap says the signature is unchanged" \
    grep -q 'signature unchanged and still valid' "$W/stderr"
expect "verify --require-signer after rewrap (new key)" 0 \
    "$BIN" verify -k "$K/rsa2048-b.pem" --require-signer "$SPUB" "$RW"
expect "key-less verify after rewrap" 0 "$BIN" verify --require-signer "$SPUB" "$RW"
expect "inspect after rewrap" 0 "$BIN" inspect "$RW"
grep '^signer:' "$W/stdout" >"$W/signer-after"
check "rewrap kept the signer" same "$W/signer-before" "$W/signer-after"
expect "decrypt after rewrap" 0 "$BIN" decrypt -k "$K/rsa2048-b.pem" --require-signer "$SPUB" \
    -o "$O/rw" "$RW"
check "after rewrap matches" same "$P17" "$O/rw"

# ---------------------------------------------------------------- audit
A="$W/audit"
mkdir "$A"
cp "$C17" "$A/a-signed.kvs"
cp "$U" "$A/b-unsigned.kvs"
cp "$OTHER" "$A/c-other.kvs"
run "$BIN" audit --json "$A"
check "audit --json: exit 0 (offline keys only)" test "$RC" -eq 0
cp "$W/stdout" "$W/a.json"
check "audit: a signed file has its signer" \
    test "$(json "$W/a.json" '[f["signer"]["id"] if f["signer"] else None for f in j["files"]][0]')" \
    = "$(json "$W/s.json" 'j["signer"]["id"]')"
check "audit: signer alg" test "$(json "$W/a.json" 'j["files"][0]["signer"]["alg"]')" = ES256
check "audit: not verified without --require-signer" \
    test "$(json "$W/a.json" 'j["files"][0]["signer"]["verified"] is None')" = True
check "audit: an unsigned file has signer null" \
    test "$(json "$W/a.json" 'j["files"][1]["signer"] is None')" = True
run "$BIN" audit --json --require-signer "$SPUB" "$A"
check "audit --require-signer with an unsigned file: exit 2" test "$RC" -eq 2
cp "$W/stdout" "$W/ar.json"
check "audit: the signed file verified" \
    test "$(json "$W/ar.json" 'j["files"][0]["signer"]["verified"]')" = True
check "audit: the signed file keeps its verdict" \
    test "$(json "$W/ar.json" 'j["files"][0]["verdict"]')" = offline-only
check "audit: the unsigned file fails" \
    test "$(json "$W/ar.json" 'j["files"][1]["verdict"]')" = signer-failed
check "audit: the other signer fails" \
    test "$(json "$W/ar.json" 'j["files"][2]["verdict"]')" = signer-failed
check "audit: the other signer's id is reported" \
    test "$(json "$W/ar.json" 'j["files"][2]["signer"]["id"]')" = "$other_id"
check "audit: summary counts" test "$(json "$W/ar.json" 'j["summary"]["signer_failed"]')" = 2
check "audit: exit_code member" test "$(json "$W/ar.json" 'j["exit_code"]')" = 2
rm "$A/b-unsigned.kvs" "$A/c-other.kvs"
expect "audit --require-signer, all signed: exit 0" 0 "$BIN" audit --require-signer "$SPUB" "$A"
check "audit text: signer verified" grep -q '^  signer: key sha256:.* ES256, verified$' "$W/stdout"
# A blob URL is audited key-less too (on Azurite: test_sign_blob_azurite.sh);
# an unusable one counts as an I/O error, as without --require-signer.
expect "audit --require-signer: a blob URL goes to Blob Storage (an unusable one: exit 4)" 4 \
    "$BIN" audit --require-signer "$SPUB" https://acct.blob.core.windows.net/c/x.kvs
check "audit: the blob URL itself is refused" grep -q "not a usable blob URL" "$W/stderr"

# ---------------------------------------------------------------- signing keys refused
# An RSA-2048 key cannot sign (KVS_ERR_KEY: exit 3).
expect_clean "RSA 2048 as signer: exit 3" 3 "$F" enc --sign "$K/rsa2048-b.pem" -o "$F/x" "$P17"
# Key separation: the same key as recipient and signer, given as its public
# half for -r and its private PEM for --sign (same key id).
expect_clean "same key as recipient and signer: exit 1" 1 "$F" \
    "$BIN" encrypt -r "$K/rsa3072.pub.pem" --sign "$K/rsa3072.pem" -o "$F/x" "$P17"
check "key separation is named" grep -q 'key separation' "$W/stderr"
# ... and a Key Vault key named by both (another version, another case):
# refused from the URLs alone, before any request (no vault exists here).
expect_clean "same Key Vault key as recipient and signer: exit 1" 1 "$F" \
    "$BIN" encrypt -r https://v.vault.azure.net/keys/K1 \
    --sign https://V.vault.azure.net/keys/k1/0123456789abcdef -o "$F/x" "$P17"
check "Key Vault key separation is named" grep -q 'key separation' "$W/stderr"
expect_clean "--sign-alg without --sign: exit 1" 1 "$F" enc --sign-alg ES256 -o "$F/x" "$P17"
expect_clean "unknown --sign-alg: exit 1" 1 "$F" enc --sign "$S" --sign-alg ES512 -o "$F/x" "$P17"
expect_clean "--sign twice: exit 1" 1 "$F" enc --sign "$S" --sign "$SB" -o "$F/x" "$P17"
expect_clean "--sign with a missing key file: exit 1" 1 "$F" \
    enc --sign "$W/no-such.pem" -o "$F/x" "$P17"
expect_clean "--require-signer with a missing key file: exit 1" 1 "$F" \
    "$BIN" decrypt -k "$RK" --require-signer "$W/no-such.pem" -o "$F/x" "$C17"
check "nothing left in the failure directory" test -z "$(ls -A "$F")"

summary
