#!/usr/bin/env bash
# E2E: the kvseal CLI with blob URLs against Azurite (pinned in tests/azurite),
# Microsoft's Azure SDK (Debian's python3-azure, tests/blob/blob_sdk.py) on the
# other side and the independent Python implementation (kvseal_ref.py) as the
# oracle of the file format:
#  - round trips file->blob->file and pipe->blob->pipe at the chunk edges and
#    across several blocks; the blob's bytes are a kvseal file;
#  - interop both ways: kvseal's blobs downloaded by the SDK open with
#    kvseal_ref.py; kvseal_ref.py's files uploaded by the SDK (one shot, and in
#    blocks that do not follow kvseal's layout) open with decrypt, ranges,
#    verify and inspect;
#  - ranges (empty, across chunks and blocks, the last byte, clipped, past
#    the end), many blobs into one directory;
#  - refusals with their documented exit codes, one error line, no output left
#    and no secret shown: existing blob, missing blob or container, wrong key,
#    tampered or truncated blob, bad Shared Key, a query in the URL, plain
#    http to a host not allowed, a blob replaced while read, a read-only SAS;
#  - a hostile blob whose header names a Key Vault host not allowed: decrypt
#    and audit refuse it (exit 3) with no connection to that host;
#  - two uploads of one name at once never mix; the listing metadata;
#  - encrypt -o URL killed (SIGKILL, SIGINT) mid-upload leaves no blob;
#  - SAS: write with a container SAS in AZURE_STORAGE_SAS_TOKEN, restore with
#    a read-only SAS from --sas-file.
# Exits 77 (skip) only without Node.js/Azurite or python3-azure.
set -u
# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
PY=${KVSEAL_PYTHON:-python3}
BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
SDK="$KVSEAL_SRC/tests/blob/blob_sdk.py"
REF="$KVSEAL_SRC/tests/interop/kvseal_ref.py"
azurite_start_for_test
W=$(mktemp -d)
trap 'azurite_stop; rm -rf "$W"' EXIT
unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_ACCOUNT \
    AZURE_STORAGE_KEY AZURE_CLIENT_ID AZURE_TENANT_ID AZURE_CLIENT_SECRET \
    AZURE_CLIENT_CERTIFICATE_PATH AZURE_FEDERATED_TOKEN_FILE IDENTITY_ENDPOINT
# Shared Key for every run unless a case says otherwise.
export AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$AZURITE_KEY"

CS=65536 # --chunk-size: a block (8 MiB, src/blob/layout.h) holds 128 chunks
test_key rsa2048-a "$W/a.pem" "$W/a.pub"
test_key rsa2048-b "$W/b.pem"

# Every run's stderr is also kept, to show at the end that no secret was
# ever printed (checks.sh's run, plus the copy).
run() {
    RC=0
    "$@" >"$W/stdout" 2>"$W/stderr" || RC=$?
    cat "$W/stderr" >>"$W/all-stderr"
}
sdk() { "$PY" "$SDK" "$@"; }
ref() { "$PY" "$REF" "$@"; }
# expect_rc NAME WANT: the last run exited WANT (else show what it said).
expect_rc() {
    if [ "$RC" -eq "$2" ]; then pass; else
        fail "$1: exit $2 expected, got $RC"
        head -c 2000 "$W/stderr" >&2
    fi
}
one_line() { [ "$(wc -l <"$W/stderr")" -eq 1 ]; }
# no_secret S...: none of the strings appears in the last run's output.
no_secret() {
    local s
    for s in "$@"; do
        ! grep -qF -- "$s" "$W/stderr" "$W/stdout" || return 1
    done
}
# absent CONTAINER BLOB: the SDK says the blob does not exist (an SDK
# failure is no answer).
absent() { [ "$(sdk exists "$1" "$2")" = no ]; }
present() { [ "$(sdk exists "$1" "$2")" = yes ]; }
# slice FILE OFF LEN: LEN bytes of FILE from OFF (clipped at the end).
slice() { tail -c +"$(($2 + 1))" "$1" | head -c "$3"; }

check "create container" sdk container kvs-cli
B="$KVSEAL_AZURITE_ENDPOINT/kvs-cli"

# ---- 1. round trips at the chunk edges and across blocks ----
MULTI=$((16 * 1024 * 1024 + 12345)) # 3 payload blocks
for size in 0 1 $((CS - 1)) $CS $((CS + 1)) $MULTI; do
    P="$W/p$size"
    head -c "$size" /dev/urandom >"$P"
    run "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS -o "$B/file/$size.kvs" "$P"
    expect_rc "file->blob $size: encrypt" 0
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/$size.kvs"
    expect_rc "blob->file $size: decrypt" 0
    check "file->blob->file $size: same bytes" cmp -s "$P" "$W/out"
    rm -f "$W/out"

    RC=0
    "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS -o "$B/pipe/$size.kvs" \
        < <(cat "$P") 2>"$W/stderr" || RC=$?
    cat "$W/stderr" >>"$W/all-stderr"
    expect_rc "pipe->blob $size: encrypt" 0
    RC=0
    "$BIN" decrypt -k "$W/a.pem" "$B/pipe/$size.kvs" 2>"$W/stderr" | cat >"$W/out" ||
        RC=$?
    [ "${PIPESTATUS[0]}" -eq 0 ] || RC=${PIPESTATUS[0]}
    cat "$W/stderr" >>"$W/all-stderr"
    expect_rc "blob->pipe $size: decrypt" 0
    check "pipe->blob->pipe $size: same bytes" cmp -s "$P" "$W/out"
    rm -f "$W/out"

    # The blob's bytes are a kvseal file: kvseal and the reference open them.
    check "download $size" sdk download kvs-cli "file/$size.kvs" "$W/dl.kvs"
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$W/dl.kvs"
    expect_rc "downloaded blob $size as a file" 0
    check "downloaded blob $size: kvseal decrypts it" cmp -s "$P" "$W/out"
    rm -f "$W/out"
    run ref decrypt -k "$W/a.pem" "$W/dl.kvs" "$W/out"
    expect_rc "downloaded blob $size: kvseal_ref.py" 0
    check "downloaded blob $size: kvseal_ref.py decrypts it" cmp -s "$P" "$W/out"
    rm -f "$W/out"
    check "download pipe blob $size" sdk download kvs-cli "pipe/$size.kvs" "$W/dl.kvs"
    run ref decrypt -k "$W/a.pem" "$W/dl.kvs" "$W/out"
    check "pipe blob $size: kvseal_ref.py decrypts it" cmp -s "$P" "$W/out"
    rm -f "$W/out"
done
PM="$W/p$MULTI"
check "the SDK sees kvseal's blob" present kvs-cli "file/$MULTI.kvs"
# The listing metadata (not trusted by kvseal, but for tools): format,
# plaintext size and key id, also for a pipe whose size was unknown.
run "$BIN" inspect --json "$W/dl.kvs"
KEYID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["recipients"][0]["key_id"])' \
    "$W/stdout")
for name in file/0.kvs file/$MULTI.kvs pipe/0.kvs pipe/$MULTI.kvs; do
    check "metadata of $name" "$PY" -c '
import json, sys
m = json.loads(sys.argv[1])
sys.exit(m != {"kvseal_format": "1", "kvseal_keys": sys.argv[3], "kvseal_size": sys.argv[2]})' \
        "$(sdk meta kvs-cli "$name")" "$(basename "$name" .kvs)" "$KEYID"
done
# One request at a time, and the most in flight.
for par in 1 32; do
    run "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS --blob-parallel $par \
        -o "$B/par/$par.kvs" "$PM"
    expect_rc "--blob-parallel $par: encrypt" 0
    run "$BIN" decrypt -k "$W/a.pem" --blob-parallel $par -o "$W/out" "$B/par/$par.kvs"
    expect_rc "--blob-parallel $par: decrypt" 0
    check "--blob-parallel $par: same bytes" cmp -s "$PM" "$W/out"
    rm -f "$W/out"
done
nblocks=$(sdk blocks kvs-cli "file/$MULTI.kvs")
check "the multi-block blob has a header block and 3 payload blocks (got $nblocks)" \
    test "$nblocks" -eq 4

# ---- 2. the SDK uploads what kvseal_ref.py wrote ----
run ref encrypt -r "$W/a.pub" --chunk-size $CS "$PM" "$W/ref.kvs"
expect_rc "kvseal_ref.py encrypt" 0
check "SDK upload_blob" sdk upload kvs-cli ref/single.kvs "$W/ref.kvs"
check "SDK stage_block/commit_block_list" \
    sdk upload kvs-cli ref/blocks.kvs "$W/ref.kvs" --blocks 1000,777777,3000001
nb=$(sdk blocks kvs-cli ref/blocks.kvs)
check "SDK's own block layout (got $nb blocks)" test "$nb" -gt 7
for name in single blocks; do
    U="$B/ref/$name.kvs"
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$U"
    expect_rc "SDK $name: decrypt" 0
    check "SDK $name: same plaintext" cmp -s "$PM" "$W/out"
    rm -f "$W/out"
    run "$BIN" decrypt -k "$W/a.pem" --offset 8388000 --length 700000 -o "$W/out" "$U"
    expect_rc "SDK $name: range" 0
    check "SDK $name: range bytes" cmp -s "$W/out" <(slice "$PM" 8388000 700000)
    rm -f "$W/out"
    run "$BIN" verify -k "$W/a.pem" "$U"
    expect_rc "SDK $name: verify" 0
    check "SDK $name: verify says OK" grep -qF "OK: $U" "$W/stdout"
    run "$BIN" inspect --json "$U"
    expect_rc "SDK $name: inspect" 0
    check "SDK $name: inspect gives the sizes" "$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(not (j["plaintext_size"] == int(sys.argv[2]) and j["file_size"] == int(sys.argv[3])
              and j["chunk_size"] == 65536 and j["header_authenticated"] is False))' \
        "$W/stdout" "$MULTI" "$(stat -c %s "$W/ref.kvs")"
done

# ---- 3. ranges of the multi-block blob (and one of the SDK's blocks) ----
# offset:length; length "-" = no --length. Chunks of 64 KiB, blocks of 128.
BLK=$((128 * CS))
for pair in 0:0 0:1 0:- 5:$CS $((CS - 3)):7 $((3 * CS - 1)):$((2 * CS + 2)) \
    $((BLK - 100)):300 $((2 * BLK - 1)):2 $((MULTI - 1)):1 $((MULTI - 1)):10 \
    $((MULTI - 5)):- $MULTI:10 12345:0; do
    off=${pair%%:*} len=${pair#*:}
    for U in "$B/file/$MULTI.kvs" "$B/ref/blocks.kvs"; do
        if [ "$len" = - ]; then
            run "$BIN" decrypt -k "$W/a.pem" --offset "$off" -o "$W/out" "$U"
            want=$MULTI
        else
            run "$BIN" decrypt -k "$W/a.pem" --offset "$off" --length "$len" -o "$W/out" "$U"
            want=$len
        fi
        expect_rc "range $pair of ${U##*/}" 0
        check "range $pair of ${U##*/}: bytes" cmp -s "$W/out" <(slice "$PM" "$off" "$want")
        rm -f "$W/out"
    done
done
run "$BIN" decrypt -k "$W/a.pem" --offset $((MULTI + 1)) --length 1 -o "$W/out" \
    "$B/file/$MULTI.kvs"
expect_rc "offset past the end" 1
check "offset past the end: one line" one_line
check "offset past the end: no output file" test ! -e "$W/out"

# ---- 4. many blobs into one directory ----
mkdir "$W/dir"
for n in one two; do
    head -c $((CS * 3 + 17)) /dev/urandom >"$W/m.$n"
    run "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS -o "$B/many/$n.kvs" "$W/m.$n"
    expect_rc "many: encrypt $n" 0
done
run "$BIN" encrypt -r "$W/a.pub" -o "$B/many/three" "$W/p1"
expect_rc "many: encrypt three (no .kvs)" 0
run "$BIN" decrypt -k "$W/a.pem" -o "$W/dir" "$B/many/one.kvs" "$B/many/two.kvs" \
    "$B/file/$CS.kvs" "$B/many/three"
expect_rc "many blobs: decrypt -o DIR" 0
check "many blobs: one" cmp -s "$W/m.one" "$W/dir/one"
check "many blobs: two" cmp -s "$W/m.two" "$W/dir/two"
check "many blobs: a third from another prefix" cmp -s "$W/p$CS" "$W/dir/$CS"
check "many blobs: a name without .kvs gets .out" cmp -s "$W/p1" "$W/dir/three.out"
check "many blobs: nothing else" test "$(find "$W/dir" -type f | wc -l)" -eq 4
# One missing blob among several: the others are restored, exit 4.
mkdir "$W/dir2"
run "$BIN" decrypt -k "$W/a.pem" -o "$W/dir2" "$B/many/one.kvs" "$B/many/gone.kvs" \
    "$B/many/two.kvs"
expect_rc "many blobs, one missing" 4
check "many blobs, one missing: one error line" one_line
check "many blobs, one missing: the others restored" \
    cmp -s "$W/m.two" "$W/dir2/two"
check "many blobs, one missing: first restored" cmp -s "$W/m.one" "$W/dir2/one"
check "many blobs, one missing: nothing for it" test "$(find "$W/dir2" -type f | wc -l)" -eq 2

# ---- 5. refusals ----
SMALL="$W/p$((CS + 1))"
# An existing blob is kept without --force, replaced with it.
run "$BIN" encrypt -r "$W/a.pub" -o "$B/file/1.kvs" "$SMALL"
expect_rc "existing blob without --force" 1
check "existing blob: one line" one_line
check "existing blob: said" grep -q "already exists" "$W/stderr"
run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/1.kvs"
check "existing blob: untouched" cmp -s "$W/p1" "$W/out"
rm -f "$W/out"
RC=0
"$BIN" encrypt -r "$W/a.pub" -o "$B/pipe/1.kvs" < <(cat "$SMALL") 2>"$W/stderr" || RC=$?
cat "$W/stderr" >>"$W/all-stderr"
expect_rc "existing blob from a pipe without --force" 1
run "$BIN" encrypt -r "$W/a.pub" --force -o "$B/file/1.kvs" "$SMALL"
expect_rc "existing blob with --force" 0
run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/1.kvs"
check "--force: replaced" cmp -s "$SMALL" "$W/out"
rm -f "$W/out"

# Two uploads of one name at once: without --force one commits and the other
# is refused (exit 1). With --force one may commit after the other, or its
# staged blocks may be dropped by the other's commit (the service discards a
# blob's uncommitted blocks on every commit): it then fails (exit 4, HTTP 400
# InvalidBlockList). Either way the blob is exactly one of the two files,
# never a mix of their blocks.
head -c $((BLK + 999)) /dev/urandom >"$W/race.a"
head -c $((BLK + 999)) /dev/urandom >"$W/race.b"
either() { cmp -s "$1" "$3" || cmp -s "$2" "$3"; }
for force in "" --force; do
    U="$B/race${force:+-force}.kvs"
    "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS $force -o "$U" "$W/race.a" \
        2>"$W/race.a.err" &
    pa=$!
    "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS $force -o "$U" "$W/race.b" \
        2>"$W/race.b.err" &
    pb=$!
    ra=0 rb=0
    wait "$pa" || ra=$?
    wait "$pb" || rb=$?
    cat "$W/race.a.err" "$W/race.b.err" >>"$W/all-stderr"
    if [ -z "$force" ]; then
        check "race: one upload wins, the other exits 1 (got $ra, $rb)" \
            test $((ra + rb)) -eq 1 -a "$ra" -le 1 -a "$rb" -le 1
    else
        check "race --force: one commits, a failure is exit 4 (got $ra, $rb)" \
            test "$ra" -eq 0 -a \( "$rb" -eq 0 -o "$rb" -eq 4 \) -o \
            "$rb" -eq 0 -a \( "$ra" -eq 0 -o "$ra" -eq 4 \)
        if [ $((ra + rb)) -eq 4 ]; then
            check "race --force: the loser says why" \
                grep -q "another upload of this blob" "$W/race.a.err" "$W/race.b.err"
        fi
    fi
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$U"
    expect_rc "race${force}: the blob decrypts" 0
    if [ -z "$force" ] && [ "$ra" -eq 0 ]; then
        check "race: the blob is the winner's" cmp -s "$W/race.a" "$W/out"
    elif [ -z "$force" ]; then
        check "race: the blob is the winner's" cmp -s "$W/race.b" "$W/out"
    else
        check "race --force: the blob is one of the two" either "$W/race.a" "$W/race.b" "$W/out"
    fi
    rm -f "$W/out"
done

# Missing blob and container: input missing (exit 4), nothing left.
for U in "$B/nope.kvs" "$KVSEAL_AZURITE_ENDPOINT/nocontainer/x.kvs"; do
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$U"
    expect_rc "missing ${U#"$KVSEAL_AZURITE_ENDPOINT"/}: decrypt" 4
    check "missing ${U#"$KVSEAL_AZURITE_ENDPOINT"/}: one line" one_line
    check "missing ${U#"$KVSEAL_AZURITE_ENDPOINT"/}: no output file" test ! -e "$W/out"
    run "$BIN" verify -k "$W/a.pem" "$U"
    expect_rc "missing ${U#"$KVSEAL_AZURITE_ENDPOINT"/}: verify" 4
    run "$BIN" inspect "$U"
    expect_rc "missing ${U#"$KVSEAL_AZURITE_ENDPOINT"/}: inspect" 4
done
run "$BIN" encrypt -r "$W/a.pub" -o "$KVSEAL_AZURITE_ENDPOINT/nocontainer/x.kvs" "$SMALL"
expect_rc "encrypt into a missing container" 4
check "encrypt into a missing container: one line" one_line

# Wrong private key: exit 3, no output file.
run "$BIN" decrypt -k "$W/b.pem" -o "$W/out" "$B/file/$CS.kvs"
expect_rc "wrong key" 3
check "wrong key: one line" one_line
check "wrong key: no output file" test ! -e "$W/out"

# Tampered (one flipped byte) and truncated blobs: exit 2, no output file.
head -c $((7 * CS + 100)) /dev/urandom >"$W/p7"
run ref encrypt -r "$W/a.pub" --chunk-size $CS "$W/p7" "$W/ref7.kvs"
expect_rc "kvseal_ref.py encrypt (7 chunks)" 0
run "$BIN" inspect --json "$W/ref7.kvs"
PAYLOAD=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["payload_offset"])' \
    "$W/stdout")
head -c $(($(stat -c %s "$W/ref7.kvs") - 5)) "$W/ref7.kvs" >"$W/trunc.kvs"
check "SDK: payload byte flipped" \
    sdk upload kvs-cli bad/payload.kvs "$W/ref7.kvs" --flip $((PAYLOAD + 5 * (CS + 16) + 100))
check "SDK: header byte flipped" sdk upload kvs-cli bad/header.kvs "$W/ref7.kvs" --flip 40
check "SDK: truncated" sdk upload kvs-cli bad/trunc.kvs "$W/trunc.kvs" --blocks 200000
for name in payload header trunc; do
    U="$B/bad/$name.kvs"
    run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$U"
    expect_rc "$name: decrypt" 2
    check "$name: one line" one_line
    check "$name: no output file" test ! -e "$W/out"
    run "$BIN" verify -k "$W/a.pem" "$U"
    expect_rc "$name: verify" 2
done
run "$BIN" decrypt -k "$W/a.pem" --offset 0 --length 10 -o "$W/out" "$B/bad/trunc.kvs"
expect_rc "truncated: a range at the start is refused too" 2
check "truncated range: no output file" test ! -e "$W/out"
# A range reads and authenticates the chunks it covers and the final one.
run "$BIN" decrypt -k "$W/a.pem" --offset $((5 * CS + 10)) --length 10 -o "$W/out" \
    "$B/bad/payload.kvs"
expect_rc "range over the tampered chunk" 2
check "range over the tampered chunk: no output file" test ! -e "$W/out"
run "$BIN" decrypt -k "$W/a.pem" --offset 10 --length 100 -o "$W/out" "$B/bad/payload.kvs"
expect_rc "range before the tampered chunk" 0
check "range before the tampered chunk: bytes" cmp -s "$W/out" <(slice "$W/p7" 10 100)
rm -f "$W/out"
# Blobs that are no kvseal file at all.
head -c 3000 /dev/urandom >"$W/random"
: >"$W/empty"
check "SDK: random blob" sdk upload kvs-cli bad/random.kvs "$W/random"
check "SDK: empty blob" sdk upload kvs-cli bad/empty.kvs "$W/empty"
for name in random empty; do
    for cmd in decrypt inspect; do
        if [ $cmd = decrypt ]; then
            run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/bad/$name.kvs"
        else
            run "$BIN" inspect "$B/bad/$name.kvs"
        fi
        expect_rc "$name blob: $cmd" 2
        check "$name blob: $cmd says so" grep -q "not a kvseal file" "$W/stderr"
        check "$name blob: no output file" test ! -e "$W/out"
    done
done
# A reader that goes away: EPIPE is exit 4.
RC=0
"$BIN" decrypt -k "$W/a.pem" "$B/file/$MULTI.kvs" 2>"$W/stderr" | head -c 10 >/dev/null
RC=${PIPESTATUS[0]}
cat "$W/stderr" >>"$W/all-stderr"
expect_rc "decrypt to a closed pipe" 4
check "closed pipe: one line" one_line

# A bad Shared Key: Blob Storage refuses access (exit 3); the key never shown.
BAD=$(head -c 64 /dev/urandom | base64 -w0)
run env AZURE_STORAGE_KEY="$BAD" "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/1.kvs"
expect_rc "bad Shared Key: decrypt" 3
check "bad Shared Key: one line" one_line
check "bad Shared Key: key not shown" no_secret "$BAD" "${BAD:0:20}" "$AZURITE_KEY"
check "bad Shared Key: no output file" test ! -e "$W/out"
run env AZURE_STORAGE_KEY="$BAD" "$BIN" encrypt -r "$W/a.pub" -o "$B/badkey.kvs" "$SMALL"
expect_rc "bad Shared Key: encrypt" 3
check "bad Shared Key: encrypt, key not shown" no_secret "$BAD" "${BAD:0:20}"
check "bad Shared Key: no blob" absent kvs-cli badkey.kvs

# A SAS in the URL is refused before any request and never echoed.
RWSAS=$(sdk sas kvs-cli rw)
run "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/1.kvs?$RWSAS"
expect_rc "URL with a query: decrypt" 1
check "URL with a query: one line" one_line
check "URL with a query: SAS not echoed" no_secret "$RWSAS" "sig="
check "URL with a query: no output file" test ! -e "$W/out"
run "$BIN" encrypt -r "$W/a.pub" -o "$B/query.kvs?$RWSAS" "$SMALL"
expect_rc "URL with a query: encrypt" 1
check "URL with a query: encrypt, SAS not echoed" no_secret "$RWSAS" "sig="
check "URL with a query: no blob" absent kvs-cli query.kvs

# Plain http to a host that is not allowed.
run env KVSEAL_ALLOWED_HOSTS= "$BIN" decrypt -k "$W/a.pem" -o "$W/out" "$B/file/1.kvs"
expect_rc "http to a host not allowed: decrypt" 1
check "host not allowed: one line" one_line
check "host not allowed: no output file" test ! -e "$W/out"
run env KVSEAL_ALLOWED_HOSTS= "$BIN" encrypt -r "$W/a.pub" -o "$B/notallowed.kvs" "$SMALL"
expect_rc "http to a host not allowed: encrypt" 1
check "host not allowed: no blob" absent kvs-cli notallowed.kvs
# Plain http even to an allowed host that is not loopback: refused before
# any request (nothing listens there).
run env KVSEAL_ALLOWED_HOSTS=192.0.2.1:80 "$BIN" decrypt -k "$W/a.pem" -o "$W/out" \
    http://192.0.2.1:80/devstoreaccount1/kvs-cli/x.kvs
expect_rc "plain http to an allowed host that is not loopback" 1
check "plain http, not loopback: said" grep -q "only used to loopback" "$W/stderr"
check "plain http, not loopback: no output file" test ! -e "$W/out"

# A hostile file restored from a blob: its header names a Key Vault recipient
# on a host not in KVSEAL_ALLOWED_HOSTS. decrypt and audit refuse it (exit 3,
# docs/CLI.md) without a request to that host and without writing anything.
# The golden vector's vault host is swapped for one of the same length: a
# name under .invalid, and kvseal-golden.localhost on a loopback port where a
# listener records any connection (curl takes *.localhost for loopback).
"$PY" - "$W/lsn.port" "$W/lsn.log" >/dev/null 2>&1 <<'PYEOF' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
while s.getsockname()[1] < 10000:  # five digits: the host keeps its length
    s.close(); s = socket.socket(); s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection\n")
    c.close()
PYEOF
LSN_PID=$!
trap 'kill "$LSN_PID" 2>/dev/null; azurite_stop; rm -rf "$W"' EXIT
for _ in $(seq 100); do [ -s "$W/lsn.port" ] && break; sleep 0.1; done
LSN_PORT=$(cat "$W/lsn.port" 2>/dev/null || echo 65000)
: >"$W/lsn.log"
check "create container for hostile blobs" sdk container kvs-hostile
for HOST in kvseal-golden.hostile.invalid "kvseal-golden.localhost:$LSN_PORT"; do
    "$PY" - "$KVSEAL_SRC/vectors/golden/keyvault-and-rsa.kvs" "$W/hostile.kvs" "$HOST" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
a, b = b"kvseal-golden.vault.azure.net", sys.argv[3].encode()
assert len(a) == len(b) and data.count(a) == 1, (a, b)
open(sys.argv[2], "wb").write(data.replace(a, b))
PYEOF
    rm -f "$W/out"
    check "hostile ($HOST): SDK upload" sdk upload kvs-hostile host.kvs "$W/hostile.kvs"
    run "$BIN" decrypt -o "$W/out" "$KVSEAL_AZURITE_ENDPOINT/kvs-hostile/host.kvs"
    expect_rc "hostile blob ($HOST): decrypt refused" 3
    check "hostile blob ($HOST): decrypt, one line" one_line
    check "hostile blob ($HOST): decrypt names the host" \
        grep -qF "refusing to contact $HOST" "$W/stderr"
    check "hostile blob ($HOST): decrypt, no output file" test ! -e "$W/out"
    check "hostile blob ($HOST): decrypt, no secret shown" no_secret "$AZURITE_KEY"
    run "$BIN" audit "$KVSEAL_AZURITE_ENDPOINT/kvs-hostile/host.kvs"
    expect_rc "hostile blob ($HOST): audit could not check" 3
    check "hostile blob ($HOST): audit reports skipped-host" \
        grep -qF ": skipped-host (refusing to contact $HOST" "$W/stdout"
    check "hostile blob ($HOST): audit names the host not contacted" \
        grep -qF "nor listed in KVSEAL_ALLOWED_HOSTS): $HOST" "$W/stdout"
    rm -f "$W/hostile.back"
    check "hostile blob ($HOST): SDK download" sdk download kvs-hostile host.kvs "$W/hostile.back"
    check "hostile blob ($HOST): the blob is left as it was" cmp -s "$W/hostile.kvs" "$W/hostile.back"
done
check "hostile blobs: the listener was up" test -s "$W/lsn.port"
check "hostile blobs: nothing connected to the named host" test ! -s "$W/lsn.log"
kill "$LSN_PID" 2>/dev/null
wait "$LSN_PID" 2>/dev/null
trap 'azurite_stop; rm -rf "$W"' EXIT

# A blob replaced while a slow reader restores it: "the blob changed", exit 4.
# The reader takes a little plaintext (the ETag is pinned), then the SDK
# replaces the blob; the rest of the 16 MiB is past kvseal's 8 MiB read-ahead.
check "copy for replacement" sdk upload kvs-cli swap.kvs "$W/ref.kvs"
mkfifo "$W/slow"
"$BIN" decrypt -k "$W/a.pem" --blob-parallel 1 "$B/swap.kvs" >"$W/slow" 2>"$W/stderr" &
pid=$!
exec 7<"$W/slow"
head -c 1 <&7 >/dev/null
check "SDK replaces the blob mid-restore" sdk upload kvs-cli swap.kvs "$W/ref7.kvs"
cat <&7 >/dev/null
exec 7<&-
RC=0
wait "$pid" || RC=$?
cat "$W/stderr" >>"$W/all-stderr"
expect_rc "blob replaced while read" 4
check "blob replaced: said" grep -q "the blob changed" "$W/stderr"
check "blob replaced: one line" one_line

# ---- 6. a killed upload leaves no blob (staged blocks are invisible) ----
# kill_mid_upload SIG NAME: encrypt from an endless pipe, wait for staged
# blocks, kill; the blob must not exist.
kill_mid_upload() {
    local sig=$1 name=$2 t n
    rm -f "$W/feed"
    mkfifo "$W/feed"
    env --default-signal=INT "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS \
        -o "$B/killed/$name.kvs" <"$W/feed" 2>"$W/stderr" &
    pid=$!
    head -c 4G /dev/zero >"$W/feed" 2>/dev/null &
    feeder=$!
    n=0
    for t in $(seq 1 100); do
        n=$(sdk uncommitted kvs-cli "killed/$name.kvs")
        [ "$n" -ge 2 ] && break
        sleep 0.1
    done
    check "$name: blocks were staged before the kill (got $n after $t tries)" test "$n" -ge 2
    kill -s "$sig" "$pid"
    for t in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name: kvseal still runs 10 s after SIG$sig"
        kill -s KILL "$pid"
    fi
    RC=0
    wait "$pid" || RC=$?
    kill "$feeder" 2>/dev/null
    wait "$feeder" 2>/dev/null
    check "$name: kvseal died of SIG$sig (got $RC)" test "$RC" -eq $((128 + $(kill -l "$sig")))
    cat "$W/stderr" >>"$W/all-stderr"
    check "$name: no blob" absent kvs-cli "killed/$name.kvs"
}
kill_mid_upload KILL sigkill
kill_mid_upload INT sigint

# ---- 7. SAS: write with a container SAS, restore with a read-only one ----
ROSAS=$(sdk sas kvs-cli ro)
printf '%s\n' "$ROSAS" >"$W/ro.sas"
chmod 600 "$W/ro.sas"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT AZURE_STORAGE_SAS_TOKEN="$RWSAS" \
    "$BIN" encrypt -r "$W/a.pub" --chunk-size $CS -o "$B/sas/one.kvs" "$W/m.one"
expect_rc "SAS (rw, environment): encrypt" 0
check "SAS encrypt: token not shown" no_secret "$RWSAS"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT "$BIN" decrypt -k "$W/a.pem" \
    --sas-file "$W/ro.sas" -o "$W/out" "$B/sas/one.kvs"
expect_rc "SAS (ro, --sas-file): decrypt" 0
check "SAS round trip" cmp -s "$W/m.one" "$W/out"
rm -f "$W/out"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT "$BIN" verify -k "$W/a.pem" \
    --sas-file "$W/ro.sas" "$B/sas/one.kvs"
expect_rc "SAS (ro): verify" 0
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT "$BIN" inspect \
    --sas-file "$W/ro.sas" "$B/sas/one.kvs"
expect_rc "SAS (ro): inspect" 0
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT "$BIN" decrypt -k "$W/a.pem" \
    --sas-file "$W/ro.sas" --offset $((CS - 1)) --length 2 -o "$W/out" "$B/sas/one.kvs"
expect_rc "SAS (ro): range" 0
check "SAS (ro): range bytes" cmp -s "$W/out" <(slice "$W/m.one" $((CS - 1)) 2)
rm -f "$W/out"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT "$BIN" encrypt -r "$W/a.pub" \
    --sas-file "$W/ro.sas" -o "$B/sas/ro.kvs" "$W/m.one"
expect_rc "read-only SAS: encrypt refused" 3
check "read-only SAS: one line" one_line
check "read-only SAS: token not shown" no_secret "$ROSAS" "sig="
check "read-only SAS: no blob" absent kvs-cli sas/ro.kvs

# No run ever printed the account key or a SAS token.
check "the error lines were collected" test "$(wc -l <"$W/all-stderr")" -gt 30
cp "$W/all-stderr" "$W/stderr"
: >"$W/stdout"
check "no run printed a secret" no_secret "$AZURITE_KEY" "$RWSAS" "$ROSAS" "sig="

summary
