#!/usr/bin/env bash
# E2E: the exit codes a script decides on (issue 12.5). A vault that cannot be
# reached is transient (exit 7, retry later), not "wrong key" (3); limits of
# the configuration (a too-large secret file, a header that would exceed
# 64 KiB) are usage errors (exit 1), not "invalid file" (2).
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

export KVSEAL_CONNECT_TIMEOUT=2 KVSEAL_HTTP_TIMEOUT=2 KVSEAL_RETRY_MAX_SECONDS=2
KEY=$KVSEAL_SRC/tests/fuzz/keys/fuzz_rsa2048.pem
D=$TMP/data
mkdir -p "$D"
head -c 100000 /dev/urandom >"$D/plain"

start_vault_as_app1 k1 || exit 1

# -- configuration limits: exit 1
(umask 077 && head -c 70000 /dev/zero | tr '\0' x >"$TMP/big.secret")
AZURE_CLIENT_SECRET_FILE=$TMP/big.secret AZURE_TENANT_ID=$TENANT KVSEAL_CREDENTIAL=env-secret \
    env -u AZURE_CLIENT_SECRET "$KVSEAL_BIN" encrypt -r "$VAULT/keys/k1" -o "$D/big.kvs" \
    "$D/plain" >"$TMP/stdout" 2>"$TMP/stderr"
RC=$? ERR=$(cat "$TMP/stderr")
expect "a too-large client secret file: exit 1" [ "$RC" -eq 1 ]
expect "... the message says it is too large" has "$ERR" "larger than"
expect "... and no output was written" [ ! -e "$D/big.kvs" ]

ctx=() # 64 pairs of 1 KiB keys and values: 128 KiB of header
v=$(head -c 1000 /dev/zero | tr '\0' v)
for i in $(seq 10 73); do ctx+=(--context "k$i$v=$v"); done
run encrypt -r "$KEY" "${ctx[@]}" -o "$D/ctx.kvs" "$D/plain"
expect "a header that would exceed 64 KiB on encrypt: exit 1" [ "$RC" -eq 1 ]
expect "... the message gives the size limit" has "$ERR" "at most 65536"

# -- a vault that cannot be reached: exit 7, naming the host
run encrypt -r "$VAULT/keys/k1" -r "$KEY" -o "$D/two.kvs" "$D/plain"
[ "$RC" -eq 0 ] || { echo "setup failed: $ERR"; exit 1; }
run decrypt -o "$D/two.out" "$D/two.kvs"
expect "setup: the vault recipient decrypts while the vault runs" \
    eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/two.out"'
kill "${SERVER_PIDS[0]}" && wait "${SERVER_PIDS[0]}" 2>/dev/null
SERVER_PIDS=() # stopped: its port on 127.0.0.1 is now closed

run decrypt -o "$D/down.out" "$D/two.kvs"
expect "decrypt while the vault is unreachable: exit 7" [ "$RC" -eq 7 ]
expect "... the message names the host" has "$ERR" "localhost:$PORT"
expect "... and says retrying may succeed" has "$ERR" "retrying later may succeed"
expect "... and no plaintext appeared" [ ! -e "$D/down.out" ]
run decrypt -k "$KEY" -o "$D/local.out" "$D/two.kvs"
expect "the local recipient still decrypts" eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/local.out"'
run verify -k "$VAULT/keys/k1" "$D/two.kvs"
expect "verify with a vault key URL that cannot be reached: exit 7" [ "$RC" -eq 7 ]
run verify -k "$VAULT/keys/k1" -k "$KEY" "$D/two.kvs"
expect "... but a second key that opens the file wins (exit 0)" [ "$RC" -eq 0 ]
run encrypt -r "$VAULT/keys/k1" -o "$D/enc-down.kvs" "$D/plain"
expect "encrypt to an unreachable vault: exit 7" [ "$RC" -eq 7 ]
expect "... and no output was written" [ ! -e "$D/enc-down.kvs" ]
run decrypt -k "$TMP/no-such.pem" -o "$D/x.out" "$D/two.kvs"
expect "a missing key file is still exit 1" [ "$RC" -eq 1 ]

finish
