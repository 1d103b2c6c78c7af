# shellcheck shell=bash
# Shared harness of the Key Vault e2e scripts (sourced, not run by ctest):
# a scrubbed environment, a temp dir and servers removed on exit, TAP-style
# counters ending in "N passed, M failed", and helpers to start the local
# test server, point kvseal at it and read its request log.
set -u
: "${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}"
: "${KVSEAL_SRC:?set KVSEAL_SRC to the source tree}"
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
KVSERVER=$KVSEAL_SRC/tests/kv-server/kvserver.py
KVCTL=$KVSEAL_SRC/tests/kv-server/kvctl.py
# shellcheck source=keys.sh
. "$(dirname "${BASH_SOURCE[0]}")/keys.sh"

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
# expect NAME COMMAND...: one test, passing when COMMAND succeeds. A failure
# shows the last run's exit code and the end of its stderr (verbose runs over
# thousands of files would flood the log).
expect() {
    local name=$1
    shift
    if "$@"; then t_ok "$name"; else
        t_fail "$name" "rc=${RC:-} stderr: $(printf '%s' "${ERR:-}" | tail -c 600)"
    fi
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
# start_vault_as_app1 [KEY...]: a server of our own in $TMP/srv, used; a
# client app1 (secret s3cret) whose credentials are exported; RSA-2048 keys
# KEY... created.
start_vault_as_app1() {
    local k
    start_server "$TMP/srv" || return 1
    use_server "$TMP/srv"
    kvctl clients add --client-id app1 --secret-file "$(secret_file s.secret s3cret)" >/dev/null
    for k in "$@"; do kvctl keys create "$k" --size 2048 >/dev/null; done
    export AZURE_CLIENT_ID=app1 AZURE_CLIENT_SECRET=s3cret
}
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
