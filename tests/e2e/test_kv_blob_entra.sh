#!/usr/bin/env bash
# E2E: the REST blob store with Entra ID bearer tokens: the project's test
# server plays Entra ID (a client secret; tokens for the storage scope are
# JWTs Azurite accepts) and Azurite serves HTTPS with the test server's
# certificate and --oauth basic. Every store operation with a bearer token
# (one token request for four threads), and auto choosing Entra ID before a
# Shared Key for https; through the CLI, storage tokens Azurite refuses
# (expired, wrong audience) fail cleanly with exit 3. Skips (77) without
# Node.js or Debian's python3-azure.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
DRIVER="$KVSEAL_BUILD/tests/blob_azurite_driver"

start_vault_as_app1 || exit 1
export KVSEAL_AZURITE_ON_EXIT=cleanup # azurite.sh chains the harness cleanup
azurite_start_for_test --cert "$SD/server.pem" --key "$SD/server.key" --oauth basic
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
# -- storage tokens Azurite refuses (expired, another audience): the CLI
# exits 3 with one line naming the role, asks for a token at most twice (one
# retry with a fresh token), leaves no blob and no output, shows no token.
blob_exists() { # NAME: yes or no, asked with the Shared Key
    SSL_CERT_FILE=$SD/ca.pem REQUESTS_CA_BUNDLE=$SD/ca.pem "$PY" - "$1" <<'PYEOF'
import os, sys
from azure.storage.blob import BlobServiceClient
c = BlobServiceClient(os.environ["KVSEAL_AZURITE_ENDPOINT"],
                      credential={"account_name": os.environ["AZURITE_ACCOUNT"],
                                  "account_key": os.environ["AZURITE_KEY"]},
                      connection_verify=os.environ["REQUESTS_CA_BUNDLE"])
print("yes" if c.get_blob_client("backups", sys.argv[1]).exists() else "no")
PYEOF
}
storage_tokens() { log_count 'e.get("op") == "token" and e.get("scope") == "https://storage.azure.com/.default"'; }
no_token_shown() { ! grep -q 'eyJ\|s3cret' "$TMP/stdout" "$TMP/stderr"; }
one_line() { [ "$(wc -l <"$TMP/stderr")" -eq 1 ]; }
one_or_two() { [ "$1" -ge 1 ] && [ "$1" -le 2 ]; }
run keygen --bits 2048 -o "$TMP/r.pem" --public-out "$TMP/r.pub"
head -c 100000 /dev/urandom >"$TMP/plain"
run encrypt -r "$TMP/r.pub" -o "$B/entra/good.kvs" "$TMP/plain"
expect "CLI: encrypt to a blob with a valid storage token" [ "$RC" -eq 0 ]
for kind in expired wrong_audience; do
    kvctl faults set --storage-token "$kind" >/dev/null
    log_clear
    rm -f "$TMP/out"
    run encrypt -r "$TMP/r.pub" -o "$B/entra/$kind.kvs" "$TMP/plain"
    expect "$kind storage token: encrypt exits 3" [ "$RC" -eq 3 ]
    expect "... one line" one_line
    expect "... naming the role needed" has "$ERR" "Storage Blob Data Contributor"
    expect "... and the refusal" has "$ERR" "HTTP 403"
    n=$(storage_tokens)
    expect "... at most one retry with a fresh token ($n token requests)" \
        one_or_two "$n"
    expect "... no token or secret shown" no_token_shown
    expect "... no blob" test "$(blob_exists "entra/$kind.kvs")" = no
    log_clear
    run decrypt -k "$TMP/r.pem" -o "$TMP/out" "$B/entra/good.kvs"
    expect "$kind storage token: decrypt exits 3" [ "$RC" -eq 3 ]
    expect "... one line" one_line
    expect "... naming the role needed" has "$ERR" "Storage Blob Data Reader"
    n=$(storage_tokens)
    expect "... at most one retry with a fresh token ($n token requests)" \
        one_or_two "$n"
    expect "... no token or secret shown" no_token_shown
    expect "... no output file" test ! -e "$TMP/out"
done
kvctl faults set --storage-token valid >/dev/null
run decrypt -k "$TMP/r.pem" -o "$TMP/out" "$B/entra/good.kvs"
expect "a valid storage token again: decrypt" eval '[ "$RC" -eq 0 ] && same "$TMP/plain" "$TMP/out"'
finish
