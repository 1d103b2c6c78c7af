#!/usr/bin/env bash
# E2E (issue 13): many blobs under a prefix against Azurite, with Shared Key.
# kvseal blobs uploaded with `encrypt -o URL` under backups/day1/ (one in a
# sub-"directory", one whose name needs escaping), a blob that is not a
# kvseal file beside them, and one kvseal blob under another prefix.
# `decrypt -o DIR PREFIX/` restores exactly the prefix's kvseal blobs (bytes
# compared, directories kept), reports the other one with exit 2 and still
# restores the rest; `audit [--json] PREFIX/` reports every kvseal blob from
# its real header. Paging by NextMarker is covered by unit.test_blob_list.
# Skips (77) without Node.js or Debian's python3-azure.
set -u
# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
# shellcheck source=lib/azurite.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/azurite.sh"
BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-python3}
azurite_start_for_test
W=$(mktemp -d)
trap 'azurite_stop; rm -rf "$W"' EXIT
unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING
export AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$AZURITE_KEY"

ran_ok() {
    if [ "$RC" -eq 0 ]; then pass; else fail "$1 (exit $RC)"; cat "$W/stderr" >&2; fi
}

# sdk container NAME | sdk put CONTAINER BLOB FILE: the Azure SDK's own calls.
sdk() {
    "$PY" - "$@" <<'PYEOF'
import os, sys
from azure.storage.blob import BlobServiceClient
svc = BlobServiceClient(os.environ["KVSEAL_AZURITE_ENDPOINT"],
                        credential={"account_name": os.environ["AZURITE_ACCOUNT"],
                                    "account_key": os.environ["AZURITE_KEY"]})
if sys.argv[1] == "container":
    svc.create_container(sys.argv[2])
elif sys.argv[1] == "sas":  # sas CONTAINER PERMISSIONS: a container SAS
    import datetime
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    now = datetime.datetime.now(datetime.timezone.utc)
    print(generate_container_sas(os.environ["AZURITE_ACCOUNT"], sys.argv[2],
                                 account_key=os.environ["AZURITE_KEY"],
                                 permission=ContainerSasPermissions.from_string(sys.argv[3]),
                                 start=now - datetime.timedelta(hours=1),
                                 expiry=now + datetime.timedelta(hours=1)))
elif sys.argv[1] == "put":
    with open(sys.argv[4], "rb") as f:
        svc.get_blob_client(sys.argv[2], sys.argv[3]).upload_blob(f.read())
PYEOF
}

check "create container" sdk container backups
B="$KVSEAL_AZURITE_ENDPOINT/backups"
test_key rsa2048-a "$W/k.pem" "$W/k.pub.pem"
mkdir -p "$W/src"
head -c 300000 /dev/urandom >"$W/src/db1"
echo "second file" >"$W/src/db2"
: >"$W/src/empty"
head -c 5000 /dev/urandom >"$W/src/nested"
printf 'a name with spaces & more\n' >"$W/src/odd"
up() { # up LOCAL BLOB-PATH
    run "$BIN" encrypt -r "$W/k.pub.pem" -o "$B/$2" "$W/src/$1"
    ran_ok "encrypt -o $2"
}
up db1 day1/db1.kvs
up db2 day1/db2.kvs
up empty day1/empty.kvs
up nested day1/sub/dir/nested.kvs
up odd "day1/odd%20name%20%26.kvs"
up db1 day2/db1.kvs
up db2 day10/db2.kvs # shares the prefix text "day1" but not "day1/"
echo "not a kvseal file" >"$W/plain.txt"
check "upload a non-kvseal blob" sdk put backups day1/readme.txt "$W/plain.txt"

# Paging: the same listing in pages of 2 and of 5000 (a test driver: the
# command line always asks for 5000). Azurite honours maxresults, and the
# lister refuses a page with more blobs than asked for.
DRIVER="$KVSEAL_BUILD/tests/blob_azurite_driver"
run "$DRIVER" list "$B/day1/" 2
ran_ok "list in pages of 2"
cp "$W/stdout" "$W/list2"
run "$DRIVER" list "$B/day1/" 5000
ran_ok "list in one page"
check "paged listing is the same" cmp "$W/list2" "$W/stdout"
printf '%s\n' "db1.kvs" "db2.kvs" "empty.kvs" "odd name &.kvs" "readme.txt" "sub/dir/nested.kvs" \
    >"$W/want-names"
check "listing: exactly the prefix's blobs, in order" \
    cmp "$W/want-names" <(sed 's/ [0-9]*$//' "$W/list2")
check "listing: sizes" grep -qx "readme.txt 18" "$W/list2"
run "$DRIVER" list "$B/" 1
ran_ok "list the container in pages of 1"
check "container listing: 8 blobs" test "$(wc -l <"$W/stdout")" -eq 8

# decrypt -o DIR PREFIX/
mkdir "$W/out"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/out" "$B/day1/"
check "decrypt prefix: exit 2 for the non-kvseal blob (got $RC)" test "$RC" -eq 2
check "decrypt prefix: the non-kvseal blob is named" grep -q "day1/readme.txt" "$W/stderr"
check "decrypt prefix: db1 restored" cmp "$W/src/db1" "$W/out/db1"
check "decrypt prefix: db2 restored" cmp "$W/src/db2" "$W/out/db2"
check "decrypt prefix: empty restored" cmp "$W/src/empty" "$W/out/empty"
check "decrypt prefix: nested keeps its directories" cmp "$W/src/nested" "$W/out/sub/dir/nested"
check "decrypt prefix: escaped name" cmp "$W/src/odd" "$W/out/odd name &"
(cd "$W/out" && find . -type f | sort) >"$W/files"
printf '%s\n' "./db1" "./db2" "./empty" "./odd name &" "./sub/dir/nested" >"$W/want"
check "decrypt prefix: exactly the prefix's kvseal blobs" cmp "$W/want" "$W/files"

# Again: outputs exist now, refused before anything is written; --force replaces.
run "$BIN" decrypt -k "$W/k.pem" -o "$W/out" "$B/day1/"
check "decrypt prefix again: exit 1, outputs exist (got $RC)" test "$RC" -eq 1
run "$BIN" -v decrypt -k "$W/k.pem" --force --threads 2 -o "$W/out" "$B/day1/"
check "decrypt prefix --force --threads 2: exit 2 again (got $RC)" test "$RC" -eq 2
check "decrypt prefix: the many-file restore unlocks ahead" \
    grep -q "of 6 inputs unlocked ahead of decryption" "$W/stderr"
check "decrypt prefix --force: db1 still right" cmp "$W/src/db1" "$W/out/db1"

# The container alone, into a new directory: every kvseal blob at any depth.
mkdir "$W/all"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/all" "$B/"
check "decrypt container: exit 2 (got $RC)" test "$RC" -eq 2
check "decrypt container: day2 restored" cmp "$W/src/db1" "$W/all/day2/db1"
check "decrypt container: day10 restored" cmp "$W/src/db2" "$W/all/day10/db2"
check "decrypt container: day1 nested" cmp "$W/src/nested" "$W/all/day1/sub/dir/nested"

# Refusals: no -o DIR, an empty prefix, a query, a prefix not ending in '/'.
run "$BIN" decrypt -k "$W/k.pem" "$B/day1/"
check "decrypt prefix to stdout: exit 1 (got $RC)" test "$RC" -eq 1
mkdir "$W/none"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/none" "$B/nothing-here/"
check "decrypt of an empty prefix: exit 4 (got $RC)" test "$RC" -eq 4
check "decrypt of an empty prefix: said" grep -q "no blob under" "$W/stderr"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/none" "$B/day1/?sig=TOPSECRET"
check "decrypt prefix with a query: exit 1 (got $RC)" test "$RC" -eq 1
check "decrypt prefix with a query: not echoed" sh -c "! grep -q TOPSECRET '$W/stderr'"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/none" "$KVSEAL_AZURITE_ENDPOINT/nosuchcontainer/"
check "decrypt of a missing container: exit 4 (got $RC)" test "$RC" -eq 4
check "nothing written on refusals" test -z "$(ls -A "$W/none")"

# Names that are no safe local path fail on their own; the rest is restored.
# (The SDK and Azurite do not let a name with a '..' part be uploaded.)
cp "$W/src/db2" "$W/db2.plain"
run "$BIN" encrypt -r "$W/k.pub.pem" -o "$W/db2.kvs" "$W/db2.plain"
check "upload a blob with an empty path part" sdk put backups "day3/a//b.kvs" "$W/db2.kvs"
check "upload a blob with a 300-byte part" sdk put backups "day3/$(printf 'n%.0s' $(seq 1 300)).kvs" "$W/db2.kvs"
up db1 day3/ok.kvs
mkdir "$W/d3"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/d3" "$B/day3/"
check "unsafe names: exit 2 (got $RC)" test "$RC" -eq 2
check "unsafe names: the safe one restored" cmp "$W/src/db1" "$W/d3/ok"
check "unsafe names: nothing else written" test "$(cd "$W/d3" && find . -mindepth 1 | sort | tr '\n' ' ')" = "./ok "
check "unsafe names: said" grep -q "not a safe local path" "$W/stderr"

# audit PREFIX/: every kvseal blob from its header; the other one skipped.
run "$BIN" audit "$B/day1/"
check "audit prefix: exit 0 (offline keys only; got $RC)" test "$RC" -eq 0
for b in db1.kvs db2.kvs empty.kvs sub/dir/nested.kvs odd%20name%20%26.kvs; do
    check "audit prefix: lists $b" grep -qF "$B/day1/$b: offline-only" "$W/stdout"
done
check "audit prefix: 5 files, 1 skipped" grep -q "^5 files: .*(1 other files skipped)" "$W/stdout"
check "audit prefix: not day10" sh -c "! grep -q day10 '$W/stdout'"
run "$BIN" audit --json "$B/day1/" "$B/day2/db1.kvs"
ran_ok "audit --json"
"$PY" - "$W/stdout" "$B" >"$W/json.check" 2>&1 <<'PYEOF'
import json, sys
doc = json.load(open(sys.argv[1]))
base = sys.argv[2]
paths = [f["path"] for f in doc["files"]]
want = [base + "/day1/" + n for n in
        ["db1.kvs", "db2.kvs", "empty.kvs", "odd%20name%20%26.kvs", "sub/dir/nested.kvs"]]
want.append(base + "/day2/db1.kvs")
assert doc["schema"] == "kvseal-audit/1", doc["schema"]
assert sorted(paths) == sorted(want), paths
assert all(f["verdict"] == "offline-only" for f in doc["files"])
assert all(f["recipients"] and f["created"] for f in doc["files"])
assert doc["summary"]["files"] == 6 and doc["summary"]["skipped_not_kvseal"] == 1
assert doc["exit_code"] == 0
PYEOF
if [ $? -eq 0 ]; then pass; else fail "audit --json: schema and paths"; cat "$W/json.check" >&2; fi
run "$BIN" audit --verify-headers -k "$W/k.pem" "$B/day1/"
check "audit --verify-headers prefix: exit 0 (got $RC)" test "$RC" -eq 0
check "audit --verify-headers prefix: verified" grep -q "db1.kvs: offline-only, header verified" \
    "$W/stdout"
# A SAS: listing needs its list permission ('l'); without it, access refused.
SAS_RL=$(sdk sas backups rl)
SAS_R=$(sdk sas backups r)
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT AZURE_STORAGE_SAS_TOKEN="$SAS_RL" \
    "$BIN" audit "$B/day1/"
check "audit prefix with a read+list SAS: exit 0 (got $RC)" test "$RC" -eq 0
check "audit prefix with a read+list SAS: 5 files" grep -q "^5 files:" "$W/stdout"
mkdir "$W/sas"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT AZURE_STORAGE_SAS_TOKEN="$SAS_R" \
    "$BIN" decrypt -k "$W/k.pem" -o "$W/sas" "$B/day2/"
check "decrypt prefix with a read-only SAS: exit 3 (got $RC)" test "$RC" -eq 3
check "decrypt prefix with a read-only SAS: List Blobs refused" grep -q "List Blobs" "$W/stderr"
check "decrypt prefix with a read-only SAS: the SAS is not shown" \
    sh -c "! grep -qF -- '${SAS_R#*sig=}' '$W/stderr'"
run env -u AZURE_STORAGE_KEY -u AZURE_STORAGE_ACCOUNT AZURE_STORAGE_SAS_TOKEN="$SAS_RL" \
    "$BIN" decrypt -k "$W/k.pem" -o "$W/sas" "$B/day2/"
ran_ok "decrypt prefix with a read+list SAS"
check "decrypt prefix with a read+list SAS: restored" cmp "$W/src/db1" "$W/sas/db1"

# A blob named alone that is not a kvseal file is invalid, as a named file.
run "$BIN" audit "$B/day1/readme.txt"
check "audit of a named non-kvseal blob: exit 2 (got $RC)" test "$RC" -eq 2

# Many files into a prefix, as into -o DIR: NAME becomes PREFIX/NAME.kvs
# (the name percent-encoded on the wire), every input is attempted, and the
# exit code is the first failure's.
cp "$W/src/odd" "$W/src/né 100%"
run "$BIN" encrypt -r "$W/k.pub.pem" -o "$B/day3/" "$W/src/db1" "$W/src/db2" "$W/src/né 100%"
ran_ok "encrypt -o PREFIX/ three files"
for f in db1 db2; do
    run "$BIN" decrypt -k "$W/k.pem" -o "$W/day3.$f" "$B/day3/$f.kvs"
    check "encrypt -o PREFIX/: $f.kvs decrypts (got $RC)" cmp "$W/src/$f" "$W/day3.$f"
done
run "$BIN" decrypt -k "$W/k.pem" -o "$W/day3.odd" "$B/day3/n%C3%A9%20100%25.kvs"
check "encrypt -o PREFIX/: an escaped name decrypts (got $RC)" cmp "$W/src/odd" "$W/day3.odd"
head -c 1000 /dev/urandom >"$W/src/db3"
run "$BIN" encrypt -r "$W/k.pub.pem" -o "$B/day3/" "$W/src/db1" "$W/src/db3"
check "encrypt -o PREFIX/ over an existing blob: exit 1 (got $RC)" test "$RC" -eq 1
check "... one line naming the existing blob" grep -q "already exists" "$W/stderr"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/day3.db3" "$B/day3/db3.kvs"
check "... and the next input is still uploaded (got $RC)" cmp "$W/src/db3" "$W/day3.db3"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/day3.db1b" "$B/day3/db1.kvs"
check "... the existing blob is unchanged" cmp "$W/src/db1" "$W/day3.db1b"
run sh -c "\"\$0\" encrypt -r '$W/k.pub.pem' -o '$B/day4/' </dev/null" "$BIN"
check "encrypt standard input -o PREFIX/: exit 1 (got $RC)" test "$RC" -eq 1
mkdir "$W/day4"
run "$BIN" decrypt -k "$W/k.pem" -o "$W/day4" "$B/day4/"
check "... and nothing was uploaded (an empty prefix: exit 4, got $RC)" test "$RC" -eq 4

summary
