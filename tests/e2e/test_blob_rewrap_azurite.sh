#!/usr/bin/env bash
# E2E: `kvseal rewrap URL` rotates a blob in place on Azurite (pinned in
# tests/azurite), with local PEM keys and Shared Key: the new key decrypts
# and the removed one does not, the payload bytes (downloaded with
# Microsoft's SDK) and the committed payload block ids are unchanged, only
# block 0 is new; nothing is committed when nothing changes, when the last
# recipient would go, or for a blob that the SDK uploaded in its own blocks.
# Skips (77) without Node.js or Debian's python3-azure.
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

# sdk ACTION CONTAINER BLOB [FILE]: Microsoft's SDK as the independent client.
#   container: create it; blocks: committed block ids, one a line;
#   payload FILE: the blob's bytes after its stored header, into FILE;
#   etag: the blob's ETag; keys: its kvseal_keys metadata;
#   upload FILE: upload FILE in the SDK's own 1 MiB blocks.
sdk() {
    "$PY" - "$@" <<'PYEOF'
import os, struct, sys
from azure.storage.blob import BlobServiceClient
acct, key, ep = os.environ["AZURITE_ACCOUNT"], os.environ["AZURITE_KEY"], os.environ["KVSEAL_AZURITE_ENDPOINT"]
action, container = sys.argv[1], sys.argv[2]
svc = BlobServiceClient(ep, credential={"account_name": acct, "account_key": key},
                        max_single_put_size=1 << 20, max_block_size=1 << 20)
if action == "container":
    svc.create_container(container)
    sys.exit(0)
blob = svc.get_blob_client(container, sys.argv[3])
if action == "blocks":
    committed, _ = blob.get_block_list("committed")
    for b in committed:
        print(b.id, b.size)
elif action == "payload":
    data = blob.download_blob().readall()
    (hlen,) = struct.unpack(">I", data[8:12])
    with open(sys.argv[4], "wb") as f:
        f.write(data[12 + hlen + 32:])
elif action == "etag":
    print(blob.get_blob_properties().etag)
elif action == "keys":
    print(blob.get_blob_properties().metadata.get("kvseal_keys", ""))
elif action == "upload":
    with open(sys.argv[4], "rb") as f:
        blob.upload_blob(f, overwrite=True)
PYEOF
}

check "create container" sdk container backups
B="$KVSEAL_AZURITE_ENDPOINT/backups"
test_key rsa2048-a "$W/a.pem" "$W/a.pub.pem"
test_key rsa2048-b "$W/b.pem" "$W/b.pub.pem"
# 20 MiB in 1 MiB chunks: block 0 (the header) and three payload blocks.
head -c $((20 * 1024 * 1024 + 12345)) /dev/urandom >"$W/plain"

run "$K" encrypt -r "$W/a.pub.pem" -o "$B/db/dump.kvs" "$W/plain"
ran 0 "encrypt to a blob for key a"
sdk blocks backups db/dump.kvs >"$W/blocks.before"
sdk payload backups db/dump.kvs "$W/payload.before"
check "kvseal's layout: at least 3 payload blocks" test "$(wc -l <"$W/blocks.before")" -ge 4

# Rotate: add b, remove a.
run "$K" rewrap -v -r "$W/b.pub.pem" --remove "$W/a.pem" -k "$W/a.pem" "$B/db/dump.kvs"
ran 0 "rewrap a blob: add b, remove a"
check "summary names one rewrapped" in_stderr "1 rewrapped, 0 unchanged, 0 failed"
check "per-blob line" in_stderr "1 added, 1 removed"
run "$K" decrypt -k "$W/b.pem" -o "$W/out.b" "$B/db/dump.kvs"
ran 0 "decrypt with the new key b"
check "plaintext round trip" cmp -s "$W/plain" "$W/out.b"
run "$K" decrypt -k "$W/a.pem" -o "$W/out.a" "$B/db/dump.kvs"
ran 3 "the removed key a is refused"
sdk payload backups db/dump.kvs "$W/payload.after"
check "payload bytes unchanged (SDK download)" cmp -s "$W/payload.before" "$W/payload.after"
sdk blocks backups db/dump.kvs >"$W/blocks.after"
check "same payload block ids and sizes" \
    cmp -s <(tail -n +2 "$W/blocks.before") <(tail -n +2 "$W/blocks.after")
check "a new block 0" test "$(head -1 "$W/blocks.before" | cut -d' ' -f1)" != \
    "$(head -1 "$W/blocks.after" | cut -d' ' -f1)"
check "block 0's id has the payload ids' length" test \
    "$(head -1 "$W/blocks.after" | cut -d' ' -f1 | tr -d '\n' | wc -c)" -eq \
    "$(tail -1 "$W/blocks.after" | cut -d' ' -f1 | tr -d '\n' | wc -c)"
KID_B=$("$K" inspect --json "$B/db/dump.kvs" 2>/dev/null | sed -n 's/.*"key_id":[[:space:]]*"\([^"]*\)".*/\1/p')
check "inspect shows one recipient" test "$(printf '%s\n' "$KID_B" | wc -l)" -eq 1 -a -n "$KID_B"
check "metadata kvseal_keys names key b" test "$(sdk keys backups db/dump.kvs)" = "$KID_B"

# Nothing to do: nothing committed (same ETag).
E0=$(sdk etag backups db/dump.kvs)
run "$K" rewrap -r "$W/b.pub.pem" -k "$W/b.pem" "$B/db/dump.kvs"
ran 0 "rewrap with nothing to change"
check "summary names one unchanged" in_stderr "0 rewrapped, 1 unchanged, 0 failed"
check "unchanged: same ETag" test "$(sdk etag backups db/dump.kvs)" = "$E0"

# The last recipient cannot go.
run "$K" rewrap --remove "$W/b.pem" -k "$W/b.pem" "$B/db/dump.kvs"
ran 1 "removing the last recipient is refused"
check "last recipient: same ETag" test "$(sdk etag backups db/dump.kvs)" = "$E0"

# Back to a, a second rotation of the already rotated blob.
run "$K" rewrap -r "$W/a.pub.pem" -k "$W/b.pem" "$B/db/dump.kvs"
ran 0 "rewrap a rotated blob again: add a"
run "$K" verify -k "$W/a.pem" "$B/db/dump.kvs"
ran 0 "key a decrypts again"
sdk payload backups db/dump.kvs "$W/payload.again"
check "payload bytes still unchanged" cmp -s "$W/payload.before" "$W/payload.again"

# The same kvseal file uploaded by the SDK in its own blocks: refused.
run "$K" encrypt -r "$W/a.pub.pem" -o "$W/file.kvs" "$W/plain"
ran 0 "encrypt to a file"
check "SDK upload in its own blocks" sdk upload backups sdk/dump.kvs "$W/file.kvs"
E1=$(sdk etag backups sdk/dump.kvs)
run "$K" rewrap -r "$W/b.pub.pem" -k "$W/a.pem" "$B/sdk/dump.kvs"
ran 1 "a blob in another tool's blocks is refused"
check "refusal says why" in_stderr "not laid out as kvseal writes it"
check "foreign blob: same ETag" test "$(sdk etag backups sdk/dump.kvs)" = "$E1"
run "$K" verify -k "$W/a.pem" "$B/sdk/dump.kvs"
ran 0 "foreign blob still decrypts"

# A URL with a query is refused without being echoed.
run "$K" rewrap -r "$W/b.pub.pem" -k "$W/a.pem" "$B/db/dump.kvs?sig=SECRET"
ran 1 "a URL with a query is refused"
check "query not echoed" bash -c "! grep -qF SECRET '$W/stderr'"
summary
