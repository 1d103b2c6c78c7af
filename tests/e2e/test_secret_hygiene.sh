#!/usr/bin/env bash
# Secret hygiene of the CLI (issue 6):
#  (a) no option takes a secret value: every command's --help is read and any
#      option whose name suggests a secret must name a file or an environment
#      variable (--passphrase-file F / --passphrase-env NAME); options such as
#      --passphrase, --password, --secret or --token are refused;
#  (b) failing (and succeeding) runs at -v never print the passphrase, the
#      data key (DEK) or the keys derived from it, in any common encoding: the
#      test recovers the DEK itself (Python + cryptography) from the file;
#  (c) the process refuses core dumps: RLIMIT_CORE is 0 and the process is not
#      dumpable (checked while kvseal waits on a FIFO).
#
# Needs: KVSEAL_BIN, KVSEAL_PYTHON (with python3-cryptography).
# shellcheck disable=SC2016
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
chmod 755 "$W"
BGPIDS=()
cleanup() {
    for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# ------------------------------------------------------------ (a) options
commands=$("$BIN" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[[ -n $commands ]] || fail "no commands found in 'kvseal --help'"
for c in $commands; do
    if ! "$BIN" "$c" --help >"$W/help.$c" 2>&1; then
        fail "$c --help failed"
        continue
    fi
    # "--name VALUE" pairs of the option lines.
    bad=$(grep -oE -- '--[a-z0-9-]+( [A-Z][A-Z_=]*)?' "$W/help.$c" | awk '
        { name = $1; val = $2 }
        name ~ /pass|secret|token|password|pwd|pin|dek|private/ {
            if (val == "") next                       # a flag takes no value
            if (val ~ /^(N|SIZE|T|DAYS)$/) next      # a number (--share-dek-max-files N)
            if (name ~ /-(file|env)$/ && val ~ /^(F|FILE|V|VAR|NAME|ENV)$/) next
            print name " " val
        }')
    if [[ -n $bad ]]; then
        fail "$c: option(s) that may take a secret on the command line: $bad"
    else
        pass
    fi
    # Options that would take a secret value must not exist (not even as an
    # abbreviation getopt_long would accept).
    for opt in --passphrase --password --pass --secret --token --client-secret --key-password; do
        run "$BIN" "$c" "$opt" hunter2-secret-value
        if [[ $RC -ne 1 ]]; then
            fail "$c $opt VALUE: exit $RC, expected 1 (unknown option)"
        elif grep -q 'hunter2-secret-value' "$W/stdout" "$W/stderr"; then
            fail "$c $opt VALUE: the value was echoed: $(cat "$W/stderr")"
        else
            pass
        fi
    done
done

# ------------------------------------------------------------ (b) no leaks
PASSPHRASE=$(cat "$TEST_KEY_PASSPHRASE_FILE") # of the checked-in rsa2048-enc key
printf '%s\n' "$PASSPHRASE" >"$W/pass"
printf 'wrong-%s\n' "$PASSPHRASE" >"$W/badpass"
export KVSEAL_TEST_PASS=$PASSPHRASE
test_key rsa2048-enc "$W/kp.pem" "$W/kp.pub"
test_key rsa2048-b "$W/other.pem"
head -c 300000 /dev/urandom >"$W/plain"
"$BIN" -q encrypt -r "$W/kp.pub" --chunk-size 64K --context purpose=hygiene -o "$W/good.kvs" "$W/plain"

# The secrets of good.kvs as the test knows them, one "name hex" per line.
"$PY" - "$W/kp.pem" "$PASSPHRASE" "$W/good.kvs" >"$W/secrets" <<'EOF'
import base64, json, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), sys.argv[2].encode())
data = open(sys.argv[3], "rb").read()
n = struct.unpack(">I", data[8:12])[0]
hdr = json.loads(data[12:12 + n])
b64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
r = hdr["recipients"][0]
dek = key.decrypt(b64(r["wrapped_key"]),
                  padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
assert len(dek) == 32
salt = b64(hdr["salt"])
def hkdf(info):
    return HKDF(hashes.SHA256(), 32, salt, info).derive(dek)
print("dek", dek.hex())
print("header_key", hkdf(b"kvseal/v1/header").hex())
print("payload_key", hkdf(b"kvseal/v1/payload").hex())
d = key.private_numbers().d
print("rsa_d_prefix", d.to_bytes((d.bit_length() + 7) // 8, "big")[:24].hex())
EOF

# check_no_secrets NAME FILE...: none of the secrets, in any common encoding
# (raw, hex either case, base64, base64url; also an 8-byte prefix in hex and
# base64url, to catch truncated prints) and not the passphrase.
check_no_secrets() {
    local name=$1
    shift
    local found
    found=$("$PY" - "$W/secrets" "$PASSPHRASE" "$@" <<'EOF'
import base64, sys
secrets = [l.split() for l in open(sys.argv[1]) if l.strip()]
needles = [("passphrase", sys.argv[2].encode())]
for what, hx in secrets:
    raw = bytes.fromhex(hx)
    for form, enc in (("raw", raw), ("hex", hx.encode()), ("HEX", hx.upper().encode()),
                      ("b64", base64.b64encode(raw).rstrip(b"=")),
                      ("b64url", base64.urlsafe_b64encode(raw).rstrip(b"=")),
                      ("hex8", raw[:8].hex().encode()),
                      ("b64url8", base64.urlsafe_b64encode(raw[:9]).rstrip(b"="))):
        needles.append((f"{what}/{form}", enc))
hits = []
for path in sys.argv[3:]:
    blob = open(path, "rb").read()
    hits += [f"{what} in {path.rsplit('/', 1)[-1]}" for what, n in needles if n in blob]
print("; ".join(hits))
EOF
)
    if [[ -n $found ]]; then
        fail "$name: secret material in the output: $found"
    else
        pass
    fi
}

# leakcheck NAME CMD...: run at -v (the global flag), expect a failure, check.
leakcheck() {
    local name=$1
    shift
    run "$BIN" -v "$@"
    if [[ $RC -eq 0 ]]; then
        fail "$name: expected a failure, got exit 0"
    else
        pass
    fi
    check_no_secrets "$name" "$W/stdout" "$W/stderr"
}

# Damaged copies of good.kvs.
"$PY" - "$W" <<'EOF'
import struct, sys
w = sys.argv[1]
d = bytearray(open(f"{w}/good.kvs", "rb").read())
n = struct.unpack(">I", d[8:12])[0]
def save(name, b):
    open(f"{w}/{name}", "wb").write(bytes(b))
c = bytearray(d); c[12 + n // 2] ^= 1; save("hdr-flip.kvs", c)           # header JSON byte
c = bytearray(d); c[12 + n + 5] ^= 1; save("tag-flip.kvs", c)            # header tag
c = bytearray(d); c[12 + n + 32 + 70000] ^= 1; save("chunk-flip.kvs", c) # chunk 1
c = bytearray(d); c[-3] ^= 1; save("last-flip.kvs", c)                   # final chunk
save("truncated.kvs", d[:len(d) - 1000])
save("cut-chunk.kvs", d[:12 + n + 32 + 65552])                           # ends after chunk 0
save("trailing.kvs", d + b"x")
save("prefix.kvs", d[:30])
EOF
P=(--passphrase-file "$W/pass")
O=$W/out
mkdir "$O"

leakcheck "wrong key" decrypt -k "$W/other.pem" -o "$O/x" "$W/good.kvs"
leakcheck "wrong passphrase" decrypt -k "$W/kp.pem" --passphrase-file "$W/badpass" -o "$O/x" "$W/good.kvs"
leakcheck "no passphrase" decrypt -k "$W/kp.pem" -o "$O/x" "$W/good.kvs"
leakcheck "passphrase env unset" decrypt -k "$W/kp.pem" --passphrase-env KVSEAL_NO_SUCH_VAR -o "$O/x" "$W/good.kvs"
leakcheck "passphrase file missing" decrypt -k "$W/kp.pem" --passphrase-file "$W/nope" -o "$O/x" "$W/good.kvs"
leakcheck "passphrase file is a directory" decrypt -k "$W/kp.pem" --passphrase-file "$W" -o "$O/x" "$W/good.kvs"
{ head -c 5000 /dev/zero | tr '\0' A; printf '%s' "$PASSPHRASE"; } >"$W/longpass"
leakcheck "passphrase too long" decrypt -k "$W/kp.pem" --passphrase-file "$W/longpass" -o "$O/x" "$W/good.kvs"
for f in hdr-flip tag-flip chunk-flip last-flip truncated cut-chunk trailing prefix; do
    leakcheck "decrypt $f" decrypt -k "$W/kp.pem" "${P[@]}" -o "$O/x" "$W/$f.kvs"
    leakcheck "decrypt $f to stdout" decrypt -k "$W/kp.pem" --passphrase-env KVSEAL_TEST_PASS -o - "$W/$f.kvs"
    leakcheck "verify $f" verify -k "$W/kp.pem" "${P[@]}" "$W/$f.kvs"
done
leakcheck "wrong context" decrypt -k "$W/kp.pem" "${P[@]}" --context purpose=other -o "$O/x" "$W/good.kvs"
leakcheck "range past the end" decrypt -k "$W/kp.pem" "${P[@]}" --offset 999999999 -o "$O/x" "$W/good.kvs"
leakcheck "existing output" decrypt -k "$W/kp.pem" "${P[@]}" -o "$W/plain" "$W/good.kvs"
leakcheck "encrypt with wrong passphrase" encrypt -r "$W/kp.pem" --passphrase-file "$W/badpass" -o "$O/y" "$W/plain"
leakcheck "keygen over an existing file" keygen --bits 2048 "${P[@]}" -o "$W/kp.pem"
leakcheck "bad option value" decrypt -k "$W/kp.pem" "${P[@]}" --threads many "$W/good.kvs"
leakcheck "Key Vault key refused" decrypt -k "https://evil.example/keys/k/1" "${P[@]}" -o "$O/x" "$W/good.kvs"
# Successful runs at -v must not print secrets either.
run "$BIN" -v decrypt -k "$W/kp.pem" "${P[@]}" -o "$O/ok" "$W/good.kvs"
if [[ $RC -eq 0 ]]; then pass; else fail "verbose decrypt failed: $(cat "$W/stderr")"; fi
check_no_secrets "verbose decrypt" "$W/stdout" "$W/stderr"
run "$BIN" -v verify -k "$W/kp.pem" --passphrase-env KVSEAL_TEST_PASS "$W/good.kvs"
check_no_secrets "verbose verify" "$W/stdout" "$W/stderr"
run "$BIN" -v inspect --json "$W/good.kvs"
check_no_secrets "inspect --json" "$W/stdout" "$W/stderr"
left=$(find "$O" -mindepth 1 ! -name ok)
if [[ -n $left ]]; then
    fail "failed runs left files in the output directory: $left"
else
    pass
fi

# ------------------------------------------------------------ (c) core dumps
AS_NOBODY=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null 2>&1 &&
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
cp "$W/other.pem" "$W/other-open.pem"
chmod 644 "$W/other-open.pem"
mkfifo -m 666 "$W/fifo"
# kvseal loads the key, then blocks opening the FIFO (no writer yet).
(ulimit -c unlimited 2>/dev/null || true
 exec "${AS_NOBODY[@]}" "$BIN" decrypt -k "$W/other-open.pem" -o - "$W/fifo" >/dev/null 2>&1) &
pid=$!
BGPIDS+=("$pid")
core=""
for _ in $(seq 500); do
    # The child is the shell until it execs kvseal.
    if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$BIN")" ]] &&
        grep -q '^Max core file size' "/proc/$pid/limits" 2>/dev/null; then
        sleep 0.2 # past main()'s first lines
        core=$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$pid/limits")
        owner=$(stat -c %U "/proc/$pid/status" 2>/dev/null || echo "?")
        break
    fi
    sleep 0.01
done
if [[ -z $core ]]; then
    fail "core dumps: could not observe the kvseal process"
elif [[ $core != "0 0" ]]; then
    fail "core dumps: RLIMIT_CORE is '$core' (soft hard), expected '0 0'"
else
    pass
fi
# A non-dumpable process's /proc files belong to root, whoever runs it.
if [[ ${#AS_NOBODY[@]} -gt 0 && -n $core ]]; then
    if [[ $owner == root ]]; then pass; else
        fail "core dumps: /proc/PID belongs to '$owner': the process is still dumpable"
    fi
elif [[ -n $core ]]; then
    echo "skip: dumpable check (needs root and setpriv to run kvseal as another user)"
fi
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

summary
