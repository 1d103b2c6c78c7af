#!/usr/bin/env bash
# E2E: Key Vault security properties: tokens only for allowed hosts and only
# after a matching challenge (asserted on the server's request log), TLS
# verification and TLS 1.2 minimum, the private CA only for allowed hosts,
# and the 401 handling.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_vault_as_app1 k1 || exit 1
D=$TMP/data
mkdir -p "$D"
head -c 50000 /dev/urandom >"$D/plain"
run encrypt -r "$VAULT/keys/k1" -o "$D/good.kvs" "$D/plain"
[ "$RC" -eq 0 ] || { echo "setup failed: $ERR"; exit 1; }
# TLS handshakes that failed are logged with op "tls"; they carry no request.
no_requests() { [ "$(log_count "e['op'] != 'tls'")" -eq 0 ]; }
no_token_sent() { [ "$(log_count "e['authorization'] or e['op'] in ('token','msi','imds')")" -eq 0 ]; }

# -- hosts that are not allowed: refused before any request
log_clear
run encrypt -r "https://127.0.0.1:$PORT/keys/k1" -o "$D/x1.kvs" "$D/plain"
expect "-r naming a host that is not allowed: exit 1" [ "$RC" -eq 1 ]
expect "... the message names KVSEAL_ALLOWED_HOSTS" has "$ERR" KVSEAL_ALLOWED_HOSTS
expect "... and no request reached the server" no_requests
"$PY" - "$D/good.kvs" "$D/hostile.kvs" "localhost:$PORT" "127.0.0.1:$PORT" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
a, b = sys.argv[3].encode(), sys.argv[4].encode()
assert len(a) == len(b) and a in data
open(sys.argv[2], "wb").write(data.replace(a, b))
PYEOF
log_clear
run decrypt -o "$D/hostile.out" "$D/hostile.kvs"
expect "a file naming a host that is not allowed: exit 3" [ "$RC" -eq 3 ]
expect "... with a clear refusal" has "$ERR" "refusing to contact 127.0.0.1:$PORT"
expect "... no request reached the server" no_requests
expect "... and no plaintext appeared" [ ! -e "$D/hostile.out" ]
saved=$KVSEAL_ALLOWED_HOSTS
unset KVSEAL_ALLOWED_HOSTS
run decrypt -o "$D/x2.out" "$D/good.kvs"
expect "loopback is not allowed unless listed" eval '[ "$RC" -eq 3 ] && no_requests'
export KVSEAL_ALLOWED_HOSTS="localhost:$((PORT == 65535 ? 1 : PORT + 1))"
run decrypt -o "$D/x3.out" "$D/good.kvs"
expect "a listed host on another port is not allowed" eval '[ "$RC" -eq 3 ] && no_requests'
export KVSEAL_ALLOWED_HOSTS="example.invalid, localhost"
log_clear
run decrypt -o "$D/x4.out" "$D/good.kvs"
expect "a listed host without a port allows port 443 only, not $PORT (issue 15.5)" \
    eval '[ "$RC" -eq 3 ] && no_requests && [ ! -e "$D/x4.out" ]'
expect "... the refusal names the host and port" has "$ERR" "refusing to contact localhost:$PORT"
export KVSEAL_ALLOWED_HOSTS="example.invalid, localhost:$PORT"
run decrypt -o "$D/x4.out" "$D/good.kvs"
expect "the same host listed with its port is allowed" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/x4.out"'
export KVSEAL_ALLOWED_HOSTS=$saved

# -- challenge resource verification
kvctl faults set --challenge-resource https://evil.example >/dev/null
log_clear
run encrypt -r "$VAULT/keys/k1" -o "$D/x5.kvs" "$D/plain"
expect "a challenge naming another resource: encrypt refused (exit 3)" [ "$RC" -eq 3 ]
expect "... the message says the resource does not match" has "$ERR" "does not match"
run decrypt -o "$D/x6.out" "$D/good.kvs"
expect "... decrypt refused too" [ "$RC" -eq 3 ]
expect "... no token was requested or sent" no_token_sent
expect "... though the vault was asked (without a token)" [ "$(log_count "e['status']==401")" -ge 2 ]
kvctl faults set --challenge-resource https://vault.azure.net >/dev/null
log_clear
run decrypt -o "$D/x7.out" "$D/good.kvs"
expect "a real-cloud resource on a loopback host is refused too" eval '[ "$RC" -eq 3 ] && no_token_sent'
kvctl reset >/dev/null
for style in scope authorization_uri; do
    kvctl faults set --challenge-style $style >/dev/null
    run decrypt -o "$D/style-$style.out" "$D/good.kvs"
    expect "challenge style '$style' is understood" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/style-$style.out"'
done
kvctl reset >/dev/null

# -- 401 handling: a fresh token rejected names tenant and audience
kvctl faults set --challenge-tenant 11111111-1111-1111-1111-111111111111 >/dev/null
export AZURE_TENANT_ID=$TENANT
log_clear
run decrypt -o "$D/x8.out" "$D/good.kvs"
expect "a fresh token rejected with 401: exit 3" [ "$RC" -eq 3 ]
expect "... the message names the tenant" has "$ERR" "tenant $TENANT"
expect "... and the audience" has "$ERR" "audience https://localhost/.default"
expect "... after exactly one token request" [ "$(log_count "e['op']=='token'")" -eq 1 ]
unset AZURE_TENANT_ID
kvctl reset >/dev/null

# -- a cached token that stops working is dropped and replaced once
mkfifo "$D/second.kvs"
cp "$D/good.kvs" "$D/first.kvs"
run encrypt -r "$VAULT/keys/k1" -o "$D/other.kvs" "$D/plain"
mkdir -p "$D/fifo.out"
log_clear
"$KVSEAL_BIN" decrypt -o "$D/fifo.out" "$D/first.kvs" "$D/second.kvs" 2>"$TMP/fifo.err" &
dec_pid=$!
for i in $(seq 1 200); do
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==200")" -ge 1 ] && break
    sleep 0.1
done
kvctl tokens clear >/dev/null
cat "$D/other.kvs" >"$D/second.kvs"
wait $dec_pid
RC=$?
ERR=$(cat "$TMP/fifo.err")
expect "after the vault forgot the token, decrypt still succeeds" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/fifo.out/second"'
expect "... having fetched exactly one more token" [ "$(log_count "e['op']=='token' and e['status']==200")" -eq 2 ]
expect "... after one 401 with the old token" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==401 and e['authorization']")" -eq 1 ]

# -- TLS: verification always on, no private CA unless given, TLS 1.2 minimum
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/other-ca.key" -out "$TMP/other-ca.pem" \
    -subj /CN=other-ca -days 2 2>/dev/null
export KVSEAL_CA_FILE=$TMP/other-ca.pem
log_clear
run decrypt -o "$D/x9.out" "$D/good.kvs"
expect "a server not signed by a trusted CA is refused (exit 1: configuration, not transient)" [ "$RC" -eq 1 ]
expect "... the message says the certificate is not trusted" has "$ERR" "not trusted"
expect "... and names the host whose verification failed" \
    has "$ERR" "certificate verification failed for localhost:$PORT"
expect "... no request was made over that connection" no_requests
unset KVSEAL_CA_FILE
run decrypt -o "$D/x10.out" "$D/good.kvs"
expect "without the test CA (system store only) it is refused" eval '[ "$RC" -eq 1 ] && no_requests'
run decrypt --ca-file "$SD/ca.pem" -o "$D/x11.out" "$D/good.kvs"
expect "--ca-file adds the CA" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/x11.out"'
printf 'not a certificate\n' >"$TMP/junk.pem"
run decrypt --ca-file "$TMP/junk.pem" -o "$D/x12.out" "$D/good.kvs"
expect "a CA file without certificates is a usage error" eval '[ "$RC" -eq 1 ] && has "$ERR" "no PEM certificate"'
export KVSEAL_CA_FILE=$SD/ca.pem

# -- the private CA vouches only for allowed hosts: a sign-in host outside
# KVSEAL_ALLOWED_HOSTS whose certificate that CA signed must not get the secret
log_clear
AZURE_AUTHORITY_HOST=https://127.0.0.1:$PORT run decrypt -o "$D/x15.out" "$D/good.kvs"
expect "KVSEAL_CA_FILE is not trusted for a sign-in host that is not allowed (exit 1)" [ "$RC" -eq 1 ]
expect "... the message names the host and the failed verification" \
    has "$ERR" "certificate verification failed for 127.0.0.1:$PORT"
expect "... no token was requested" no_token_sent
expect "... and no plaintext appeared" [ ! -e "$D/x15.out" ]
KVSEAL_ALLOWED_HOSTS="localhost:$PORT,127.0.0.1:$PORT" AZURE_AUTHORITY_HOST=https://127.0.0.1:$PORT \
    run decrypt -o "$D/x16.out" "$D/good.kvs"
expect "... but it is once that host is allowed" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/x16.out"'

start_server "$TMP/old" --tls-only-1.1 || exit 1
OLD_PORT=$("$PY" "$KVCTL" --state-dir "$TMP/old" info port)
export KVSEAL_ALLOWED_HOSTS="localhost:$OLD_PORT"
run encrypt --ca-file "$TMP/old/ca.pem" -r "https://localhost:$OLD_PORT/keys/k1" -o "$D/x13.kvs" "$D/plain"
expect "a TLS 1.1-only server is refused (exit 1: configuration)" [ "$RC" -eq 1 ]
expect "... the message says the TLS handshake failed" has "$ERR" "TLS"

# -- secrets never reach the output
export KVSEAL_ALLOWED_HOSTS=localhost:$PORT
run -v decrypt -o "$D/x14.out" "$D/good.kvs"
expect "verbose output holds no bearer token or secret" eval '! has "$ERR" Bearer && ! has "$ERR" s3cret'

# -- another cloud's vault (issue 15 item 2): a file whose kid names
# x.vault.azure.cn must not make kvseal ask China's sign-in host for a token
# with this (public cloud) client secret. Refused before any request.
LONGKEY=kcrosscloud0123456789
kvctl keys create "$LONGKEY" --size 2048 >/dev/null
run encrypt -r "$VAULT/keys/$LONGKEY" -o "$D/cc.kvs" "$D/plain"
"$PY" - "$D/cc.kvs" "$D/crosscloud.kvs" "localhost:$PORT/keys/$LONGKEY" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
old = sys.argv[3].encode()
host = b"x.vault.azure.cn/keys/"
new = host + b"k" * (len(old) - len(host))  # same length: the header still parses
assert old in data and len(new) == len(old)
open(sys.argv[2], "wb").write(data.replace(old, new))
PYEOF
log_clear
saved_authority=$AZURE_AUTHORITY_HOST
unset AZURE_AUTHORITY_HOST KVSEAL_CLOUD
export KVSEAL_RETRY_MAX_SECONDS=2 # bounds a run that would try to connect
run decrypt -o "$D/cc.out" "$D/crosscloud.kvs"
expect "a file naming another cloud's vault: exit 3" [ "$RC" -eq 3 ]
expect "... refused naming the host and how to choose the cloud" \
    eval 'has "$ERR" "refusing to contact x.vault.azure.cn" && has "$ERR" KVSEAL_CLOUD'
expect "... no token request, nothing authorized" no_token_sent
expect "... and no plaintext appeared" [ ! -e "$D/cc.out" ]
run decrypt --cloud mars -o "$D/cc2.out" "$D/crosscloud.kvs"
expect "--cloud with an unknown name: usage error" \
    eval '[ "$RC" -eq 1 ] && has "$ERR" "unknown Azure cloud"'
unset KVSEAL_RETRY_MAX_SECONDS
export AZURE_AUTHORITY_HOST=$saved_authority

finish
