#!/usr/bin/env bash
# E2E: Key Vault security properties: tokens only for allowed hosts and only
# after a matching challenge (asserted on the server's request log), TLS
# verification and TLS 1.2 minimum, and the 401 handling.
set -u
: "${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}"
: "${KVSEAL_SRC:?set KVSEAL_SRC to the source tree}"
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
KVSERVER=$KVSEAL_SRC/tests/kv-server/kvserver.py
KVCTL=$KVSEAL_SRC/tests/kv-server/kvctl.py

# Nothing from the caller's environment may choose a credential, a host or a CA.
for v in $(env | sed -n 's/^\(AZURE_[A-Za-z_]*\|KVSEAL_[A-Za-z_]*\|IDENTITY_[A-Za-z_]*\|IMDS_[A-Za-z_]*\|MSI_[A-Za-z_]*\)=.*/\1/p'); do
    case $v in KVSEAL_BIN | KVSEAL_SRC | KVSEAL_PYTHON | KVSEAL_BUILD) ;; *) unset "$v" ;; esac
done
export PATH=/usr/local/bin:/usr/bin:/bin # no real `az`

TMP=$(mktemp -d)
SERVER_PIDS=()
cleanup() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

pass=0
fail=0
t_ok() {
    pass=$((pass + 1))
    echo "ok $((pass + fail)) - $1"
}
t_fail() {
    fail=$((fail + 1))
    echo "not ok $((pass + fail)) - $1"
    [ -n "${2:-}" ] && printf '#   %s\n' "$2"
    return 0
}
# expect NAME COMMAND...: one test, passing when COMMAND succeeds.
expect() {
    local name=$1
    shift
    if "$@"; then t_ok "$name"; else t_fail "$name" "stderr: ${ERR:-}"; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

# start_server DIR [ARGS...]: a kvserver of our own; waits (bounded) for server.json.
start_server() {
    local dir=$1 i
    shift
    mkdir -p "$dir"
    "$PY" "$KVSERVER" --state-dir "$dir" "$@" >"$dir.log" 2>&1 &
    SERVER_PIDS+=($!)
    for i in $(seq 1 600); do
        [ -s "$dir/server.json" ] && return 0
        sleep 0.1
    done
    echo "kvserver did not start: $(tail -3 "$dir.log")" >&2
    return 1
}
kvctl() { "$PY" "$KVCTL" --state-dir "$SD" "$@"; }
# use_server DIR: point kvseal at that server (CA, allow-list, authority).
use_server() {
    SD=$1
    PORT=$(kvctl info port)
    IMDS_PORT=$(kvctl info imds_port)
    TENANT=$(kvctl info tenant)
    VAULT=https://localhost:$PORT
    export KVSEAL_CA_FILE=$SD/ca.pem KVSEAL_ALLOWED_HOSTS=localhost:$PORT
    export AZURE_AUTHORITY_HOST=https://localhost:$PORT
}
# run ARGS...: kvseal with output in OUT, stderr in ERR, exit code in RC.
run() {
    "$KVSEAL_BIN" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    RC=$?
    OUT=$(cat "$TMP/stdout")
    ERR=$(cat "$TMP/stderr")
    return 0
}
# log_count EXPR: request-log entries e for which the Python expression holds.
log_count() {
    kvctl log | "$PY" -c '
import json, sys
test = eval("lambda e: " + sys.argv[1])
print(sum(1 for e in json.load(sys.stdin) if test(e)))' "$1"
}
log_clear() { kvctl log clear >/dev/null; }
has() { case $1 in *"$2"*) return 0 ;; *) return 1 ;; esac; }
same() { cmp -s "$1" "$2"; }
# kid_of FILE: the first recipient's kid from kvseal inspect.
kid_of() { "$KVSEAL_BIN" inspect "$1" 2>/dev/null | sed -n 's/.*kid=\([^ ]*\).*/\1/p' | head -1; }
# secret_file NAME VALUE: a 0600 file holding VALUE.
secret_file() {
    (umask 077 && printf '%s\n' "$2" >"$TMP/$1")
    echo "$TMP/$1"
}

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
kvctl clients add --client-id app1 --secret-file "$(secret_file s.secret s3cret)" >/dev/null
kvctl keys create k1 --size 2048 >/dev/null
export AZURE_CLIENT_ID=app1 AZURE_CLIENT_SECRET=s3cret
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
run decrypt -o "$D/x4.out" "$D/good.kvs"
expect "a listed host without a port allows any port" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/x4.out"'
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
expect "a server not signed by a trusted CA is refused (exit 3)" [ "$RC" -eq 3 ]
expect "... the message says the certificate is not trusted" has "$ERR" "not trusted"
expect "... no request was made over that connection" no_requests
unset KVSEAL_CA_FILE
run decrypt -o "$D/x10.out" "$D/good.kvs"
expect "without the test CA (system store only) it is refused" eval '[ "$RC" -eq 3 ] && no_requests'
run decrypt --ca-file "$SD/ca.pem" -o "$D/x11.out" "$D/good.kvs"
expect "--ca-file adds the CA" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/x11.out"'
printf 'not a certificate\n' >"$TMP/junk.pem"
run decrypt --ca-file "$TMP/junk.pem" -o "$D/x12.out" "$D/good.kvs"
expect "a CA file without certificates is a usage error" eval '[ "$RC" -eq 1 ] && has "$ERR" "no PEM certificate"'
export KVSEAL_CA_FILE=$SD/ca.pem

start_server "$TMP/old" --tls-only-1.1 || exit 1
OLD_PORT=$("$PY" "$KVCTL" --state-dir "$TMP/old" info port)
export KVSEAL_ALLOWED_HOSTS="localhost"
run encrypt --ca-file "$TMP/old/ca.pem" -r "https://localhost:$OLD_PORT/keys/k1" -o "$D/x13.kvs" "$D/plain"
expect "a TLS 1.1-only server is refused (exit 3)" [ "$RC" -eq 3 ]
expect "... the message says the TLS handshake failed" has "$ERR" "TLS"

# -- secrets never reach the output
export KVSEAL_ALLOWED_HOSTS=localhost:$PORT
run -v decrypt -o "$D/x14.out" "$D/good.kvs"
expect "verbose output holds no bearer token or secret" eval '! has "$ERR" Bearer && ! has "$ERR" s3cret'

finish
