#!/usr/bin/env bash
# E2E: `audit` and untrusted headers (issue 15, items 5 and 8). audit asks
# only vault hosts the policy allows (known clouds, KVSEAL_ALLOWED_HOSTS with
# the port) and lists the ones it skipped; --verify-headers unwraps each
# file's data key and verifies its header tag, so a header edited without the
# data key is reported as failed (exit 2) instead of as evidence.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_vault_as_app1 k1 || exit 1
D=$TMP/data
mkdir -p "$D"
head -c 20000 /dev/urandom >"$D/plain"
run keygen --bits 2048 -o "$D/local.pem" --public-out "$D/local.pub.pem"
run keygen --bits 2048 -o "$D/other.pem"
run encrypt -r "$VAULT/keys/k1" -r "$D/local.pub.pem" --context backup=db-2026-01-05 \
    -o "$D/good.kvs" "$D/plain"
[ "$RC" -eq 0 ] || { echo "setup failed: $ERR"; exit 1; }
no_requests() { [ "$(log_count "e['op'] != 'tls'")" -eq 0 ]; }
# json EXPR: evaluate a Python expression over the parsed stdout (d).
json() { printf '%s' "$OUT" | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# edit IN OUT OLD NEW: replace bytes of equal length (the header tag is left as it was).
edit() {
    "$PY" - "$@" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
a, b = sys.argv[3].encode(), sys.argv[4].encode()
assert len(a) == len(b) and a in data, (a, b)
open(sys.argv[2], "wb").write(data.replace(a, b, 1))
PYEOF
}

# -- hosts named by a file: only allowed ones are contacted (negative cases first)
edit "$D/good.kvs" "$D/other-host.kvs" "localhost:$PORT" "127.0.0.1:$PORT"
log_clear
run audit "$D/other-host.kvs"
expect "a file naming a host that is not allowed: audit exits 3 (could not check)" [ "$RC" -eq 3 ]
expect "... and sends nothing to it" no_requests
expect "... the recipient is reported as skipped-host" has "$OUT" "127.0.0.1:$PORT/keys/k1/"
expect "... with its state" has "$OUT" ": skipped-host (refusing to contact 127.0.0.1:$PORT"
expect "... and the summary names the host not contacted" \
    has "$OUT" "not contacted (neither a known cloud's vault host nor listed in KVSEAL_ALLOWED_HOSTS): 127.0.0.1:$PORT"
log_clear
run audit --json "$D/other-host.kvs" "$D/good.kvs"
expect "--json: the skipped host is listed once in the summary" \
    [ "$(json 'd["summary"]["skipped_hosts"]')" = "['127.0.0.1:$PORT']" ]
expect "... the recipient's status is skipped-host" \
    [ "$(json '[r["status"] for r in d["files"][0]["recipients"]]')" = "['skipped-host', 'offline']" ]
expect "... the allowed file was still checked (ok)" [ "$(json 'd["files"][1]["verdict"]')" = ok ]
expect "... and no request reached the server for 127.0.0.1" \
    [ "$(log_count "e['op'] != 'tls' and '127.0.0.1' in str(e.get('host', ''))")" -eq 0 ]

saved=$KVSEAL_ALLOWED_HOSTS
export KVSEAL_ALLOWED_HOSTS=localhost
log_clear
run audit --json "$D/good.kvs"
expect "an allow-list entry without a port does not allow port $PORT: skipped, exit 3" \
    eval '[ "$RC" -eq 3 ] && no_requests'
expect "... and it is listed as skipped" [ "$(json 'd["summary"]["skipped_hosts"]')" = "['localhost:$PORT']" ]
export KVSEAL_ALLOWED_HOSTS=$saved

log_clear
run audit --json "$D/good.kvs"
expect "the vault host allowed with its port: audit ok, exit 0" \
    eval '[ "$RC" -eq 0 ] && [ "$(json "d[\"files\"][0][\"verdict\"]")" = ok ]'
expect "... nothing skipped" [ "$(json 'd["summary"]["skipped_hosts"]')" = "[]" ]
expect "... header_verified is null without --verify-headers" \
    [ "$(json 'd["files"][0]["header_verified"]')" = None ]

# -- --verify-headers: a header edited without the data key is reported as failed
YEAR=$("$KVSEAL_BIN" inspect --json "$D/good.kvs" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["created"][:4])')
edit "$D/good.kvs" "$D/edited.kvs" "\"created\":\"$YEAR" "\"created\":\"1999"
run audit "$D/edited.kvs"
expect "without --verify-headers an edited header still reads as ok (why the option exists)" \
    eval '[ "$RC" -eq 0 ] && has "$OUT" ": ok"'
log_clear
run audit --verify-headers -k "$D/local.pem" "$D/edited.kvs"
expect "--verify-headers: a header edited without the DEK fails, exit 2" [ "$RC" -eq 2 ]
expect "... reported as header-failed with the reason" \
    has "$OUT" "edited.kvs: header-failed (header authentication failed"
expect "... its (unauthenticated) recipients are not reported or asked about" \
    eval '! has "$OUT" "keys/k1/" && [ "$(log_count "e[\"op\"] == \"get\"")" -eq 0 ]'
expect "... the summary counts it" has "$OUT" "1 header-failed, 0 unverified"
run audit --json --verify-headers -k "$D/local.pem" "$D/edited.kvs" "$D/good.kvs"
expect "--json: header_verified false for the edited file, true for the good one" \
    [ "$(json '[f["header_verified"] for f in d["files"]]')" = "[False, True]" ]
expect "... verdicts header-failed and ok, exit_code 2" \
    [ "$(json '[f["verdict"] for f in d["files"]] + [d["summary"]["header_failed"], d["exit_code"]]')" = "['header-failed', 'ok', 1, 2]" ]

run audit --verify-headers -k "$D/other.pem" "$D/good.kvs"
expect "--verify-headers with a key that is no recipient: unverified, exit 3" \
    eval '[ "$RC" -eq 3 ] && has "$OUT" "good.kvs: unverified (no usable recipient"'
run audit --verify-headers -k "$D/local.pem" --context backup=db-2026-01-06 "$D/good.kvs"
expect "--verify-headers --context with another backup id: header-failed, exit 2" \
    eval '[ "$RC" -eq 2 ] && has "$OUT" "header-failed (context mismatch"'
run audit --verify-headers -k "$D/local.pem" --context backup=db-2026-01-05 "$D/good.kvs"
expect "--verify-headers -k with the right key and context: ok, header verified, exit 0" \
    eval '[ "$RC" -eq 0 ] && has "$OUT" "good.kvs: ok, header verified"'
log_clear
run audit --verify-headers "$D/good.kvs"
expect "--verify-headers without -k unwraps through Key Vault, as decrypt does" \
    eval '[ "$RC" -eq 0 ] && has "$OUT" "header verified" && [ "$(log_count "e[\"op\"] == \"unwrapkey\"")" -ge 1 ]'
run audit --verify-headers "$D/other-host.kvs"
expect "... and does not contact a host that is not allowed to do so (unverified, exit 3)" \
    eval '[ "$RC" -eq 3 ] && has "$OUT" "other-host.kvs: unverified"'

run audit -k "$D/local.pem" "$D/good.kvs"
expect "-k without --verify-headers is a usage error" \
    eval '[ "$RC" -eq 1 ] && has "$ERR" "need --verify-headers"'

finish
