#!/usr/bin/env bash
# E2E: every credential source end to end against the local test server:
# client secret (env and file), client certificate (PS256 assertion, plain
# and encrypted key), workload identity, managed identity (App Service over
# https and loopback http, IMDS), Azure CLI (a fake `az` on PATH), the
# DefaultAzureCredential order, and reported failures.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
kvctl keys create k1 --size 2048 >/dev/null
D=$TMP/data
mkdir -p "$D" "$TMP/bin"
head -c 200000 /dev/urandom >"$D/plain"

unset_creds() {
    unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_CLIENT_SECRET_FILE AZURE_TENANT_ID \
        AZURE_CLIENT_CERTIFICATE_PATH AZURE_CLIENT_CERTIFICATE_PASSWORD \
        AZURE_FEDERATED_TOKEN_FILE IDENTITY_ENDPOINT IDENTITY_HEADER IMDS_ENDPOINT \
        KVSEAL_CREDENTIAL
    export PATH=/usr/local/bin:/usr/bin:/bin
}
# round_trip NAME [kvseal options...]: encrypt and decrypt in two processes.
round_trip() {
    local name=$1
    shift
    rm -f "$D/$name.kvs" "$D/$name.out"
    run encrypt "$@" -r "$VAULT/keys/k1" -o "$D/$name.kvs" "$D/plain"
    [ "$RC" -eq 0 ] || return 1
    run decrypt "$@" -o "$D/$name.out" "$D/$name.kvs"
    [ "$RC" -eq 0 ] && same "$D/plain" "$D/$name.out"
}
# used_client ID: the last successful unwrapkey was made with ID's token.
used_client() {
    [ "$(kvctl log --op unwrapkey | "$PY" -c '
import json, sys
ok = [e for e in json.load(sys.stdin) if e["status"] == 200]
print(ok[-1].get("client_id") if ok else "")')" = "$1" ]
}
grants() { log_count "e['op']=='token' and e.get('grant')=='$1'"; }

# -- client secret from the environment (tenant from the challenge)
kvctl clients add --client-id app-secret --secret-file "$(secret_file s.secret 's3cret&+=%x')" \
    >/dev/null
unset_creds
export AZURE_CLIENT_ID=app-secret AZURE_CLIENT_SECRET='s3cret&+=%x'
log_clear
expect "env-secret: round trip (auto)" round_trip secret
expect "env-secret: the vault saw that client" used_client app-secret
expect "env-secret: client_secret grants were used" [ "$(grants client_secret)" -ge 1 ]
export AZURE_TENANT_ID=$TENANT
expect "env-secret: round trip with AZURE_TENANT_ID, --credential env-secret" \
    round_trip secret2 --credential env-secret
unset AZURE_CLIENT_SECRET
export AZURE_CLIENT_SECRET_FILE=$TMP/s.secret
expect "env-secret: secret read from AZURE_CLIENT_SECRET_FILE" round_trip secretfile
export AZURE_CLIENT_SECRET=wrong
unset AZURE_CLIENT_SECRET_FILE
run encrypt -r "$VAULT/keys/k1" -o "$D/bad.kvs" "$D/plain"
expect "env-secret: a wrong secret fails with exit 3" [ "$RC" -eq 3 ]
expect "... and Entra's error_description is shown" has "$ERR" "AADSTS"
expect "... and the secret is not" eval '! has "$ERR" wrong'

# -- client certificate (PS256 JWT with x5t#S256)
unset_creds
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/cert.key" -out "$TMP/cert.crt" \
    -subj /CN=app-cert -days 2 2>/dev/null
cat "$TMP/cert.crt" "$TMP/cert.key" >"$TMP/cert.pem"
kvctl clients add --client-id app-cert --cert-file "$TMP/cert.crt" >/dev/null
export AZURE_CLIENT_ID=app-cert AZURE_CLIENT_CERTIFICATE_PATH=$TMP/cert.pem
log_clear
expect "env-cert: round trip" round_trip cert --credential env-cert
expect "env-cert: certificate assertions were used" [ "$(grants client_certificate)" -ge 1 ]
expect "env-cert: the vault saw that client" used_client app-cert
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:pem-pass -in "$TMP/cert.key" \
    -out "$TMP/cert-enc.key" 2>/dev/null
cat "$TMP/cert-enc.key" "$TMP/cert.crt" >"$TMP/cert-enc.pem" # key first also works
export AZURE_CLIENT_CERTIFICATE_PATH=$TMP/cert-enc.pem AZURE_CLIENT_CERTIFICATE_PASSWORD=pem-pass
expect "env-cert: encrypted key with AZURE_CLIENT_CERTIFICATE_PASSWORD" round_trip certenc
export AZURE_CLIENT_CERTIFICATE_PASSWORD=nope
run encrypt -r "$VAULT/keys/k1" -o "$D/bad2.kvs" "$D/plain"
expect "env-cert: a wrong password is reported" eval '[ "$RC" -ne 0 ] && has "$ERR" AZURE_CLIENT_CERTIFICATE_PASSWORD'
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/other.key" -out "$TMP/other.crt" \
    -subj /CN=other -days 2 2>/dev/null
cat "$TMP/other.crt" "$TMP/other.key" >"$TMP/other.pem"
unset AZURE_CLIENT_CERTIFICATE_PASSWORD
export AZURE_CLIENT_CERTIFICATE_PATH=$TMP/other.pem
run encrypt -r "$VAULT/keys/k1" -o "$D/bad3.kvs" "$D/plain"
expect "env-cert: an unregistered certificate fails with Entra's reason" eval '[ "$RC" -eq 3 ] && has "$ERR" "Entra ID refused"'

# -- workload identity (federated token file)
unset_creds
secret_file fed.token "eyJfederated.$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
kvctl clients add --client-id app-wl --federated-token-file "$TMP/fed.token" >/dev/null
export AZURE_CLIENT_ID=app-wl AZURE_FEDERATED_TOKEN_FILE=$TMP/fed.token AZURE_TENANT_ID=$TENANT
log_clear
expect "workload identity: round trip (auto)" round_trip wl
expect "workload identity: the vault saw that client" used_client app-wl
expect "workload identity: federated assertions were used" [ "$(grants federated)" -ge 1 ]
export AZURE_FEDERATED_TOKEN_FILE=$TMP/missing.token
run encrypt --credential workload -r "$VAULT/keys/k1" -o "$D/bad4.kvs" "$D/plain"
expect "workload identity: a missing token file is reported" eval '[ "$RC" -ne 0 ] && has "$ERR" missing.token'

# -- managed identity: App Service form (https, and http on loopback)
unset_creds
kvctl msi set --identity-header-file "$(secret_file msi.hdr hdr-$$-secret)" --client-id mi-app \
    >/dev/null
export IDENTITY_ENDPOINT=$(kvctl info msi_endpoint) IDENTITY_HEADER=hdr-$$-secret
log_clear
expect "managed identity (IDENTITY_ENDPOINT, https): round trip (auto)" round_trip msi
expect "managed identity: the vault saw the identity" used_client mi-app
expect "managed identity: the msi endpoint was used" [ "$(log_count "e['op']=='msi' and e['status']==200")" -ge 1 ]
export IDENTITY_ENDPOINT=$(kvctl info msi_endpoint_http)
expect "managed identity (IDENTITY_ENDPOINT, http on loopback)" round_trip msihttp --credential managed-identity
export IDENTITY_HEADER=wrong-header
run encrypt -r "$VAULT/keys/k1" -o "$D/bad5.kvs" "$D/plain"
expect "managed identity: a wrong IDENTITY_HEADER is reported, not hidden" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "managed identity"'
expect "... and the header value is not shown" eval '! has "$ERR" wrong-header'

# -- managed identity: IMDS (plain http, loopback endpoint)
unset_creds
export IMDS_ENDPOINT=http://127.0.0.1:$IMDS_PORT
log_clear
expect "managed identity (IMDS_ENDPOINT): round trip" round_trip imds --credential managed-identity
expect "managed identity (IMDS): the IMDS listener was used" [ "$(log_count "e['op']=='imds' and e['status']==200")" -ge 1 ]
export AZURE_CLIENT_ID=mi-app
expect "managed identity (IMDS): user-assigned AZURE_CLIENT_ID" round_trip imds2 --credential managed-identity
export AZURE_CLIENT_ID=not-assigned
run encrypt --credential managed-identity -r "$VAULT/keys/k1" -o "$D/bad6.kvs" "$D/plain"
expect "managed identity (IMDS): an unknown identity is reported" eval '[ "$RC" -eq 3 ] && has "$ERR" "managed identity"'
unset AZURE_CLIENT_ID
export IMDS_ENDPOINT=http://localhost.invalid:1
run encrypt --credential managed-identity -r "$VAULT/keys/k1" -o "$D/bad7.kvs" "$D/plain"
expect "managed identity: plain http is refused off loopback" eval '[ "$RC" -ne 0 ] && has "$ERR" "non-https"'

# -- Azure CLI (a fake az on PATH that gets a real token from the test server)
unset_creds
kvctl clients add --client-id app-cli --secret-file "$(secret_file cli.secret s3cret-cli)" >/dev/null
cat >"$TMP/bin/az" <<AZ
#!$PY
import json, os, ssl, sys, time, urllib.parse, urllib.request
with open("$TMP/az.args", "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\n")
if os.environ.get("FAKE_AZ_FAIL"):
    sys.stderr.write("WARNING: something\nERROR: Please run 'az login' to setup account.\n")
    sys.exit(1)
a = sys.argv[1:]
res = a[a.index("--resource") + 1]
tenants = [x[len("--tenant="):] for x in a if x.startswith("--tenant=")]
tenant = tenants[0] if tenants else "$TENANT"
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "app-cli",
                               "client_secret": "s3cret-cli", "scope": res + "/.default"})
ctx = ssl.create_default_context(cafile="$SD/ca.pem")
url = "https://localhost:$PORT/%s/oauth2/v2.0/token" % tenant
with urllib.request.urlopen(url, form.encode(), context=ctx) as r:
    tok = json.load(r)
exp = int(time.time()) + 3599
out = {"accessToken": tok["access_token"], "tokenType": "Bearer", "tenant": tenant,
       "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(exp))}
if not os.environ.get("FAKE_AZ_OLD"):
    out["expires_on"] = exp
print(json.dumps(out, indent=2))
AZ
chmod +x "$TMP/bin/az"
export PATH=$TMP/bin:$PATH
log_clear
expect "Azure CLI: round trip (auto, az on PATH)" round_trip cli
expect "Azure CLI: the vault saw the CLI's identity" used_client app-cli
expect "Azure CLI: az was asked for the vault resource, JSON, the tenant" \
    grep -q -- "account get-access-token --resource https://localhost --output json --tenant=$TENANT\$" "$TMP/az.args"
: >"$TMP/az.args"
export AZURE_TENANT_ID=--help
run encrypt --credential cli -r "$VAULT/keys/k1" -o "$D/badt.kvs" "$D/plain"
expect "Azure CLI: a tenant that looks like an option is refused, az not run" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "refusing tenant" && [ ! -s "$TMP/az.args" ]'
export AZURE_TENANT_ID=not_a.tenant
run encrypt --credential cli -r "$VAULT/keys/k1" -o "$D/badt2.kvs" "$D/plain"
expect "Azure CLI: a tenant that is no GUID or domain name is refused" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "refusing tenant" && [ ! -s "$TMP/az.args" ]'
export AZURE_TENANT_ID=contoso.onmicrosoft.com
run encrypt --credential cli -r "$VAULT/keys/k1" -o "$D/badt3.kvs" "$D/plain"
expect "Azure CLI: a domain tenant is passed as one --tenant= argument" \
    grep -q -- "--tenant=contoso.onmicrosoft.com\$" "$TMP/az.args"
unset AZURE_TENANT_ID
export FAKE_AZ_OLD=1
expect "Azure CLI: older output with only expiresOn" round_trip cliold --credential cli
unset FAKE_AZ_OLD
export FAKE_AZ_FAIL=1
run encrypt --credential cli -r "$VAULT/keys/k1" -o "$D/bad8.kvs" "$D/plain"
expect "Azure CLI: az's failure is reported with its ERROR line" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "az login"'
unset FAKE_AZ_FAIL

# -- chain order: the first configured source wins, and its failure is final
: >"$TMP/az.args"
export AZURE_CLIENT_ID=app-secret AZURE_CLIENT_SECRET='s3cret&+=%x'
expect "auto prefers the environment secret over the CLI" round_trip order1
expect "... and never ran az" [ ! -s "$TMP/az.args" ]
export AZURE_CLIENT_SECRET=wrong
run encrypt -r "$VAULT/keys/k1" -o "$D/bad9.kvs" "$D/plain"
expect "a failing configured source is not hidden by a later one" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "client secret" && [ ! -s "$TMP/az.args" ]'
unset_creds
log_clear
run encrypt -r "$VAULT/keys/k1" -o "$D/bad10.kvs" "$D/plain"
expect "no credential at all: a clear message, exit 3" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "no Azure credential is configured"'
expect "... and no token request and no authorized request" \
    [ "$(log_count "e['op'] in ('token','msi','imds') or e['authorization']")" -eq 0 ]
run encrypt --credential env-cert -r "$VAULT/keys/k1" -o "$D/bad11.kvs" "$D/plain"
expect "a named source without its environment is a usage error" \
    eval '[ "$RC" -eq 1 ] && has "$ERR" AZURE_CLIENT_CERTIFICATE_PATH'
run encrypt --credential kerberos -r "$VAULT/keys/k1" -o "$D/bad12.kvs" "$D/plain"
expect "an unknown credential name is a usage error" [ "$RC" -eq 1 ]
export KVSEAL_CREDENTIAL=cli PATH=$TMP/bin:$PATH
expect "KVSEAL_CREDENTIAL picks the source" round_trip envpick

finish
