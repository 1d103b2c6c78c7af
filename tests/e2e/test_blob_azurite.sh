#!/usr/bin/env bash
# E2E: the REST blob store against Azurite (pinned in tests/azurite): every
# store operation with Shared Key (AZURE_STORAGE_ACCOUNT/KEY and a connection
# string) and with SAS tokens the Azure SDK generates (container and blob
# SAS, a SAS file), then refused credentials (bad key, read-only SAS, expired
# SAS) give KVS_ERR_KEY_ACCESS without the secret in the message. Skips (77)
# without Node.js or Debian's python3-azure.
set -u
# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
PY=${KVSEAL_PYTHON:-python3}
DRIVER="$KVSEAL_BUILD/tests/blob_azurite_driver"
azurite_start_for_test
W=$(mktemp -d)
trap 'azurite_stop; rm -rf "$W"' EXIT
unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT \
    AZURE_STORAGE_KEY

# ran_ok NAME: the last run succeeded (else show what it said).
ran_ok() {
    if [ "$RC" -eq 0 ]; then pass; else fail "$1"; cat "$W/stderr" >&2; fi
}
not_in_stderr() { ! grep -qF -- "$1" "$W/stderr"; }

# sdk ACTION...: container creation and SAS tokens from the Azure SDK.
sdk() {
    "$PY" - "$@" <<'PYEOF'
import datetime, sys
from azure.storage.blob import (BlobServiceClient, ContainerSasPermissions,
                                generate_blob_sas, generate_container_sas, BlobSasPermissions)
import os
acct, key, ep = os.environ["AZURITE_ACCOUNT"], os.environ["AZURITE_KEY"], os.environ["KVSEAL_AZURITE_ENDPOINT"]
action = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
if action == "container":
    BlobServiceClient(ep, credential={"account_name": acct, "account_key": key}).create_container(sys.argv[2])
elif action == "container-sas":
    perm = ContainerSasPermissions(read=True, write=sys.argv[3] == "rw",
                                   create=sys.argv[3] == "rw")
    exp = now + (datetime.timedelta(hours=1) if sys.argv[3] != "expired" else -datetime.timedelta(hours=1))
    print(generate_container_sas(acct, sys.argv[2], account_key=key, permission=perm, expiry=exp,
                                 start=now - datetime.timedelta(hours=2)))
elif action == "blob-sas":
    print("?" + generate_blob_sas(acct, sys.argv[2], sys.argv[3], account_key=key,
                                  permission=BlobSasPermissions(read=True, write=True, create=True),
                                  expiry=now + datetime.timedelta(hours=1)))
PYEOF
}

check "create container" sdk container backups
B="$KVSEAL_AZURITE_ENDPOINT/backups"

# Shared Key from the account and key variables (with the idle reset test).
run env AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$AZURITE_KEY" \
    KVSEAL_BLOB_IDLE_TEST=1 "$DRIVER" full "$B/shared/key.kvs"
ran_ok "shared key: all operations"
# Shared Key from a connection string.
run env AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$KVSEAL_AZURITE_ENDPOINT;" \
    "$DRIVER" full "$B/conn%20string/blob.kvs"
ran_ok "connection string: all operations"

# SAS: a container SAS in the environment, a blob SAS ('?' first) in a file.
SAS=$(sdk container-sas backups rw)
run env AZURE_STORAGE_SAS_TOKEN="$SAS" "$DRIVER" full "$B/sas/env.kvs"
ran_ok "container SAS: all operations"
check "container SAS never shown" not_in_stderr "$SAS"
sdk blob-sas backups sas/file.kvs >"$W/sas.txt"
chmod 600 "$W/sas.txt"
run env KVSEAL_TEST_SAS_FILE="$W/sas.txt" "$DRIVER" full "$B/sas/file.kvs"
ran_ok "blob SAS file with leading ?: all operations"

# Refused credentials.
BAD=$(printf 'A%.0s' $(seq 1 86))==
run env AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$BAD" \
    "$DRIVER" denied-read "$B/shared/key.kvs"
ran_ok "bad key: KEY_ACCESS, no key in message"
run env AZURE_STORAGE_SAS_TOKEN="$(sdk container-sas backups ro)" \
    "$DRIVER" denied-write "$B/sas/ro.kvs"
ran_ok "read-only SAS: write refused"
run env AZURE_STORAGE_SAS_TOKEN="$(sdk container-sas backups expired)" \
    "$DRIVER" denied-read "$B/sas/env.kvs"
ran_ok "expired SAS: read refused"
summary
