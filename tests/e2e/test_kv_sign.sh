#!/usr/bin/env bash
# E2E: Key Vault signing keys against the local test server, through the CLI
# (`encrypt --sign URL`, `verify|decrypt --require-signer URL`): one sign call
# per file, the Crypto User vs Service Encryption User roles (403 naming the
# role, exit 3), 429 and 5xx retried into one signature, versioned and
# versionless required signers across a rotation (another version: exit 2),
# key-less verification by a reader, and key separation both ways (a key
# unfit for the job is a key error: exit 3, like any key whose type or
# key_ops do not allow the operation).
set -u
# shellcheck source=lib/kv_harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/kv_harness.sh"

start_server "$TMP/srv" || exit 1
use_server "$TMP/srv"
# The writer: Crypto User (sign; also wraps). The Service Encryption User
# wraps and unwraps but may not sign. The reader only reads keys (enough to
# verify locally, not to decrypt).
kvctl clients add --client-id app-writer --secret-file "$(secret_file w.secret s3cret-w)" \
    --permissions "Key Vault Crypto User" >/dev/null
kvctl clients add --client-id app-seu --secret-file "$(secret_file seu.secret s3cret-seu)" \
    --permissions "Key Vault Crypto Service Encryption User" >/dev/null
kvctl clients add --client-id app-reader --secret-file "$(secret_file r.secret s3cret-r)" \
    --permissions reader >/dev/null
kvctl keys create wrap --size 2048 >/dev/null # wrapKey, unwrapKey
kvctl keys create wrap2 --size 2048 >/dev/null
S1=$(kvctl --field key.kid keys create sig --kty EC --crv P-256)
kvctl keys create sig384 --kty EC-HSM --crv P-384 >/dev/null
kvctl keys create rsasig --size 3072 --ops sign,verify >/dev/null
kvctl keys create allops --size 3072 --ops encrypt,decrypt,sign,verify,wrapKey,unwrapKey >/dev/null

as_client() {
    export AZURE_CLIENT_ID=$1 AZURE_CLIENT_SECRET=$2
}
as_client app-writer s3cret-w
D=$TMP/data
mkdir -p "$D/out" "$D/enc"
head -c 1000000 /dev/urandom >"$D/a"
head -c 70000 /dev/urandom >"$D/b"
printf 'hello' >"$D/c"
SIG=$VAULT/keys/sig
WRAP=$VAULT/keys/wrap
sign_calls() { log_count "e['op']=='sign' and e['status']==200"; }

# -- a signed file: one GET of the signing key, one sign call
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/a.kvs" "$D/a"
expect "encrypt --sign with a Key Vault EC key (Crypto User)" [ "$RC" -eq 0 ]
expect "one sign call for one file" [ "$(sign_calls)" -eq 1 ]
expect "the sign call used the resolved version" \
    [ "$(log_count "e['op']=='sign' and e['status']==200 and e['kid']=='$S1' and e['path']=='/keys/sig/${S1##*/}/sign'")" -eq 1 ]
expect "the signing key was fetched once" \
    [ "$(log_count "e['op']=='get' and e['status']==200 and e['path'].startswith('/keys/sig')")" -eq 1 ]
run inspect "$D/a.kvs"
expect "inspect names the versioned signer" eval '[ "$RC" -eq 0 ] && has "$OUT" "$S1"'

# several files in one process: exactly one sign call per file, still one GET
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/enc" "$D/a" "$D/b" "$D/c"
expect "encrypt three signed files" [ "$RC" -eq 0 ]
expect "three files: exactly three sign calls" [ "$(sign_calls)" -eq 3 ]
expect "three files: one GET of the signing key" \
    [ "$(log_count "e['op']=='get' and e['status']==200 and e['path'].startswith('/keys/sig')")" -eq 1 ]

# -- verification: versionless and versioned, decrypt and key-less verify
log_clear
run verify --require-signer "$SIG" "$D/a.kvs"
expect "verify --require-signer with the versionless URL" [ "$RC" -eq 0 ]
expect "verification makes no sign call" [ "$(log_count "e['op']=='sign'")" -eq 0 ]
run verify --require-signer "$S1" "$D/a.kvs"
expect "verify --require-signer with the versioned URL" [ "$RC" -eq 0 ]
run decrypt --require-signer "$SIG" -o "$D/out/a" "$D/a.kvs"
expect "decrypt --require-signer" eval '[ "$RC" -eq 0 ] && same "$D/a" "$D/out/a"'
mkdir -p "$D/out3" # a directory of its own: out/a exists from the decrypt above
run decrypt --require-signer "$SIG" -o "$D/out3" "$D/enc/a.kvs" "$D/enc/b.kvs" "$D/enc/c.kvs"
expect "decrypt --require-signer of three files" \
    eval '[ "$RC" -eq 0 ] && same "$D/a" "$D/out3/a" && same "$D/b" "$D/out3/b" && same "$D/c" "$D/out3/c"'
as_client app-reader s3cret-r
log_clear
run verify --require-signer "$SIG" "$D/a.kvs"
expect "a reader (get only) proves authorship without any decryption key" [ "$RC" -eq 0 ]
expect "... with no unwrap call" [ "$(log_count "e['op']=='unwrapkey'")" -eq 0 ]
as_client app-writer s3cret-w

# -- the Service Encryption User may not sign
as_client app-seu s3cret-seu
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/seu.kvs" "$D/c"
expect "Service Encryption User: sign refused, exit 3 (key access)" [ "$RC" -eq 3 ]
expect "... the message names the Crypto User role" has "$ERR" "Key Vault Crypto User"
expect "... and says it is the sign operation" has "$ERR" "sign"
expect "... the vault said 403 ForbiddenByRbac" \
    [ "$(log_count "e['op']=='sign' and e['status']==403")" -eq 1 ]
expect "... and no output file appeared" [ ! -e "$D/seu.kvs" ]
run decrypt --require-signer "$SIG" -o "$D/out/seu-a" "$D/a.kvs"
expect "... but it restores a signed file (get + unwrap)" \
    eval '[ "$RC" -eq 0 ] && same "$D/a" "$D/out/seu-a"'
as_client app-writer s3cret-w

# -- 429 (with and without Retry-After), 5xx and a dropped connection are retried
kvctl reset >/dev/null
kvctl faults set --ops sign --fail 1 --fail-status 429 --fail-retry-after 1 >/dev/null
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/t1.kvs" "$D/c"
expect "429 with Retry-After on sign: retried, the file is written" [ "$RC" -eq 0 ]
N429=$(log_count "e['op']=='sign' and e['status']==429")
expect "... one throttled and one successful sign call" eval '[ "$N429" -eq 1 ] && [ "$(sign_calls)" -eq 1 ]'
kvctl reset >/dev/null
kvctl faults set --ops sign --fail 1 --fail-status 429 >/dev/null
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/t2.kvs" "$D/c"
expect "429 without Retry-After on sign: retried" eval '[ "$RC" -eq 0 ] && [ "$(sign_calls)" -eq 1 ]'
kvctl reset >/dev/null
kvctl faults set --ops sign --fail 2 --fail-status 503 >/dev/null
log_clear
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/t3.kvs" "$D/c"
expect "503 twice on sign: retried" eval '[ "$RC" -eq 0 ] && [ "$(sign_calls)" -eq 1 ]'
expect "... after two refused attempts" [ "$(log_count "e['op']=='sign' and e['status']==503")" -eq 2 ]
kvctl reset >/dev/null
kvctl faults set --ops sign --drop 1 >/dev/null
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/t4.kvs" "$D/c"
expect "a dropped sign connection: retried" [ "$RC" -eq 0 ]
kvctl reset >/dev/null
run verify --require-signer "$SIG" "$D/t1.kvs" "$D/t2.kvs" "$D/t3.kvs" "$D/t4.kvs"
expect "the files signed after retries verify" [ "$RC" -eq 0 ]

# -- rotation: versionless accepts any version, versioned only its own
S2=$(kvctl --field key.kid keys rotate sig)
run encrypt --sign "$SIG" -r "$WRAP" -o "$D/new.kvs" "$D/c"
expect "after rotation a new file is signed with the new version" \
    eval '[ "$RC" -eq 0 ] && [ "$S1" != "$S2" ] && "$KVSEAL_BIN" inspect "$D/new.kvs" 2>/dev/null | grep -q "$S2"'
run verify --require-signer "$SIG" "$D/a.kvs" "$D/new.kvs"
expect "versionless --require-signer accepts both versions" [ "$RC" -eq 0 ]
run verify --require-signer "$S1" "$D/new.kvs"
expect "versioned --require-signer refuses another version (exit 2)" [ "$RC" -eq 2 ]
expect "... naming what the file has and what was required" \
    eval 'has "$ERR" "$S2" && has "$ERR" "$S1"'
run decrypt --require-signer "$S1" -o "$D/out/new" "$D/new.kvs"
expect "decrypt under another version's requirement: exit 2, no output" \
    eval '[ "$RC" -eq 2 ] && [ ! -e "$D/out/new" ]'
run verify --require-signer "$S2" "$D/new.kvs"
expect "the new version's own requirement accepts it" [ "$RC" -eq 0 ]
run verify --require-signer "$VAULT/keys/sig384" "$D/a.kvs"
expect "another signing key is refused (exit 2)" [ "$RC" -eq 2 ]
run encrypt -r "$WRAP" -o "$D/unsigned.kvs" "$D/c"
run verify --require-signer "$SIG" "$D/unsigned.kvs"
expect "an unsigned file under --require-signer: exit 2" [ "$RC" -eq 2 ]

# -- other signing keys: P-384 (ES384), RSA-3072 (PS256)
run encrypt --sign "$VAULT/keys/sig384" -r "$WRAP" -o "$D/p384.kvs" "$D/b"
expect "an EC-HSM P-384 signing key" \
    eval '[ "$RC" -eq 0 ] && "$KVSEAL_BIN" verify --require-signer "$VAULT/keys/sig384" "$D/p384.kvs" 2>/dev/null'
run encrypt --sign "$VAULT/keys/rsasig" -r "$WRAP" -o "$D/rsa.kvs" "$D/b"
expect "an RSA-3072 signing key" \
    eval '[ "$RC" -eq 0 ] && "$KVSEAL_BIN" verify --require-signer "$VAULT/keys/rsasig" "$D/rsa.kvs" 2>/dev/null'

# -- key separation: exit 3 (the key is unfit, as for a wrong kty or key_ops)
log_clear
run encrypt --sign "$VAULT/keys/wrap2" -r "$WRAP" -o "$D/sep1.kvs" "$D/c"
expect "an RSA wrapping key as signer: exit 3" eval '[ "$RC" -eq 3 ] && has "$ERR" "does not allow sign"'
run encrypt --sign "$VAULT/keys/allops" -r "$WRAP" -o "$D/sep2.kvs" "$D/c"
expect "a key that may sign and wrap, as signer: exit 3, says why" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "a signing key must not also wrap data keys"'
run encrypt -r "$SIG" -o "$D/sep3.kvs" "$D/c"
expect "an EC signing key as recipient: exit 3, says why" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "a signing key"'
run encrypt -r "$VAULT/keys/allops" -o "$D/sep4.kvs" "$D/c"
expect "a key that may wrap and sign, as recipient: exit 3, says why" \
    eval '[ "$RC" -eq 3 ] && has "$ERR" "a wrapping key must not be a signing key"'
expect "no sign call was made for refused keys" [ "$(log_count "e['op']=='sign'")" -eq 0 ]
expect "no output file appeared for refused keys" \
    eval '[ ! -e "$D/sep1.kvs" ] && [ ! -e "$D/sep2.kvs" ] && [ ! -e "$D/sep3.kvs" ] && [ ! -e "$D/sep4.kvs" ]'

finish
