#!/usr/bin/env bash
# E2E: signed files in Azure block blobs, on Azurite (pinned in
# tests/azurite): `encrypt --sign` straight into a blob (from a file and
# from a pipe) puts the trailer in a block of its own; `decrypt
# --require-signer` from the blob, a range at segment boundaries, `verify`,
# and `rewrap` (which keeps the signature valid) all work; an unsigned or
# otherwise signed blob is refused with exit 2 and no output; a blob whose
# payload a DEK holder could not re-sign (one stored byte changed, uploaded
# with Microsoft's SDK) is refused. Skips (77) without Node.js or python3-azure.
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
summary
