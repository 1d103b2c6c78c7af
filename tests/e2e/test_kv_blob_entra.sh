#!/usr/bin/env bash
# E2E: the REST blob store with Entra ID bearer tokens: the project's test
# server plays Entra ID (a client secret; tokens for the storage scope are
# JWTs Azurite accepts) and Azurite serves HTTPS with the test server's
# certificate and --oauth basic. Every store operation with a bearer token
# (one token request for four threads), and auto choosing Entra ID before a
# Shared Key for https. Skips (77) without Node.js or Debian's python3-azure.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
DRIVER="$KVSEAL_BUILD/tests/blob_azurite_driver"
"$PY" -c 'import azure.storage.blob' 2>/dev/null || { echo "skip: no python3-azure"; exit 77; }

start_vault_as_app1 || exit 1
export KVSEAL_AZURITE_ON_EXIT=cleanup # azurite.sh chains the harness cleanup
azurite_start --cert "$SD/server.pem" --key "$SD/server.key" --oauth basic
rc=$?
[ $rc -eq 77 ] && { echo "skip: Azurite unavailable (Node.js or npm package)"; exit 77; }
[ $rc -eq 0 ] || { echo "Azurite did not start"; exit 1; }
export AZURE_TENANT_ID=$TENANT
# azurite_start put Azurite's host first in the allow-list; the CA file is
# the test server's, which also signed Azurite's certificate.

# The container, made with the well-known Shared Key over HTTPS.
SSL_CERT_FILE=$SD/ca.pem REQUESTS_CA_BUNDLE=$SD/ca.pem "$PY" - <<'PYEOF' || t_fail "create container"
import os
from azure.storage.blob import BlobServiceClient
BlobServiceClient(os.environ["KVSEAL_AZURITE_ENDPOINT"],
                  credential={"account_name": os.environ["AZURITE_ACCOUNT"],
                              "account_key": os.environ["AZURITE_KEY"]},
                  connection_verify=os.environ["REQUESTS_CA_BUNDLE"]).create_container("backups")
PYEOF
B="$KVSEAL_AZURITE_ENDPOINT/backups"

driver() {
    "$DRIVER" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    RC=$?
    ERR=$(cat "$TMP/stderr") # shown by expect on failure
    return $RC
}
log_clear
expect "bearer token: all operations" driver full "$B/entra/a.kvs"
# Four threads staged blocks at once: one token request (single flight).
expect "one token for the storage scope" \
    test "$(log_count 'e.get("scope") == "https://storage.azure.com/.default"')" -eq 1
# auto picks Entra ID first for https, before a Shared Key in the environment.
expect "auto prefers Entra ID over a Shared Key" \
    env AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$AZURITE_KEY" \
    "$DRIVER" full "$B/entra/b.kvs"
finish
