#!/usr/bin/env bash
# E2E: restores at scale and disaster recovery against local Key Vault test
# servers. 2,000 files encrypted with --share-dek restore with exactly one
# unwrapkey; --share-dek limits draw new keys; 300 files with their own keys
# restore under a throttle of 250 requests per 10 s without Retry-After (and
# a smaller run with Retry-After) with no error, in about the throttle's
# bound; three recipients (primary vault, second vault, offline RSA key):
# decryption falls back in order and names what failed.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

# timed ARGS...: run, with the wall time in WALL (seconds, 0.1 s).
timed() {
    local t0 t1
    t0=$(date +%s%N)
    run "$@"
    t1=$(date +%s%N)
    WALL=$(((t1 - t0) / 100000000))
    WALL="$((WALL / 10)).$((WALL % 10))"
}
# same_tree A B: every file of A has an identical copy in B.
same_tree() { (cd "$1" && sha256sum -- * | sort) >"$TMP/a.sum" && (cd "$2" && sha256sum -- * | sort) >"$TMP/b.sum" && cmp -s "$TMP/a.sum" "$TMP/b.sum"; }
# distinct_wrapped DIR: number of distinct wrapped data keys among DIR/*.kvs.
distinct_wrapped() { "$PY" -c '
import json, sys, glob
seen = set()
for p in glob.glob(sys.argv[1] + "/*.kvs"):
    b = open(p, "rb").read()
    h = json.loads(b[12:12 + int.from_bytes(b[8:12], "big")])
    seen.add(h["recipients"][0]["wrapped_key"])
print(len(seen))' "$1"; }
calls() { printf '%s' "$ERR" | sed -n 's/.*Key Vault calls: \(.*\)/\1/p' | tail -1; }

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
kvctl clients add --client-id app --secret-file "$(secret_file secret s3cret)" --permissions full >/dev/null
export AZURE_CLIENT_ID=app AZURE_CLIENT_SECRET=s3cret
kvctl keys create backup --kty RSA-HSM --size 4096 >/dev/null

# Tiny files: --threads 1 keeps the per-file engine start-up out of the timing.
D=$TMP/set
mkdir -p "$D/in" "$D/enc" "$D/out"
for i in $(seq 1 2000); do printf 'record %d of the backup set\n' "$i" >"$D/in/f$i"; done

# -- 2,000 files under one shared data key: one unwrapkey to restore them all
timed -v encrypt --threads 1 --share-dek -r "$VAULT/keys/backup" -o "$D/enc" "$D"/in/*
expect "encrypt 2,000 files with --share-dek" [ "$RC" -eq 0 ]
echo "# encrypt 2,000 files --share-dek: ${WALL} s; $(calls)"
expect "... one data key used" has "$ERR" "1 data key(s) used"
expect "... all files carry the same wrapped key" [ "$(distinct_wrapped "$D/enc")" -eq 1 ]
log_clear
timed -v decrypt --threads 1 -o "$D/out" "$D"/enc/*.kvs
expect "restore 2,000 files" eval '[ "$RC" -eq 0 ] && same_tree "$D/in" "$D/out"'
echo "# restore 2,000 --share-dek files: ${WALL} s; $(calls)"
expect "... exactly one unwrapkey answered (200) in the server log" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==200")" -eq 1 ]
expect "... and no other unwrapkey but the unauthenticated challenge probe" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']!=200 and not e['authorization']")" -eq \
      "$(log_count "e['op']=='unwrapkey' and e['status']!=200")" ]
expect "... one token, nothing else" [ "$(log_count "e['op'] not in ('unwrapkey','token')")" -eq 0 ]

# -- limits draw new keys
mkdir -p "$TMP/lim/enc" "$TMP/lim/out"
run encrypt --threads 1 --share-dek-max-files 10 -r "$VAULT/keys/backup" -o "$TMP/lim/enc" "$D"/in/f1?
expect "--share-dek-max-files 10 over 10 files... " [ "$RC" -eq 0 ]
run encrypt --threads 1 --share-dek-max-files 4 -r "$VAULT/keys/backup" -o "$TMP/lim/enc" \
    "$D"/in/f2? "$D"/in/f3?
expect "--share-dek-max-files 4 over 20 more files: 5 more data keys (6 in all)" [ "$(distinct_wrapped "$TMP/lim/enc")" -eq 6 ]
run encrypt --share-dek-max-age 0 -r "$VAULT/keys/backup" -o "$TMP/lim/x.kvs" "$D/in/f1"
expect "--share-dek-max-age 0 is refused (exit 1)" [ "$RC" -eq 1 ]
log_clear
run decrypt --threads 1 -o "$TMP/lim/out" "$TMP/lim/enc"/*.kvs
expect "restoring them costs one unwrapkey per data key (6)" \
    eval '[ "$RC" -eq 0 ] && [ "$(log_count "e[\"op\"]==\"unwrapkey\" and e[\"status\"]==200")" -eq 6 ]'

# -- 300 files with their own keys against a throttled vault (no Retry-After)
T=$TMP/thr
mkdir -p "$T/enc" "$T/out"
run encrypt --threads 1 -r "$VAULT/keys/backup" -o "$T/enc" "$D"/in/f? "$D"/in/f?? "$D"/in/f1?? "$D"/in/f2?? "$D/in/f300"
expect "encrypt 300 files, each with its own data key" \
    eval '[ "$RC" -eq 0 ] && [ "$(ls "$T/enc" | wc -l)" -eq 300 ] && [ "$(distinct_wrapped "$T/enc")" -eq 300 ]'
# The same restore unthrottled first: what this machine and build need anyway.
mkdir -p "$T/out0"
timed decrypt --threads 1 -o "$T/out0" "$T"/enc/*.kvs
FREE=$WALL
kvctl faults set --throttle 250 --retry-after no >/dev/null
log_clear
timed -v decrypt --threads 1 -o "$T/out" "$T"/enc/*.kvs
expect "restore 300 files under a 250/10 s throttle without Retry-After: exit 0" [ "$RC" -eq 0 ]
expect "... no error reported" eval '! printf "%s" "$ERR" | grep -q "kvseal: decrypt: .*\(fail\|throttl\|error\)"'
expect "... every file restored" eval 'for f in "$T"/enc/*.kvs; do b=${f##*/}; cmp -s "$D/in/${b%.kvs}" "$T/out/${b%.kvs}" || exit 1; done'
U200=$(log_count "e['op']=='unwrapkey' and e['status']==200")
U429=$(log_count "e['status']==429")
REQS=$(log_count "e['op']=='unwrapkey'")
ADMITTED=$(log_count "e['op']=='unwrapkey' and e['status']!=429")
expect "... 300 unwrapkey answered, the vault throttled some ($U429)" \
    eval '[ "$U200" -eq 300 ] && [ "$U429" -ge 1 ]'
# The vault admits 250 per sliding 10 s: the 251st admitted request (the
# challenge probe counts) comes 10 s after the first at the earliest.
BOUND=$(((ADMITTED - 1) / 250 * 10))
# Allowed: the larger of the bound and the unthrottled time, plus half a window and 3 s.
BASE=$((${FREE%.*} > BOUND ? ${FREE%.*} : BOUND))
ALLOWED=$((BASE + BOUND / 2 + 3))
echo "# restore 300 throttled files: ${WALL} s (throttle bound ${BOUND} s, unthrottled ${FREE} s); $REQS unwrapkey requests ($U200 answered, $U429 throttled); $(calls)"
expect "... run time close to the throttle's bound (${WALL} s, bound ${BOUND} s, allowed < ${ALLOWED} s)" \
    eval '[ "${WALL%.*}" -ge "$BOUND" ] && [ "${WALL%.*}" -lt "$ALLOWED" ]'

# -- with Retry-After: every caller waits as told
mkdir -p "$T/out2"
kvctl faults set --throttle 25 --retry-after yes >/dev/null
log_clear
timed -v decrypt --threads 1 -o "$T/out2" "$T"/enc/f1[0-3]?.kvs
expect "restore 40 files under a 25/10 s throttle with Retry-After: exit 0" \
    eval '[ "$RC" -eq 0 ] && [ "$(ls "$T/out2" | wc -l)" -eq 40 ]'
echo "# restore 40 files at 25/10 s with Retry-After: ${WALL} s; $(calls)"
kvctl reset >/dev/null

# -- disaster recovery: primary vault, vault in a second region, offline key
start_server "$TMP/srv2" --tenant 22222222-2222-2222-2222-222222222222 || exit 1
PID1=${SERVER_PIDS[0]} PID2=${SERVER_PIDS[1]} # in start order
# Set up the second vault by hand: use_server would repoint kvseal at it alone.
SD=$TMP/srv2
PORT2=$(kvctl info port)
VAULT2=https://localhost:$PORT2
kvctl clients add --client-id app --secret-file "$TMP/secret" --permissions full >/dev/null
kvctl keys create backup --size 4096 >/dev/null
SD=$TMP/srv
cat "$TMP/srv/ca.pem" "$TMP/srv2/ca.pem" >"$TMP/cas.pem"
export KVSEAL_CA_FILE=$TMP/cas.pem KVSEAL_ALLOWED_HOSTS=localhost:$PORT,localhost:$PORT2
# One credential for both vaults: a fake `az` that gets a real token from the
# server whose tenant the vault's challenge names.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/az" <<AZ
#!$PY
import json, ssl, sys, time, urllib.parse, urllib.request
a = sys.argv[1:]
tenant = [x[len("--tenant="):] for x in a if x.startswith("--tenant=")][0]
sd = "$TMP/srv2" if tenant.startswith("2222") else "$TMP/srv"
port = json.load(open(sd + "/server.json"))["port"]
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "app",
                               "client_secret": "s3cret",
                               "scope": a[a.index("--resource") + 1] + "/.default"})
ctx = ssl.create_default_context(cafile=sd + "/ca.pem")
url = "https://localhost:%d/%s/oauth2/v2.0/token" % (port, tenant)
with urllib.request.urlopen(url, form.encode(), context=ctx) as r:
    tok = json.load(r)
print(json.dumps({"accessToken": tok["access_token"], "tokenType": "Bearer",
                  "expires_on": int(time.time()) + 3599}))
AZ
chmod +x "$TMP/bin/az"
export PATH=$TMP/bin:$PATH KVSEAL_CREDENTIAL=cli
unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST
export KVSEAL_RETRY_MAX_SECONDS=8 # how long an unreachable vault is retried

R=$TMP/dr
mkdir -p "$R/enc" "$R/out"
test_key rsa2048-a "$R/offline.pem" "$R/offline.pub.pem"
run encrypt --threads 1 -r "$VAULT/keys/backup" -r "$VAULT2/keys/backup" -r "$R/offline.pub.pem" \
    -o "$R/enc" "$D/in/f1" "$D/in/f2" "$D/in/f3"
expect "encrypt for primary vault, second vault and an offline key" [ "$RC" -eq 0 ]
run decrypt --threads 1 -o "$R/out" "$R"/enc/*.kvs
expect "all up: decrypts (through the primary)" eval '[ "$RC" -eq 0 ] && [ -z "$ERR" ]'

kill "$PID1"
wait "$PID1" 2>/dev/null
rm -f "$R"/out/*
timed decrypt --threads 1 -o "$R/out" "$R"/enc/*.kvs
expect "primary stopped: decrypt succeeds through the second vault" \
    eval '[ "$RC" -eq 0 ] && cmp -s "$D/in/f1" "$R/out/f1" && cmp -s "$D/in/f3" "$R/out/f3"'
expect "... and says the primary (recipient 0, localhost:$PORT) failed" \
    eval 'has "$ERR" "opened after other recipients failed: recipient 0: " && has "$ERR" "localhost:$PORT"'
echo "# primary down, 3 files: ${WALL} s"
expect "... the dead vault costs one retry budget (8 s) per run, not one per file (${WALL} s)" \
    [ "${WALL%.*}" -lt 16 ]

kill "$PID2"
wait "$PID2" 2>/dev/null
rm -f "$R"/out/*
run decrypt --threads 1 -k "$VAULT/keys/backup" -k "$VAULT2/keys/backup" -k "$R/offline.pem" \
    -o "$R/out" "$R"/enc/*.kvs
expect "both vaults stopped: decrypt succeeds through the offline key" \
    eval '[ "$RC" -eq 0 ] && cmp -s "$D/in/f2" "$R/out/f2"'
expect "... and names both vaults that failed" \
    eval 'has "$ERR" "recipient 0: " && has "$ERR" "recipient 1: " && has "$ERR" "localhost:$PORT" && has "$ERR" "localhost:$PORT2"'
run decrypt --threads 1 -o "$R/out/none" "$R/enc/f1.kvs"
expect "without the offline key, both vaults unreachable: exit 7 (transient)" [ "$RC" -eq 7 ]
expect "... one line naming every recipient that failed" \
    eval '[ "$(printf "%s\n" "$ERR" | wc -l)" -eq 1 ] && has "$ERR" "no usable recipient" && has "$ERR" "recipient 0: " && has "$ERR" "recipient 1: " && has "$ERR" "localhost:$PORT2"'

finish
