#!/usr/bin/env bash
# The CLI is a client of the public API only: src/cli includes no internal
# header. And the places that used internal helpers before keep working:
# audit's kvseal-file test and UTF-8 check, bench's AES-GCM and data setup,
# job errors the CLI reports through kvs_error.
#
# Needs: KVSEAL_BIN; KVSEAL_SRC; openssl.
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
SRC=${KVSEAL_SRC:?set KVSEAL_SRC to the source tree}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# ------------------------------------------------------------ includes
internal=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$SRC"/src/cli/*.[ch] |
    grep -v '"cli/[a-z_]*\.h"\|"kvseal/[a-z_]*\.h"' || true)
if [[ -z $internal ]]; then pass; else fail "src/cli includes internal headers: $internal"; fi
check "the include check sees the CLI's includes" grep -q '"kvseal/kvseal.h"' "$SRC/src/cli/cli.h"

# ------------------------------------------------------------ audit, offline
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/k.pem" 2>/dev/null
mkdir "$W/tree"
printf 'hello' >"$W/p"
"$BIN" encrypt -r "$W/k.pem" -o "$W/tree/caf$(printf '\xc3\xa9').kvs" "$W/p"
"$BIN" encrypt -r "$W/k.pem" -o "$W/tree/raw$(printf '\xff').kvs" "$W/p"
printf 'not kvseal at all' >"$W/tree/notes.txt"
# A kvseal magic with another version byte: a kvseal file, not a valid one.
printf 'KVSEAL\000\002xxxxxxxxxxxx' >"$W/tree/v2.kvs"
run "$BIN" audit --json "$W/tree"
check "audit: exit 2 (one invalid file)" test "$RC" -eq 2
"${KVSEAL_PYTHON:-/usr/bin/python3}" - "$W/stdout" >"$W/verdicts" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
for f in d["files"]:
    print(f["path"].rsplit("/", 1)[1], f["verdict"])
print("skipped", d["summary"]["skipped_not_kvseal"])
EOF
check "audit: valid UTF-8 path kept" grep -qx "café.kvs offline-only" "$W/verdicts"
check "audit: other bytes become '?'" grep -qx "raw?.kvs offline-only" "$W/verdicts"
check "audit: another version is invalid" grep -qx "v2.kvs invalid" "$W/verdicts"
check "audit: a non-kvseal file is skipped" grep -qx "skipped 1" "$W/verdicts"

# ------------------------------------------------------------ job errors
mkdir "$W/dir"
run "$BIN" decrypt -k "$W/k.pem" "$W/dir"
check "directory input: exit 4" test "$RC" -eq 4
check "directory input: message" grep -q "input is a directory" "$W/stderr"
run "$BIN" decrypt -k "$W/k.pem" --offset 1 < <(cat "$W/tree/café.kvs")
check "range on a pipe: exit 1" test "$RC" -eq 1
check "range on a pipe: message" grep -q "need a seekable input file" "$W/stderr"
run "$BIN" encrypt -r "" "$W/p"
check "empty key argument: exit 1" test "$RC" -eq 1
check "empty key argument: message" grep -q "empty key argument" "$W/stderr"

# ------------------------------------------------------------ bench, small
run "$BIN" bench --json --seconds 1 --size 1 --threads 1 --dir "$W"
check "bench: exit 0" test "$RC" -eq 0
"${KVSEAL_PYTHON:-/usr/bin/python3}" - "$W/stdout" <<'EOF' && pass || fail "bench: rates"
import json, sys
d = json.load(open(sys.argv[1]))
assert all(g["gbps"] > 0 for g in d["gcm_by_chunk"]), d["gcm_by_chunk"]
assert d["gcm_by_threads"][0]["gbps"] > 0
assert d["engine_memory"][0]["encrypt_gbps"] > 0 and d["rsa4096"]["unwrap_ops"] > 0
s = d["signed"]
assert s["alg"] == "ES256", s
for where in ("memory", "file"):
    u, g = s[where]["unsigned"], s[where]["signed"]
    assert min(u["encrypt_gbps"], u["decrypt_gbps"], g["encrypt_gbps"], g["decrypt_gbps"]) > 0, s
    assert u["signatures"] == 0 and g["files"] >= 1 and g["signatures"] == g["files"], s
    assert abs(s[where]["encrypt_ratio"] - g["encrypt_gbps"] / u["encrypt_gbps"]) < 1e-6, s
assert s["signatures_per_file"] == 1, s
assert s["verify"]["runs"] >= 1 and s["verify"]["seconds_per_file"] > 0, s
assert s["ecdsa_p256"]["verify_ops"] > 0 and s["sha256_gbps"]["threads_1"] > 0, s
EOF

summary
