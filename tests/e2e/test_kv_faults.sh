#!/usr/bin/env bash
# E2E: Key Vault faults: throttling (Retry-After in seconds, as a date, or
# absent), injected 5xx and 408, dropped connections, stalls, and the bounded
# retry budget; 4xx are never retried.
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
for mode in yes no date; do
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
for status in 408 500 502 504; do
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

# -- bounded: a stalled or failing service gives up within the budget
faults --stall 60 --stall-count 1000
t0=$(now)
KVSEAL_HTTP_TIMEOUT=2 KVSEAL_RETRY_MAX_SECONDS=6 run decrypt -o "$D/stall.out" "$D/enc/f1.kvs"
elapsed=$(($(now) - t0))
expect "a stalled server: exit 3" [ "$RC" -eq 3 ]
expect "... within the configured bound (${elapsed}s <= 10s)" [ "$elapsed" -le 10 ]
expect "... the message says it timed out" has "$ERR" "timed out"
expect "... and no plaintext appeared" [ ! -e "$D/stall.out" ]
faults --fail -1
t0=$(now)
KVSEAL_RETRY_MAX_SECONDS=4 run decrypt -o "$D/fail.out" "$D/enc/f1.kvs"
elapsed=$(($(now) - t0))
expect "a service failing for good: exit 3 within the budget (${elapsed}s)" \
    eval '[ "$RC" -eq 3 ] && [ "$elapsed" -le 8 ]'
expect "... the message names the status" has "$ERR" "HTTP 503"
faults --throttle 1 --retry-after 3600
run decrypt -o "$D/warm.out" "$D/enc/f1.kvs" # uses the one admitted request
t0=$(now)
KVSEAL_RETRY_MAX_SECONDS=5 run decrypt -o "$D/thr.out" "$D/enc/f2.kvs"
elapsed=$(($(now) - t0))
expect "Retry-After beyond the budget: gives up at once (${elapsed}s)" \
    eval '[ "$RC" -eq 3 ] && [ "$elapsed" -le 3 ] && has "$ERR" throttled'

# -- client errors are not retried
kvctl reset >/dev/null
run encrypt -r "$VAULT/keys/nokey" -o "$D/nk.kvs" "$D/in/f1"
expect "404 is not retried" eval '[ "$RC" -eq 3 ] && [ "$(log_count "e['"'"'status'"'"']==404")" -eq 1 ]'
kvctl clients add --client-id app-none --secret-file "$TMP/s.secret" --permissions none >/dev/null
log_clear
AZURE_CLIENT_ID=app-none run decrypt -o "$D/none.out" "$D/enc/f1.kvs"
expect "403 is not retried" eval '[ "$RC" -eq 3 ] && [ "$(log_count "e['"'"'status'"'"']==403")" -eq 1 ]'

finish
