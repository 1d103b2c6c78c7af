#!/usr/bin/env bash
# E2E: Key Vault faults through real TLS and libcurl: throttling (Retry-After
# in seconds, or absent), injected 5xx and 408, dropped connections, a stall,
# and the bounded retry budget; 4xx are never retried. The protocol logic in
# detail (Retry-After as a date or in ms, every retried status, back-off,
# budgets, the breaker) is unit-tested on virtual time in
# tests/unit/test_azure_protocol.c; this is the thin end-to-end layer.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_vault_as_app1 k1 || exit 1
D=$TMP/data
mkdir -p "$D/in" "$D/enc"
for f in f1 f2 f3; do head -c 70000 /dev/urandom >"$D/in/$f"; done
run encrypt -r "$VAULT/keys/k1" -o "$D/enc" "$D/in/f1" "$D/in/f2" "$D/in/f3"
[ "$RC" -eq 0 ] || { echo "setup failed: $ERR"; exit 1; }

# decrypt_all NAME: decrypt the three files in one process into $D/NAME.
decrypt_all() {
    rm -rf "$D/$1"
    mkdir -p "$D/$1"
    run -v decrypt -o "$D/$1" "$D/enc/f1.kvs" "$D/enc/f2.kvs" "$D/enc/f3.kvs"
    [ "$RC" -eq 0 ] && same "$D/in/f1" "$D/$1/f1" && same "$D/in/f2" "$D/$1/f2" &&
        same "$D/in/f3" "$D/$1/f3"
}
faults() { kvctl reset >/dev/null && kvctl faults set "$@" >/dev/null; }
now() { date +%s; }

# -- throttling
for mode in yes no; do
    faults --throttle 2 --retry-after $mode
    expect "throttled (Retry-After: $mode): decrypt finishes correctly" decrypt_all thr-$mode
    expect "... the server did throttle" [ "$(log_count "e['status']==429")" -ge 1 ]
    expect "... exactly three unwraps succeeded" [ "$(log_count "e['op']=='unwrapkey' and e['status']==200")" -eq 3 ]
done
expect "verbose output counts the retries" has "$ERR" "retries"

# -- injected failures that are retried
faults --fail 3
log_clear
run encrypt -r "$VAULT/keys/k1" -o "$D/e503.kvs" "$D/in/f1"
expect "three injected 503s: encrypt finishes" [ "$RC" -eq 0 ]
expect "... after three failed attempts" [ "$(log_count "e['status']==503")" -eq 3 ]
faults --fail 3
expect "three injected 503s: decrypt finishes correctly" decrypt_all f503
for status in 408; do
    faults --fail 1 --fail-status $status
    expect "an injected $status is retried" decrypt_all f$status
done
faults --fail 2 --fail-retry-after 1
expect "503 with Retry-After is retried" decrypt_all f503ra
for mode in close reset; do
    faults --drop 2 --drop-mode $mode
    expect "two dropped connections ($mode) are retried" decrypt_all drop-$mode
done
faults --stall 4 --stall-count 1
t0=$(now)
KVSEAL_HTTP_TIMEOUT=2 run decrypt -o "$D/stall1.out" "$D/enc/f1.kvs"
expect "one stalled request times out and is retried" eval '[ "$RC" -eq 0 ] && same "$D/in/f1" "$D/stall1.out"'

# -- bounded: a failing service gives up within the budget
faults --fail -1
t0=$(now)
KVSEAL_RETRY_MAX_SECONDS=4 run decrypt -o "$D/fail.out" "$D/enc/f1.kvs"
elapsed=$(($(now) - t0))
expect "a service failing for good: exit 7 within the budget (${elapsed}s)" \
    eval '[ "$RC" -eq 7 ] && [ "$elapsed" -le 8 ]'
expect "... the message names the status" has "$ERR" "HTTP 503"
expect "... and no plaintext appeared" [ ! -e "$D/fail.out" ]
faults --throttle 1 --retry-after 3600
run decrypt -o "$D/warm.out" "$D/enc/f1.kvs" # uses the one admitted request
t0=$(now)
KVSEAL_RETRY_MAX_SECONDS=5 run decrypt -o "$D/thr.out" "$D/enc/f2.kvs"
elapsed=$(($(now) - t0))
expect "Retry-After beyond the budget: gives up at once (${elapsed}s)" \
    eval '[ "$RC" -eq 7 ] && [ "$elapsed" -le 3 ] && has "$ERR" throttled'

# -- client errors are not retried
kvctl reset >/dev/null
run encrypt -r "$VAULT/keys/nokey" -o "$D/nk.kvs" "$D/in/f1"
expect "404 is not retried" eval '[ "$RC" -eq 3 ] && [ "$(log_count "e['"'"'status'"'"']==404")" -eq 1 ]'
kvctl clients add --client-id app-none --secret-file "$TMP/s.secret" --permissions none >/dev/null
log_clear
AZURE_CLIENT_ID=app-none run decrypt -o "$D/none.out" "$D/enc/f1.kvs"
expect "403 is not retried" eval '[ "$RC" -eq 3 ] && [ "$(log_count "e['"'"'status'"'"']==403")" -eq 1 ]'

finish
