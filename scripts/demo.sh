#!/usr/bin/env bash
# The README's main job, end to end: start the local Key Vault test server,
# create an RSA-4096 wrapping key and an EC P-256 signing key there, encrypt
# and sign a generated backup (1 GiB by default) with kvseal as the writer,
# restore it under --require-signer as a restorer that cannot sign, compare
# checksums, show an unsigned forgery refused, and report sizes, throughput
# and the Key Vault calls made. Then the same backup goes from a pipe straight
# into a block blob on Azurite (Microsoft's storage emulator, pinned in
# tests/azurite), is inspected, range-restored and restored from there. The
# kvseal commands are exactly those a user runs against a real vault and
# storage account; only the environment points them at the local servers.
#
#   KVSEAL_DEMO_MIB   size of the generated backup in MiB (default 1024)
#   TMPDIR            where the backup and its copies are written (needs ~3x)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
MIB=${KVSEAL_DEMO_MIB:-1024}

bash scripts/install-deps.sh
echo "== building kvseal (build/demo)"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DKVSEAL_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
KVSEAL=$ROOT/build/demo/kvseal

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvseal-demo.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
kvctl() { "$PY" tests/kv-server/kvctl.py --state-dir "$WORK/kv" "$@"; }

echo "== starting the local Key Vault test server"
"$PY" tests/kv-server/kvserver.py --state-dir "$WORK/kv" --watch-parent >"$WORK/kv.log" 2>&1 &
SERVER_PID=$!
kvctl wait --timeout 60 >/dev/null
PORT=$(kvctl info port)
VAULT=https://localhost:$PORT

# Two app registrations, each with its least-privilege role and its secret
# in a file: the backup writer may sign ("Key Vault Crypto User"), the
# restorer may only get and unwrap ("Crypto Service Encryption User"), so it
# can check a signature but never make one.
umask 077
head -c 32 /dev/urandom | base64 >"$WORK/writer-secret"
head -c 32 /dev/urandom | base64 >"$WORK/restorer-secret"
kvctl clients add --client-id kvseal-demo-backup --secret-file "$WORK/writer-secret" \
  --permissions kv-crypto-user >/dev/null
kvctl clients add --client-id kvseal-demo-restore --secret-file "$WORK/restorer-secret" \
  --permissions crypto-user >/dev/null
echo "== creating RSA-4096 key 'backup-kek' (az keyvault key create --kty RSA --size 4096 --ops wrapKey unwrapKey)"
kvctl keys create backup-kek --size 4096 --ops wrapKey,unwrapKey >/dev/null
echo "== creating EC P-256 signing key 'backup-signer' (az keyvault key create --kty EC --curve P-256 --ops sign verify)"
kvctl keys create backup-signer --kty EC --crv P-256 --ops sign,verify >/dev/null
kvctl log clear >/dev/null

export AZURE_TENANT_ID=$(kvctl info tenant) AZURE_AUTHORITY_HOST=$VAULT
writer() { AZURE_CLIENT_ID=kvseal-demo-backup AZURE_CLIENT_SECRET_FILE=$WORK/writer-secret "$@"; }
restorer() { AZURE_CLIENT_ID=kvseal-demo-restore AZURE_CLIENT_SECRET_FILE=$WORK/restorer-secret "$@"; }
SIGNER=$VAULT/keys/backup-signer
export KVSEAL_CA_FILE=$WORK/kv/ca.pem KVSEAL_ALLOWED_HOSTS=localhost:$PORT

echo "== generating a ${MIB} MiB backup"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$WORK/backup.img"

now() { date +%s.%N; }
rate() { awk -v b=$((MIB * 1024 * 1024)) -v s="$1" 'BEGIN { printf "%.2f s, %.0f MB/s", s, b / s / 1e6 }'; }

echo "== encrypting and signing it (the writer), restoring it under --require-signer (the restorer)"
t0=$(now)
writer "$KVSEAL" encrypt -r "$VAULT/keys/backup-kek" --sign "$SIGNER" -o "$WORK/backup.img.kvs" "$WORK/backup.img"
t1=$(now)
restorer "$KVSEAL" decrypt --require-signer "$SIGNER" -o "$WORK/restored.img" "$WORK/backup.img.kvs"
t2=$(now)

echo "== header (no key needed): the versioned keys that protect and signed this backup"
"$KVSEAL" inspect "$WORK/backup.img.kvs" | sed 's/^/   /'

sum_in=$(sha256sum <"$WORK/backup.img" | cut -d' ' -f1)
sum_out=$(sha256sum <"$WORK/restored.img" | cut -d' ' -f1)
size_in=$(stat -c %s "$WORK/backup.img")
size_ct=$(stat -c %s "$WORK/backup.img.kvs")

echo "== results"
printf '   plaintext   %d bytes  sha256 %s\n' "$size_in" "$sum_in"
printf '   ciphertext  %d bytes  (+%d bytes: header, 16-byte tag per chunk, signed trailer)\n' \
  "$size_ct" $((size_ct - size_in))
printf '   restored    sha256 %s\n' "$sum_out"
printf '   encrypt     %s\n' "$(rate "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")"
printf '   decrypt     %s\n' "$(rate "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')")"
echo "   Key Vault calls seen by the server:"
kvctl log | "$PY" -c '
import collections, json, sys
log = json.load(sys.stdin)
entries = log["entries"] if isinstance(log, dict) else log
ops = collections.Counter((e.get("op") or "?", e.get("status")) for e in entries)
for (op, status), n in sorted(ops.items(), key=str):
    note = " (the authentication challenge: sent without a token)" if status == 401 else ""
    print("     %-12s HTTP %s  x%d%s" % (op, status, n, note))
print("     (no Authorization value is ever logged; wrapkey 0 = the data key was wrapped locally;")
print("      sign x1 = one signature per file, made in the vault; verification is local)")
'
echo "== a forgery: a file written with the recipient's public key alone, unsigned"
restorer "$KVSEAL" encrypt -r "$VAULT/keys/backup-kek" -o "$WORK/forged.kvs" "$WORK/backup.img" 2>/dev/null
if restorer "$KVSEAL" decrypt --require-signer "$SIGNER" -o "$WORK/forged.out" "$WORK/forged.kvs" 2>"$WORK/forged.err"; then
  echo "kvseal demo: FAILED: an unsigned file was restored under --require-signer" >&2
  exit 1
fi
printf '   refused: %s\n' "$(cat "$WORK/forged.err")"
rm -f "$WORK/forged.kvs"
if [ "$sum_in" != "$sum_out" ]; then
  echo "kvseal demo: FAILED: the restored file differs" >&2
  exit 1
fi

echo "== starting Azurite (the Blob Storage emulator) on loopback"
export KVSEAL_SRC=$ROOT KVSEAL_PYTHON=$PY KVSEAL_AZURITE_ON_EXIT=cleanup
# shellcheck source=../tests/e2e/lib/azurite.sh
. tests/e2e/lib/azurite.sh
azurite_start
# The emulator's well-known development account (Shared Key); against Azure,
# an Entra ID identity with "Storage Blob Data Contributor" needs none of this.
export AZURE_STORAGE_ACCOUNT=$AZURITE_ACCOUNT AZURE_STORAGE_KEY=$AZURITE_KEY
"$PY" -c '
import os
from azure.storage.blob import BlobServiceClient
BlobServiceClient(os.environ["KVSEAL_AZURITE_ENDPOINT"],
                  credential={"account_name": os.environ["AZURITE_ACCOUNT"],
                              "account_key": os.environ["AZURITE_KEY"]}).create_container("backups")'
BLOB=$KVSEAL_AZURITE_ENDPOINT/backups/nightly/backup.img.kvs

echo "== encrypting and signing a pipe straight into a block blob (no local copy)"
t0=$(now)
writer "$KVSEAL" encrypt -r "$VAULT/keys/backup-kek" --sign "$SIGNER" -o "$BLOB" <"$WORK/backup.img"
t1=$(now)
"$KVSEAL" inspect "$BLOB" | sed 's/^/   /'
echo "== restoring 1 MiB from the middle (fetches only the segments that cover it, checks their roots)"
mid=$((size_in / 2))
restorer "$KVSEAL" decrypt --require-signer "$SIGNER" --offset "$mid" --length 1048576 "$BLOB" >"$WORK/range.bin"
dd if="$WORK/backup.img" iflag=skip_bytes,count_bytes skip="$mid" count=1048576 status=none |
  cmp - "$WORK/range.bin"
echo "   range identical"
echo "== restoring the whole blob"
t2=$(now)
restorer "$KVSEAL" decrypt --require-signer "$SIGNER" "$BLOB" | sha256sum | cut -d' ' -f1 >"$WORK/blob.sum"
t3=$(now)
printf '   upload      %s (pipe to blob, encrypting)\n' "$(rate "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')")"
printf '   restore     %s (blob to pipe, decrypting)\n' "$(rate "$(awk -v a="$t2" -v b="$t3" 'BEGIN{print b-a}')")"
if [ "$(cat "$WORK/blob.sum")" != "$sum_in" ]; then
  echo "kvseal demo: FAILED: the blob restore differs" >&2
  exit 1
fi
echo "kvseal demo: OK, both restores (file and blob) are identical"
