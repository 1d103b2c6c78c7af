#!/usr/bin/env bash
# E2E: the Key Vault provider against the local test server: local wrap (no
# wrapkey call), one unwrapkey per distinct wrapped key, versioned kids,
# rotation, --remote-wrap, least-privilege failures, key checks, -k URL.
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
kvctl clients add --client-id app-full --secret-file "$(secret_file full.secret s3cret-full)" \
    --permissions full >/dev/null
kvctl clients add --client-id app-gw --secret-file "$(secret_file gw.secret s3cret-gw)" \
    --permissions get-wrap >/dev/null
kvctl clients add --client-id app-pol --secret-file "$(secret_file pol.secret s3cret-pol)" \
    --permissions get-wrap --kind policy >/dev/null
kvctl clients add --client-id app-user --secret-file "$(secret_file user.secret s3cret-user)" \
    --permissions crypto-user >/dev/null
V1=$(kvctl --field key.kid keys create k1 --size 4096)
kvctl keys create k2048 --size 2048 >/dev/null
kvctl keys create khsm --kty RSA-HSM --size 3072 >/dev/null
kvctl keys create kwraponly --ops wrapKey >/dev/null
kvctl keys create kdis >/dev/null
kvctl keys create kexp >/dev/null
kvctl keys set kexp --exp $(($(date +%s) - 60)) >/dev/null

as_client() {
    export AZURE_CLIENT_ID=$1 AZURE_CLIENT_SECRET=$2
}
as_client app-full s3cret-full
D=$TMP/data
mkdir -p "$D"
head -c 3000000 /dev/urandom >"$D/a"
head -c 100000 /dev/urandom >"$D/b"
printf 'hello' >"$D/c"

# -- encrypt: one GET, no wrapkey; the kid is versioned
log_clear
run encrypt -r "$VAULT/keys/k1" -o "$D/a.kvs" "$D/a"
expect "encrypt with a versionless key URL" [ "$RC" -eq 0 ]
expect "the header records the versioned kid" [ "$(kid_of "$D/a.kvs")" = "$V1" ]
expect "encrypt made exactly one successful GET" [ "$(log_count "e['op']=='get' and e['status']==200")" -eq 1 ]
expect "encrypt made no wrapkey call (local wrap)" [ "$(log_count "e['op']=='wrapkey'")" -eq 0 ]
expect "encrypt fetched one token" [ "$(log_count "e['op']=='token' and e['status']==200")" -eq 1 ]
expect "the first vault request carried no token" \
    [ "$(log_count "e['op']=='get' and e['status']==401 and not e['authorization']")" -eq 1 ]

# several files in one process: still one GET
log_clear
mkdir -p "$D/enc"
run encrypt -r "$VAULT/keys/k1" -o "$D/enc" "$D/b" "$D/c"
expect "encrypt two files into a directory" [ "$RC" -eq 0 ]
expect "two files cost one GET" [ "$(log_count "e['op']=='get' and e['status']==200")" -eq 1 ]

# -- decrypt: one unwrapkey per distinct wrapped key
log_clear
run decrypt -o "$D/a.out" "$D/a.kvs"
expect "decrypt without -k (any allowed vault)" [ "$RC" -eq 0 ]
expect "decrypted bytes are identical" same "$D/a" "$D/a.out"
expect "decrypt made one unwrapkey" [ "$(log_count "e['op']=='unwrapkey' and e['status']==200")" -eq 1 ]
expect "decrypt made no GET" [ "$(log_count "e['op']=='get'")" -eq 0 ]

mkdir -p "$D/many" "$D/many.out"
cp "$D/a.kvs" "$D/many/a1.kvs"
cp "$D/a.kvs" "$D/many/a2.kvs"
cp "$D/a.kvs" "$D/many/a3.kvs"
cp "$D/enc/b.kvs" "$D/enc/c.kvs" "$D/many/"
log_clear
run decrypt -v -o "$D/many.out" "$D/many/a1.kvs" "$D/many/a2.kvs" "$D/many/a3.kvs" \
    "$D/many/b.kvs" "$D/many/c.kvs"
expect "decrypt five files (three distinct data keys)" [ "$RC" -eq 0 ]
expect "five files cost three unwrapkey calls" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==200")" -eq 3 ]
expect "five files cost one token" [ "$(log_count "e['op']=='token'")" -eq 1 ]
expect "all decrypted files match" eval 'same "$D/a" "$D/many.out/a1" && same "$D/a" "$D/many.out/a3" && same "$D/b" "$D/many.out/b" && same "$D/c" "$D/many.out/c"'
expect "verbose output reports the Key Vault calls" has "$ERR" "3 unwrapkey"
expect "verbose output reports DEK cache hits" has "$ERR" "2 DEK cache hits"

# -- rotation: old files keep their version, new files get the new one
V2=$(kvctl --field key.kid keys rotate k1)
run encrypt -r "$VAULT/keys/k1" -o "$D/new.kvs" "$D/c"
expect "after rotate, a new file records the new version" [ "$(kid_of "$D/new.kvs")" = "$V2" ]
expect "the new version differs from the old" [ "$V1" != "$V2" ]
log_clear
run decrypt -o "$D/old.out" "$D/a.kvs"
expect "after rotate, an old file still decrypts" [ "$RC" -eq 0 ]
expect "it was unwrapped with its own (old) version" \
    [ "$(log_count "e['op']=='unwrapkey' and e['status']==200 and e['path'].startswith('/keys/k1/${V1##*/}/')")" -eq 1 ]
run decrypt -o "$D/new.out" "$D/new.kvs"
expect "a new file decrypts" eval '[ "$RC" -eq 0 ] && same "$D/c" "$D/new.out"'
run encrypt -r "$V1" -o "$D/pinned.kvs" "$D/c"
expect "a versioned -r URL pins that version" [ "$(kid_of "$D/pinned.kvs")" = "$V1" ]

# -- -k URL restricts decryption to one key (and version)
run decrypt -k "$VAULT/keys/k1" -o "$D/k.out" "$D/a.kvs"
expect "-k with the file's key decrypts" [ "$RC" -eq 0 ]
run decrypt -k "$VAULT/keys/k2048" -o "$D/k2.out" "$D/a.kvs"
expect "-k with another key finds no recipient (exit 3)" [ "$RC" -eq 3 ]
run decrypt -k "$V2" -o "$D/k3.out" "$D/a.kvs"
expect "-k with another version of the key finds no recipient" [ "$RC" -eq 3 ]

# -- --remote-wrap uses the service's wrapkey
log_clear
run encrypt --remote-wrap -r "$VAULT/keys/k2048" -o "$D/rw.kvs" "$D/b"
expect "--remote-wrap encrypts" [ "$RC" -eq 0 ]
expect "--remote-wrap made one wrapkey call" [ "$(log_count "e['op']=='wrapkey' and e['status']==200")" -eq 1 ]
run decrypt -o "$D/rw.out" "$D/rw.kvs"
expect "a remotely wrapped file decrypts" eval '[ "$RC" -eq 0 ] && same "$D/b" "$D/rw.out"'
run encrypt -r "$VAULT/keys/khsm" -o "$D/hsm.kvs" "$D/c"
expect "an RSA-HSM 3072 key works" eval '[ "$RC" -eq 0 ] && "$KVSEAL_BIN" decrypt -o "$D/hsm.out" "$D/hsm.kvs" 2>/dev/null && same "$D/c" "$D/hsm.out"'

# -- least privilege
as_client app-user s3cret-user
run decrypt -o "$D/user.out" "$D/a.kvs"
expect "the Crypto Service Encryption User set of rights decrypts" [ "$RC" -eq 0 ]
as_client app-gw s3cret-gw
run encrypt -r "$VAULT/keys/k1" -o "$D/gw.kvs" "$D/b"
expect "a get+wrap-only client can encrypt" [ "$RC" -eq 0 ]
run decrypt -o "$D/gw.out" "$D/gw.kvs"
expect "... but not decrypt (exit 3)" [ "$RC" -eq 3 ]
expect "... and the message names the role" has "$ERR" "Key Vault Crypto Service Encryption User"
expect "... and no plaintext was written" [ ! -e "$D/gw.out" ]
as_client app-pol s3cret-pol
run decrypt -o "$D/pol.out" "$D/gw.kvs"
expect "an access-policy client without unwrapKey: exit 3" [ "$RC" -eq 3 ]
expect "... the message names the permissions" has "$ERR" "get, wrapKey and unwrapKey"
as_client app-full s3cret-full

# -- key checks
kvctl keys disable kdis >/dev/null
run encrypt -r "$VAULT/keys/kdis" -o "$D/dis.kvs" "$D/c"
expect "a disabled key is refused (exit 3)" [ "$RC" -eq 3 ]
expect "... with a message saying so" has "$ERR" "disabled"
run encrypt -r "$VAULT/keys/k2048" -o "$D/todis.kvs" "$D/c"
kvctl keys disable k2048 >/dev/null
run decrypt -o "$D/todis.out" "$D/todis.kvs"
expect "a file whose key version was disabled does not decrypt" eval '[ "$RC" -eq 3 ] && has "$ERR" disabled'
run encrypt -r "$VAULT/keys/kwraponly" -o "$D/wo.kvs" "$D/c"
expect "a key without unwrapKey in key_ops is refused" eval '[ "$RC" -ne 0 ] && has "$ERR" unwrapKey'
run encrypt -r "$VAULT/keys/kexp" -o "$D/exp.kvs" "$D/c"
expect "an expired key is refused" eval '[ "$RC" -ne 0 ] && has "$ERR" expired'
run encrypt -r "$VAULT/keys/nosuchkey" -o "$D/nf.kvs" "$D/c"
expect "a missing key: exit 3, message names it" eval '[ "$RC" -eq 3 ] && has "$ERR" "nosuchkey" && has "$ERR" "not found"'
run encrypt -r "$VAULT/keys/k1/00000000000000000000000000000000" -o "$D/nf2.kvs" "$D/c"
expect "a missing version: the message names key and version" \
    eval 'has "$ERR" "version '"'"'00000000000000000000000000000000'"'"'"'
run encrypt -r "$VAULT/secrets/k1" -o "$D/bad.kvs" "$D/c"
expect "a URL that is not a key URL is a usage error (exit 1)" [ "$RC" -eq 1 ]
expect "no output file appeared for refused keys" eval '[ ! -e "$D/dis.kvs" ] && [ ! -e "$D/wo.kvs" ]'

finish
