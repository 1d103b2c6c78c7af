#!/usr/bin/env bash
# Blob URLs on the command line, the parts decided before any request: the
# Blob Storage options are checked, a URL carrying a query (a SAS token in
# argv) is refused without being echoed, encrypt -o URL takes one input, and
# no local file appears for a blob that could not be read.
#
# Needs: KVSEAL_BIN (the kvseal binary).
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

test_key rsa2048-a "$W/k.pem"
echo secret-plaintext >"$W/in"
URL=https://acct.blob.core.windows.net/backups/db.kvs
SAS_URL="$URL?sv=2022-11-02&sig=TOPSECRETSIGNATURE"
no_secret() { ! grep -q TOPSECRETSIGNATURE "$W/stdout" "$W/stderr"; }

for cmd in "decrypt -k $W/k.pem" "verify -k $W/k.pem" "inspect"; do
    name=${cmd%% *}
    # shellcheck disable=SC2086
    run "$BIN" $cmd "$SAS_URL"
    check "$name: URL with a query exits 1 (got $RC)" test "$RC" -eq 1
    check "$name: the query is refused by name" grep -q "must not carry a query" "$W/stderr"
    check "$name: the SAS token is not echoed" no_secret
done
run "$BIN" encrypt -r "$W/k.pem" -o "$SAS_URL" "$W/in"
check "encrypt: URL with a query exits 1 (got $RC)" test "$RC" -eq 1
check "encrypt: the SAS token is not echoed" no_secret

# Nor is a password in the URL's user info.
PW_URL=https://backup:TOPSECRETSIGNATURE@acct.blob.core.windows.net/backups/db.kvs
for cmd in "decrypt -k $W/k.pem" "verify -k $W/k.pem" "inspect" "encrypt -r $W/k.pem -o"; do
    name=${cmd%% *}
    if [ "$name" = encrypt ]; then
        # shellcheck disable=SC2086
        run "$BIN" $cmd "$PW_URL" "$W/in"
    else
        # shellcheck disable=SC2086
        run "$BIN" $cmd "$PW_URL"
    fi
    check "$name: URL with user info exits 1 (got $RC)" test "$RC" -eq 1
    check "$name: user info refused by name" grep -q "must not carry user info" "$W/stderr"
    check "$name: the password is not echoed" no_secret
    check "$name: one error line" test "$(wc -l <"$W/stderr")" -eq 1
done

# decrypt never writes plaintext to a blob (nor to a local path named
# like a URL).
run "$BIN" encrypt -r "$W/k.pem" -o "$W/in.kvs" "$W/in"
check "local encrypt for decrypt -o URL" test "$RC" -eq 0
run env -C "$W" "$BIN" decrypt -k "$W/k.pem" -o "$SAS_URL" "$W/in.kvs"
check "decrypt -o URL exits 1 (got $RC)" test "$RC" -eq 1
check "decrypt -o URL: said" grep -q "decrypt writes no blobs" "$W/stderr"
check "decrypt -o URL: the SAS token is not echoed" no_secret
check "decrypt -o URL: nothing written locally" test ! -e "$W/https:"

run "$BIN" encrypt -r "$W/k.pem" -o "$URL" "$W/in" "$W/in"
check "encrypt -o URL with two inputs exits 1 (got $RC)" test "$RC" -eq 1
check "encrypt -o URL: one input, said" grep -q "takes one input" "$W/stderr"

run "$BIN" inspect --blob-parallel 0 "$URL"
check "--blob-parallel 0 exits 1" test "$RC" -eq 1
run "$BIN" decrypt --blob-parallel 33 -k "$W/k.pem" "$URL"
check "--blob-parallel 33 exits 1" test "$RC" -eq 1
run "$BIN" verify --blob-credential password -k "$W/k.pem" "$URL"
check "--blob-credential password exits 1" test "$RC" -eq 1
check "--blob-credential names the choices" grep -q "auto, entra, sas, shared-key" "$W/stderr"
run "$BIN" encrypt -r "$W/k.pem" --sas-file "" -o "$URL" "$W/in"
check "--sas-file '' exits 1" test "$RC" -eq 1

# A blob that cannot be read leaves no output file behind.
run "$BIN" decrypt -k "$W/k.pem" --blob-credential sas --sas-file "$W/none" -o "$W/out" "$URL"
check "unreadable blob: decrypt fails (got $RC)" test "$RC" -ne 0
check "unreadable blob: no output file" test ! -e "$W/out"
check "unreadable blob: one error line" test "$(wc -l <"$W/stderr")" -eq 1

summary
