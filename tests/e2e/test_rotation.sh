#!/usr/bin/env bash
# E2E: key rotation against the local Key Vault test server. Rotate the key,
# audit flags the files, rewrap moves them to the current version with the
# payload bytes unchanged, the old version is disabled and every file still
# decrypts; --keep-old, --remove, the last-recipient refusal, --max-age,
# disabled versions, offline keys; and rewrap killed with SIGKILL at random
# points never leaves a file that does not decrypt to its plaintext.
set -u
# Read before the harness, which scrubs KVSEAL_* variables from the environment.
KILL_TRIALS=${KVSEAL_KILL_TRIALS:-50}
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

# kids FILE: the recipients' kids / key ids, one per line, in header order.
kids() { "$KVSEAL_BIN" inspect --json "$1" | "$PY" -c '
import json, sys
for r in json.load(sys.stdin)["recipients"]: print(r.get("kid") or r.get("key_id"))'; }
# payload_sum FILE: SHA-256 of the bytes after the header (the stored chunks).
payload_sum() { "$PY" -c '
import hashlib, sys
b = open(sys.argv[1], "rb").read()
print(hashlib.sha256(b[44 + int.from_bytes(b[8:12], "big"):]).hexdigest())' "$1"; }
# header_salt FILE: the header JSON's salt member (inspect shows no salt).
header_salt() { "$PY" -c '
import json, sys
b = open(sys.argv[1], "rb").read()
print(json.loads(b[12:12 + int.from_bytes(b[8:12], "big")])["salt"])' "$1"; }
# verdicts: `audit --json` on stdin to "name=verdict" lines.
verdicts() { "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["schema"] == "kvseal-audit/1"
for f in d["files"]: print("%s=%s" % (f["path"].rsplit("/", 1)[-1], f["verdict"]))'; }
all_decrypt() {
    local f ok=0
    for f in "$D"/in/*; do
        local b=${f##*/}
        "$KVSEAL_BIN" decrypt -f -o "$D/out/$b" "$D/enc/$b.kvs" 2>>"$TMP/dec.err" && cmp -s "$f" "$D/out/$b" || ok=1
    done
    return $ok
}

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
kvctl clients add --client-id app --secret-file "$(secret_file secret s3cret)" --permissions full >/dev/null
export AZURE_CLIENT_ID=app AZURE_CLIENT_SECRET=s3cret
V1=$(kvctl --field key.kid keys create rot --size 2048)

D=$TMP/data
mkdir -p "$D/in" "$D/enc" "$D/out"
: >"$D/in/empty"
printf 'x' >"$D/in/one"
head -c 5000 /dev/urandom >"$D/in/small"
head -c 1048577 /dev/urandom >"$D/in/chunkplus"
head -c 3000000 /dev/urandom >"$D/in/big"
run encrypt --threads 1 -r "$VAULT/keys/rot" -o "$D/enc" "$D"/in/*
expect "encrypt five files for the key (versionless URL)" [ "$RC" -eq 0 ]
for f in "$D"/enc/*.kvs; do
    payload_sum "$f" >"$f.payload"
    header_salt "$f" >"$f.salt"
done
chmod 0640 "$D/enc/big.kvs"

run audit "$D/enc"
expect "audit before rotation: exit 0" [ "$RC" -eq 0 ]
expect "... every file ok" has "$OUT" "5 files: 5 ok, 0 stale"

# -- rotate: the files now depend only on a non-current version
V2=$(kvctl --field key.kid keys rotate rot)
run audit --json "$D/enc"
expect "audit after rotation: exit 6 (findings)" [ "$RC" -eq 6 ]
expect "... every file stale in the JSON report" \
    [ "$(printf '%s' "$OUT" | verdicts | grep -c '=stale$')" -eq 5 ]
expect "... recipients report not-current with the current version" \
    eval 'printf "%s" "$OUT" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
rs = [r for f in d[\"files\"] for r in f[\"recipients\"]]
assert all(r[\"status\"] == \"not-current\" and r[\"current_version\"] == \"${V2##*/}\" and r[\"version\"] == \"${V1##*/}\" and r[\"enabled\"] is True and r[\"age_days\"] == 0 for r in rs), rs
assert d[\"summary\"][\"stale\"] == 5 and d[\"exit_code\"] == 6
"'
run audit "$D/enc/small.kvs"
expect "text audit names the current version" eval 'has "$OUT" "not-current (current version ${V2##*/})"'

# -- rewrap to the current version
run -v rewrap -r "$VAULT/keys/rot" "$D"/enc/*.kvs
expect "rewrap -r versionless URL: exit 0" [ "$RC" -eq 0 ]
expect "... reports the replaced version" has "$ERR" "1 older key versions replaced"
ok=1
for f in "$D"/enc/*.kvs; do
    [ "$(kids "$f")" = "$V2" ] || ok=0
done
expect "every file now has exactly the current version as recipient" [ "$ok" -eq 1 ]
ok=1
for f in "$D"/enc/*.kvs; do
    [ "$(payload_sum "$f")" = "$(cat "$f.payload")" ] && [ "$(header_salt "$f")" = "$(cat "$f.salt")" ] || ok=0
done
expect "payload bytes after the header and the salt are unchanged" [ "$ok" -eq 1 ]
expect "mode kept (0640)" [ "$(stat -c %a "$D/enc/big.kvs")" = 640 ]
expect "no temporary files left" [ -z "$(ls -A "$D/enc" | grep kvseal-tmp)" ]

kvctl keys disable rot "${V1##*/}" >/dev/null
: >"$TMP/dec.err"
expect "old version disabled: every file still decrypts to its plaintext" all_decrypt
run audit "$D/enc"
expect "audit after rewrap: exit 0, all ok" eval '[ "$RC" -eq 0 ] && has "$OUT" "5 files: 5 ok, 0 stale"'

cp -p "$D/enc/small.kvs" "$TMP/small.before"
run -v rewrap -r "$VAULT/keys/rot" "$D/enc/small.kvs"
expect "rewrap again: unchanged, file untouched" \
    eval '[ "$RC" -eq 0 ] && has "$ERR" "unchanged" && cmp -s "$D/enc/small.kvs" "$TMP/small.before"'

# -- --keep-old, --remove, the last recipient
V3=$(kvctl --field key.kid keys rotate rot)
run rewrap --keep-old -r "$VAULT/keys/rot" "$D/enc/small.kvs"
expect "--keep-old keeps the previous version next to the current one" \
    eval '[ "$RC" -eq 0 ] && [ "$(kids "$D/enc/small.kvs" | tr "\n" " ")" = "$V2 $V3 " ]'
run rewrap --remove "$V2" "$D/enc/small.kvs"
expect "--remove KID drops that version" eval '[ "$RC" -eq 0 ] && [ "$(kids "$D/enc/small.kvs")" = "$V3" ]'
cp "$D/enc/small.kvs" "$TMP/small.before"
run rewrap --remove "$VAULT/keys/rot" "$D/enc/small.kvs"
expect "removing the last recipient is refused (exit 1)" eval '[ "$RC" -eq 1 ] && has "$ERR" "last recipient"'
expect "... and the file is untouched" cmp -s "$D/enc/small.kvs" "$TMP/small.before"
run decrypt -o "$D/out/small3" "$D/enc/small.kvs"
expect "... and still decrypts" eval '[ "$RC" -eq 0 ] && cmp -s "$D/in/small" "$D/out/small3"'

# -- an offline break-glass key added and removed by its PEM file
test_key rsa2048-a "$TMP/offline.pem" "$TMP/offline.pub.pem"
run rewrap -r "$TMP/offline.pub.pem" "$D/enc/one.kvs"
expect "rewrap adds an offline RSA recipient from its public key" \
    eval '[ "$RC" -eq 0 ] && [ "$(kids "$D/enc/one.kvs" | wc -l)" -eq 2 ]'
run decrypt -k "$TMP/offline.pem" -o "$D/out/one.offline" "$D/enc/one.kvs"
expect "... which decrypts without any vault" eval '[ "$RC" -eq 0 ] && cmp -s "$D/in/one" "$D/out/one.offline"'
run audit "$D/enc/one.kvs"
expect "... audit: still stale (the vault version is not current), offline key listed" \
    eval '[ "$RC" -eq 6 ] && has "$OUT" ": offline"'
run rewrap --remove "$TMP/offline.pem" "$D/enc/one.kvs"
expect "--remove with the key's PEM file drops it" \
    eval '[ "$RC" -eq 0 ] && [ "$(kids "$D/enc/one.kvs" | wc -l)" -eq 1 ]'

# -- --max-age and disabled versions
run audit --max-age 30 "$D/enc/small.kvs"
expect "--max-age 30: a version created today is ok" [ "$RC" -eq 0 ]
sleep 1
run audit --max-age 0 --json "$D/enc/small.kvs"
# rjson EXPR: EXPR over the recipients r of the JSON report in $OUT.
rjson() { printf '%s' "$OUT" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
rs = [r for f in d["files"] for r in f["recipients"]]
sys.exit(0 if rs and all(eval(sys.argv[1]) for r in rs) else 1)' "$1"; }
expect "--max-age 0: every version is too old (exit 6, too_old true)" \
    eval '[ "$RC" -eq 6 ] && rjson "r[\"too_old\"] is True"'
kvctl keys create gone --size 2048 >/dev/null
run encrypt -r "$VAULT/keys/gone" -o "$D/gone.kvs" "$D/in/one"
kvctl keys disable gone >/dev/null
run audit --json "$D/gone.kvs"
expect "a file whose only version is disabled: exit 6, status disabled" \
    eval '[ "$RC" -eq 6 ] && rjson "r[\"status\"] == \"disabled\" and r[\"enabled\"] is False"'
run audit "$TMP/secret"
expect "audit of a file that is not kvseal: exit 2" [ "$RC" -eq 2 ]

# -- SIGKILL at random points: old or new file, never a broken one. The
# kill lands uniformly within 1.2 times an uninterrupted rewrap's duration,
# so it hits key loading, the unwrap, the copy, the fsyncs and the rename.
head -c 24000000 /dev/urandom >"$TMP/kill.plain" # the copy and fsync take a while
PSUM=$(sha256sum <"$TMP/kill.plain")
T_KILL=$SECONDS
run encrypt --threads 1 -r "$VAULT/keys/rot" -o "$TMP/kill.kvs" "$TMP/kill.plain"
cp "$TMP/kill.kvs" "$TMP/kill.kvs.orig"
kvctl keys create second --size 2048 >/dev/null
nrec() { "$KVSEAL_BIN" inspect "$1" 2>/dev/null | grep -c '^  \['; }
t0=$(date +%s%N)
"$KVSEAL_BIN" rewrap -q -r "$VAULT/keys/second" "$TMP/kill.kvs"
"$KVSEAL_BIN" rewrap -q --remove "$VAULT/keys/second" "$TMP/kill.kvs"
span=$((($(date +%s%N) - t0) * 6 / 10 / 1000000)) # 1.2 x one rewrap, in ms
broken=0 changed=0 same=0
for i in $(seq 1 "$KILL_TRIALS"); do
    if [ "$(nrec "$TMP/kill.kvs")" -eq 1 ]; then
        args=(-r "$VAULT/keys/second")
    else
        args=(--remove "$VAULT/keys/second")
    fi
    before=$(nrec "$TMP/kill.kvs")
    "$KVSEAL_BIN" rewrap -q "${args[@]}" "$TMP/kill.kvs" >/dev/null 2>&1 &
    pid=$!
    ms=$(((RANDOM * 32768 + RANDOM) % (span + 1)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    set -o pipefail
    sum=$("$KVSEAL_BIN" decrypt "$TMP/kill.kvs" 2>/dev/null | sha256sum) || sum=failed
    set +o pipefail
    [ "$sum" = "$PSUM" ] || broken=$((broken + 1))
    if [ "$before" = "$(nrec "$TMP/kill.kvs")" ]; then same=$((same + 1)); else changed=$((changed + 1)); fi
done
leftover=$(ls -A "$TMP" | grep -c 'kill.kvs.kvseal-tmp' || true)
echo "# SIGKILL trials: $KILL_TRIALS within ${span} ms: killed before the rename $same, after $changed; leftover temp files $leftover ($((SECONDS - T_KILL)) s)"
expect "rewrap killed $KILL_TRIALS times: every time the file decrypts to its plaintext" [ "$broken" -eq 0 ]
expect "... and its payload bytes never changed" \
    eval '[ "$(payload_sum "$TMP/kill.kvs")" = "$(payload_sum "$TMP/kill.kvs.orig")" ]'

finish
