#!/usr/bin/env bash
# E2E: signed files in Azure block blobs, on Azurite (pinned in
# tests/azurite): `encrypt --sign` straight into a blob (from a file and
# from a pipe) puts the trailer in a block of its own; `decrypt
# --require-signer` from the blob, a range at segment boundaries, `verify`,
# and `rewrap` (which keeps the signature valid) all work; an unsigned or
# otherwise signed blob is refused with exit 2 and no output; a blob whose
# payload a DEK holder could not re-sign (one stored byte changed, uploaded
# with Microsoft's SDK) is refused. Without any decryption key: `inspect URL`
# shows the signer and the trailer, `verify --require-signer URL` proves
# authorship (and refuses the tampered, the unsigned and another signer's
# blob with exit 2), and `audit --require-signer` over the container prefix
# and a single blob URL reports each blob's signer and fails the unsigned
# and the tampered one. Skips (77) without Node.js or python3-azure.
set -u
# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
PY=${KVSEAL_PYTHON:-python3}
K=$KVSEAL_BIN
azurite_start_for_test
W=$(mktemp -d)
trap 'azurite_stop; rm -rf "$W"' EXIT
unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING
export AZURE_STORAGE_ACCOUNT=$AZURITE_ACCOUNT AZURE_STORAGE_KEY=$AZURITE_KEY

# ran RC NAME: the last run exited with RC (else show what it said).
ran() {
    if [ "$RC" -eq "$1" ]; then pass; else fail "$2 (exit $RC, expected $1)"; cat "$W/stderr" >&2; fi
}
in_stderr() { grep -qF -- "$1" "$W/stderr"; }
absent() { [ ! -e "$1" ]; }

# sdk ACTION CONTAINER [BLOB FILE]: Microsoft's SDK as the independent client.
#   container: create it; get: the blob's bytes into FILE; put: FILE as the blob;
#   blocks: the number of committed blocks and the last one's size.
sdk() {
    "$PY" - "$@" <<'PYEOF'
import os, sys
from azure.storage.blob import BlobServiceClient
acct, key, ep = os.environ["AZURITE_ACCOUNT"], os.environ["AZURITE_KEY"], os.environ["KVSEAL_AZURITE_ENDPOINT"]
action, container = sys.argv[1], sys.argv[2]
svc = BlobServiceClient(ep, credential={"account_name": acct, "account_key": key})
if action == "container":
    svc.create_container(container)
    sys.exit(0)
blob = svc.get_blob_client(container, sys.argv[3])
if action == "get":
    with open(sys.argv[4], "wb") as f:
        f.write(blob.download_blob().readall())
elif action == "put":
    with open(sys.argv[4], "rb") as f:
        blob.upload_blob(f, overwrite=True)
elif action == "blocks":
    committed, _ = blob.get_block_list("committed")
    print(len(committed), committed[-1].size)
PYEOF
}

check "create container" sdk container backups
B="$KVSEAL_AZURITE_ENDPOINT/backups"
test_key rsa2048-a "$W/a.pem" "$W/a.pub.pem"
test_key rsa2048-b "$W/b.pem" "$W/b.pub.pem"
test_key ec-p256 "$W/s.pem" "$W/s.pub.pem"
test_key ec-p256-b "$W/other.pem" "$W/other.pub.pem"
CS=4096
SEG=$((16 * CS))
# 40 chunks and a bit: 3 segments (the last partial), 2 MiB of blocks or so.
head -c $((40 * CS + 777)) /dev/urandom >"$W/plain"

run "$K" encrypt --chunk-size $CS -r "$W/a.pub.pem" --sign "$W/s.pem" -o "$B/signed.kvs" "$W/plain"
ran 0 "encrypt --sign into a blob"
# ES256 trailer for 3 segments: 3*32 + 32 + 64 + 10 = 202 bytes, its own block.
check "the trailer is the last block" test "$(sdk blocks backups signed.kvs)" = "3 202"
sdk get backups signed.kvs "$W/signed.local"
run "$K" decrypt -k "$W/a.pem" --require-signer "$W/s.pub.pem" -o "$W/back.local" "$W/signed.local"
ran 0 "the downloaded blob decrypts locally under the signer"

run "$K" decrypt -k "$W/a.pem" --require-signer "$W/s.pub.pem" -o "$W/back" "$B/signed.kvs"
ran 0 "decrypt --require-signer from the blob"
check "the plaintext is back" cmp -s "$W/plain" "$W/back"
run "$K" verify -k "$W/a.pem" --require-signer "$W/s.pub.pem" "$B/signed.kvs"
ran 0 "verify --require-signer on the blob"

# Ranges at segment boundaries.
for r in "0 10" "$((SEG - 1)) 2" "$SEG $CS" "$((2 * SEG + 5)) 100000" "$((40 * CS + 776)) 1"; do
    set -- $r
    rm -f "$W/part"
    run "$K" decrypt -k "$W/a.pem" --require-signer "$W/s.pub.pem" --offset "$1" --length "$2" \
        -o "$W/part" "$B/signed.kvs"
    ran 0 "range $1+$2 from the blob"
    check "range $1+$2 is right" cmp -s "$W/part" <(tail -c +$(($1 + 1)) "$W/plain" | head -c "$2")
done

# A pipe straight into a blob, signed.
run bash -c 'cat "$1" | "$2" encrypt --chunk-size 4096 -r "$3" --sign "$4" -o "$5" -' _ \
    "$W/plain" "$K" "$W/a.pub.pem" "$W/s.pem" "$B/piped.kvs"
ran 0 "a pipe into a blob, signed"
rm -f "$W/back"
run "$K" decrypt -k "$W/a.pem" --require-signer "$W/s.pub.pem" -o "$W/back" "$B/piped.kvs"
ran 0 "the piped blob decrypts under the signer"
check "the piped plaintext is back" cmp -s "$W/plain" "$W/back"

# Rewrap keeps the signature: the new key decrypts under the same signer.
run "$K" rewrap -r "$W/b.pub.pem" --remove "$W/a.pem" -k "$W/a.pem" "$B/signed.kvs"
ran 0 "rewrap the signed blob"
rm -f "$W/back"
run "$K" decrypt -k "$W/b.pem" --require-signer "$W/s.pub.pem" -o "$W/back" "$B/signed.kvs"
ran 0 "after rewrap, the new key decrypts under the same signer"
check "the plaintext is still the same" cmp -s "$W/plain" "$W/back"

# Refusals: exit 2, no output.
run "$K" encrypt --chunk-size $CS -r "$W/a.pub.pem" -o "$B/unsigned.kvs" "$W/plain"
ran 0 "an unsigned blob"
rm -f "$W/back"
run "$K" decrypt -k "$W/a.pem" --require-signer "$W/s.pub.pem" -o "$W/back" "$B/unsigned.kvs"
ran 2 "an unsigned blob under --require-signer"
check "no output for the unsigned blob" absent "$W/back"
check "it says the blob is not signed" in_stderr "not signed"
run "$K" decrypt -k "$W/b.pem" --require-signer "$W/other.pub.pem" -o "$W/back" "$B/signed.kvs"
ran 2 "a blob signed by another key"
check "no output for another signer" absent "$W/back"

# One stored payload byte changed (as anyone with write access could): refused.
sdk get backups signed.kvs "$W/t"
"$PY" - "$W/t" <<'PYEOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) - 202 - 1000] ^= 1
open(p, "wb").write(bytes(b))
PYEOF
sdk put backups tampered.kvs "$W/t"
run "$K" decrypt -k "$W/b.pem" --require-signer "$W/s.pub.pem" -o "$W/back" "$B/tampered.kvs"
ran 2 "a tampered blob under --require-signer"
check "no output for the tampered blob" absent "$W/back"

# ---- Without any decryption key (no -k anywhere below). ----
# The signer's key id, computed independently: sha256 of the SPKI DER.
SID="sha256:$(openssl pkey -pubin -in "$W/s.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)"
OTHER_ID="sha256:$(openssl pkey -pubin -in "$W/other.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)"
check "the two signing keys have distinct ids" test "$SID" != "$OTHER_ID"

run "$K" inspect "$B/signed.kvs"
ran 0 "inspect a signed blob"
check "inspect shows the blob's signer" grep -qxE "signer: +key $SID ES256" "$W/stdout"
check "inspect shows the blob's trailer" grep -qxE "trailer: +3 segments, signature 64 bytes" "$W/stdout"
check "the plaintext size leaves the trailer out" grep -qxE "plaintext size: +$((40 * CS + 777))" "$W/stdout"
run "$K" inspect --json "$B/signed.kvs"
ran 0 "inspect --json a signed blob"
check "inspect --json: signer and trailer as for a file" "$PY" - "$W/stdout" "$SID" $((40 * CS + 777)) <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["signer"]
assert s["type"] == "key" and s["id"] == sys.argv[2] and s["alg"] == "ES256", s
assert s["trailer"] == {"segments": 3, "sig_len": 64, "trailer_len": 202}, s
assert "trailer_note" not in s and "trailer_error" not in s, s
assert j["plaintext_size"] == int(sys.argv[3]) and j["chunks"] == 41, j
PYEOF
# the same report as for the downloaded copy (but the file name)
"$K" inspect --json "$W/signed.local" >"$W/local.json"
check "inspect --json: the blob's signer is the local copy's" "$PY" - "$W/stdout" "$W/local.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("signer", "plaintext_size", "chunks", "file_size"):
    assert a[k] == b[k], (k, a[k], b[k])
PYEOF
run "$K" inspect --json "$B/unsigned.kvs"
check "inspect --json: an unsigned blob has signer null" "$PY" -c \
    'import json,sys; j=json.load(open(sys.argv[1])); assert j["signer"] is None and j["chunks"] == 41' "$W/stdout"

run "$K" verify --require-signer "$W/s.pub.pem" "$B/signed.kvs"
ran 0 "key-less verify of the signed blob"
check "key-less verify prints the file's line" test "$(cat "$W/stdout")" = \
    "OK: $B/signed.kvs (signature, segment roots and signer verified; data key commitment not checked: no decryption key)"
run "$K" verify --require-signer "$W/s.pub.pem" "$W/signed.local"
check "the same line as for a local file" test "$(cat "$W/stdout")" = \
    "OK: $W/signed.local (signature, segment roots and signer verified; data key commitment not checked: no decryption key)"
run "$K" verify --require-signer "$W/s.pub.pem" "$B/piped.kvs" "$B/signed.kvs"
ran 0 "key-less verify of two blobs"
check "one line per blob" test "$(grep -c '^OK: ' "$W/stdout")" -eq 2
run "$K" verify --require-signer "$W/s.pub.pem" "$B/tampered.kvs"
ran 2 "key-less verify of the tampered blob"
check "it names the failed segment root" in_stderr "do not match the signed segment root"
check "no OK line for the tampered blob" test ! -s "$W/stdout"
run "$K" verify --require-signer "$W/s.pub.pem" "$B/unsigned.kvs"
ran 2 "key-less verify of the unsigned blob"
check "it says the unsigned blob is not signed" in_stderr "not signed"
run "$K" verify --require-signer "$W/other.pub.pem" "$B/signed.kvs"
ran 2 "key-less verify under another signer"
check "it names the signer found" in_stderr "$SID"
run "$K" verify --require-signer "$W/s.pub.pem" "$B/missing.kvs"
ran 4 "key-less verify of a missing blob"
run "$K" verify --require-signer "$W/s.pub.pem" --context app=x "$B/signed.kvs"
ran 2 "key-less verify: a context the signed header does not have"

# audit over the container prefix: two blobs verify, two fail.
run "$K" audit --json --require-signer "$W/s.pub.pem" "$B/"
ran 2 "audit --require-signer over the container (the unsigned and tampered blobs fail)"
check "audit --json: each blob's signer, verified or not" "$PY" - "$W/stdout" "$B" "$SID" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
b, sid = sys.argv[2], sys.argv[3]
files = {f["path"]: f for f in j["files"]}
assert sorted(files) == [b + "/" + n for n in ("piped.kvs", "signed.kvs", "tampered.kvs", "unsigned.kvs")], sorted(files)
for n in ("piped.kvs", "signed.kvs"):
    f = files[b + "/" + n]
    assert f["verdict"] == "offline-only", f
    assert f["signer"] == {"type": "key", "id": sid, "alg": "ES256", "verified": True}, f
    assert len(f["recipients"]) == 1 and f["recipients"][0]["status"] == "offline", f
t = files[b + "/tampered.kvs"]
assert t["verdict"] == "signer-failed" and t["signer"]["verified"] is False, t
assert t["signer"]["id"] == sid and "segment root" in t["error"] and t["recipients"] == [], t
u = files[b + "/unsigned.kvs"]
assert u["verdict"] == "signer-failed" and u["signer"] is None and "not signed" in u["error"], u
s = j["summary"]
assert s["files"] == 4 and s["offline_only"] == 2 and s["signer_failed"] == 2, s
assert s["signer_unchecked"] == 0 and s["io_errors"] == 0 and j["exit_code"] == 2, s
PYEOF
# one blob named alone, text report
run "$K" audit --require-signer "$W/s.pub.pem" "$B/signed.kvs"
ran 0 "audit --require-signer of one signed blob"
check "audit: the blob's signer is verified" grep -qxF "  signer: key $SID ES256, verified" "$W/stdout"
check "audit: the summary counts no failure" grep -qF "1 files: 0 ok, 0 stale, 0 unknown, 1 offline-only, 0 invalid, 0 signer-failed, 0 signer-unchecked" "$W/stdout"
run "$K" audit --require-signer "$W/other.pub.pem" "$B/signed.kvs"
ran 2 "audit --require-signer: a blob of another signer"
check "audit: NOT verified" grep -qxF "  signer: key $SID ES256, NOT verified" "$W/stdout"
summary
