#!/usr/bin/env bash
# E2E: a hostile file cannot hold kvseal for long (issue 15 item 6): at most
# KVSEAL_MAX_REMOTE_RECIPIENTS Key Vault recipients are tried per file, all
# remote unwraps of one file share KVSEAL_FILE_BUDGET_SECONDS, and a vault
# still throttling at the end of the throttle budget is skipped like a dead
# one. Short budgets keep this to seconds.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_vault_as_app1 || exit 1
D=$TMP/data
mkdir -p "$D"
head -c 20000 /dev/urandom >"$D/plain"
R=()
for k in k1 k2 k3 k4 k5 k6; do
    kvctl keys create $k --size 2048 >/dev/null
    R+=(-r "$VAULT/keys/$k")
done
run encrypt "${R[@]}" -o "$D/six.kvs" "$D/plain"
[ "$RC" -eq 0 ] || { echo "setup failed: $ERR"; exit 1; }
faults() { kvctl reset >/dev/null && kvctl faults set "$@" >/dev/null; }
# unwrapkey requests (a failing fault answers the unauthenticated probe too)
unwraps() { log_count "e['op']=='unwrapkey'"; }
now() { date +%s; }

run decrypt -o "$D/ok.out" "$D/six.kvs"
expect "six Key Vault recipients: decrypts when the vault works" \
    eval '[ "$RC" -eq 0 ] && same "$D/plain" "$D/ok.out"'

# -- the cap on remote recipients tried per file
faults --fail -1 --fail-status 403 --ops unwrapkey
log_clear
KVSEAL_MAX_REMOTE_RECIPIENTS=2 run decrypt -o "$D/cap.out" "$D/six.kvs"
expect "a vault refusing every unwrap: exit 3" [ "$RC" -eq 3 ]
expect "... only 2 recipients were tried (KVSEAL_MAX_REMOTE_RECIPIENTS=2)" [ "$(unwraps)" -eq 2 ]
expect "... and the rest are reported as not tried" has "$ERR" "at most 2 Key Vault recipients"
log_clear
run decrypt -o "$D/cap4.out" "$D/six.kvs"
expect "the default cap is 4" [ "$(unwraps)" -eq 4 ]
KVSEAL_MAX_REMOTE_RECIPIENTS=0 run decrypt -o "$D/cap0.out" "$D/six.kvs"
expect "a cap of 0 is a configuration error" \
    eval '[ "$RC" -ne 0 ] && has "$ERR" KVSEAL_MAX_REMOTE_RECIPIENTS'

# -- the per-file time budget: a vault throttling forever
faults --fail -1 --fail-status 429 --fail-retry-after 1 --ops unwrapkey
log_clear
t0=$(now)
KVSEAL_FILE_BUDGET_SECONDS=3 KVSEAL_RETRY_MAX_SECONDS=600 KVSEAL_THROTTLE_MAX_SECONDS=900 \
    run decrypt -o "$D/bud.out" "$D/six.kvs"
elapsed=$(($(now) - t0))
expect "throttled without end: the file gives up within its budget, exit 7 (transient) (${elapsed}s)" \
    eval '[ "$RC" -eq 7 ] && [ "$elapsed" -le 8 ]'
expect "... saying the file's budget is spent" has "$ERR" "time budget for Key Vault"
expect "... and no plaintext appeared" [ ! -e "$D/bud.out" ]

# -- exhausted throttling marks the vault down like a dead one
log_clear
t0=$(now)
KVSEAL_RETRY_MAX_SECONDS=2 KVSEAL_THROTTLE_MAX_SECONDS=2 \
    run decrypt -o "$D/down.out" "$D/six.kvs"
elapsed=$(($(now) - t0))
expect "a vault throttling past the throttle budget: exit 7 (transient) (${elapsed}s)" \
    eval '[ "$RC" -eq 7 ] && [ "$elapsed" -le 6 ]'
expect "... later recipients on it are skipped at once" has "$ERR" "is skipped for"
expect "... after one recipient's requests" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==429")" -le 6 ]
expect "KVSEAL_FILE_BUDGET_SECONDS must be a number" \
    eval 'KVSEAL_FILE_BUDGET_SECONDS=soon run decrypt -o "$D/x.out" "$D/six.kvs"; [ "$RC" -ne 0 ] && has "$ERR" KVSEAL_FILE_BUDGET_SECONDS'

finish
