#!/usr/bin/env bash
# The cost of signed files (issue 14, item 5): signed against unsigned
# kvseal, file to file, in the same rounds, plus the in-memory engine from
# `kvseal bench --json` and the Key Vault `sign` calls per file.
#
#   bash bench/sign.sh [--quick] [--size-mib N] [--runs N] [options]
#
# Every round runs every case once, the order of signed and unsigned
# alternating between rounds. The target (signed encrypt and --require-signer
# decrypt at >= 0.75x the unsigned speed) is checked on the median over rounds
# of the ratios measured within a round. Writes
# bench/results/<date>-<host>-sign.{json,md} and prints PASS/FAIL per target;
# a missed target is not an error (exit 0), a benchmark that could not run is
# (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3

usage() {
    cat <<'EOF'
Usage: bash bench/sign.sh [options]
  --size-mib N   size of the random test file (default 1024)
  --runs N       rounds; medians are taken over them (default 3)
  --quick        256 MiB (unless --size-mib), 2 rounds (unless --runs),
                 results named <date>-<host>-sign-quick
  --kv-files N   files encrypted with a Key Vault signing key (default 5)
  --no-kv        skip the Key Vault part (no local test server)
  --hold-freed-memory
                 (root, on a VM with virtio free page reporting at
                 min_free_ms 0) keep freed memory in the guest for the run,
                 as bench/run.sh does (docs/PERFORMANCE.md): otherwise every
                 output written into just-freed memory may fault into the
                 host, and which case meets that is chance
  --dir DIR      where the test files go (default $KVSEAL_BENCH_DIR or
                 /dev/shm); needs about 4 x size free
  --kvseal PATH  kvseal binary (default $KVSEAL_BIN, else a Release build
                 made in build/bench)
  --out DIR      results directory (default bench/results)
EOF
}
die() {
    echo "bench/sign: $*" >&2
    exit 2
}
# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

SIZE_MIB=1024
RUNS=3
QUICK=0
HOLD_FREED=0
KV_FILES=5
DIR=${KVSEAL_BENCH_DIR:-/dev/shm}
KVSEAL=${KVSEAL_BIN:-}
OUT=bench/results
size_given=0
runs_given=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --size-mib) posint "$1" "${2-}"; SIZE_MIB=$2; size_given=1; shift 2 ;;
    --runs) posint "$1" "${2-}"; RUNS=$2; runs_given=1; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --kv-files) posint "$1" "${2-}"; KV_FILES=$2; shift 2 ;;
    --no-kv) KV_FILES=0; shift ;;
    --hold-freed-memory) HOLD_FREED=1; shift ;;
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    --kvseal) KVSEAL=${2:?--kvseal needs a path}; shift 2 ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[[ $QUICK -eq 0 || $size_given -eq 1 ]] || SIZE_MIB=256
[[ $QUICK -eq 0 || $runs_given -eq 1 ]] || RUNS=2
BYTES=$((SIZE_MIB * 1048576))
BENCH_MIB=$((SIZE_MIB < 1024 ? SIZE_MIB : 1024)) # kvseal bench holds 3 copies in memory

# ---- tools -----------------------------------------------------------------

[[ -x /usr/bin/time ]] || die "GNU time is missing: run 'bash bench/install-competitors.sh' (Debian package 'time')"
command -v openssl >/dev/null || die "openssl is missing"
if [[ -z $KVSEAL ]]; then
    log "building kvseal (Release, build/bench)"
    cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DKVSEAL_TESTS=OFF >/dev/null ||
        die "cmake failed (run 'bash scripts/install-deps.sh' first?)"
    cmake --build build/bench -j"$(nproc)" >/dev/null || die "build failed"
    KVSEAL=$ROOT/build/bench/kvseal
fi
[[ -x $KVSEAL ]] || die "no kvseal binary at $KVSEAL"
KVSEAL=$(realpath "$KVSEAL")
if [[ $KV_FILES -gt 0 ]]; then
    "$PY" -c 'import cryptography' 2>/dev/null ||
        die "$PY cannot import cryptography (Debian package python3-cryptography; or --no-kv)"
fi

# ---- work directory ----------------------------------------------------------

[[ -d $DIR && -w $DIR ]] || die "$DIR is not a writable directory"
W=$(mktemp -d "$DIR/kvseal-sign-bench.XXXXXX")
KV_PID=
cleanup() {
    if [[ -n $KV_PID ]]; then
        kill "$KV_PID" 2>/dev/null || true
        wait "$KV_PID" 2>/dev/null || true
    fi
    restore_freed_memory
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
need=$((4 * SIZE_MIB + 256))
[[ $(avail_mib "$W") -ge $need ]] || die "$DIR has less than $need MiB free (needs 4 x --size-mib)"

SAMPLES=$W/samples.tsv # id round bytes wall_us user_s sys_s maxrss_kb
NOTES=$W/notes.tsv
: >"$SAMPLES"
: >"$NOTES"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# The busiest other processes (what shares the machine with the benchmark).
others() { ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{ printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1 }'; }

MEASURE_ON_FAIL=die # a failed case ends the run

# ---- data and keys -------------------------------------------------------------

PUB=$ROOT/tests/keys/rsa2048-a.pub.pem # test-only keys (tests/keys/README.md)
KEY=$ROOT/tests/keys/rsa2048-a.pem
SIGN=$ROOT/tests/keys/ec-p256.pem
SIGN_PUB=$ROOT/tests/keys/ec-p256.pub.pem
log "kvseal $("$KVSEAL" --version | head -1)"
log "test file: $SIZE_MIB MiB of random data in $W; $RUNS rounds"
IN=$W/in
head -c "$BYTES" /dev/urandom >"$IN"
U=$W/unsigned.kvs
S=$W/signed.kvs
OUTF=$W/out

same() { cmp -s "$IN" "$OUTF" || die "$1: the decrypted bytes differ from the input"; }

enc_unsigned() { rm -f "$U"; measure encrypt/unsigned "$1" "$BYTES" "$KVSEAL" encrypt -r "$PUB" -o "$U" "$IN"; }
enc_signed() { rm -f "$S"; measure encrypt/signed "$1" "$BYTES" "$KVSEAL" encrypt -r "$PUB" --sign "$SIGN" -o "$S" "$IN"; }
dec_unsigned() {
    rm -f "$OUTF"
    measure decrypt/unsigned "$1" "$BYTES" "$KVSEAL" decrypt -k "$KEY" -o "$OUTF" "$U"
    [[ $1 -gt 1 ]] || same "decrypt (unsigned)"
}
dec_required() {
    rm -f "$OUTF"
    measure decrypt/require-signer "$1" "$BYTES" "$KVSEAL" decrypt -k "$KEY" --require-signer "$SIGN_PUB" -o "$OUTF" "$S"
    [[ $1 -gt 1 ]] || same "decrypt --require-signer"
}
# A signed file restored without --require-signer: nothing to verify, so
# nothing should be hashed.
dec_not_required() {
    rm -f "$OUTF"
    measure decrypt/signed-not-required "$1" "$BYTES" "$KVSEAL" decrypt -k "$KEY" -o "$OUTF" "$S"
    rm -f "$OUTF"
}
# Authorship without any decryption key: every stored chunk hashed, no decryption.
verify_keyless() { measure verify/keyless "$1" "$BYTES" "$KVSEAL" verify --require-signer "$SIGN_PUB" "$S"; }
# Yardstick: one core's SHA-256 over the same file.
sha_yardstick() { measure yardstick/openssl-dgst-sha256 "$1" "$BYTES" openssl dgst -sha256 "$IN"; }

round() {
    local r=$1
    log "round $r/$RUNS (load $(loadavg))"
    note "load_round_$r" "$(loadavg); busiest: $(others)"
    if ((r % 2)); then
        enc_unsigned "$r"; enc_signed "$r"
        dec_unsigned "$r"; dec_required "$r"
    else
        enc_signed "$r"; enc_unsigned "$r"
        dec_required "$r"; dec_unsigned "$r"
    fi
    dec_not_required "$r"
    verify_keyless "$r"
    sha_yardstick "$r"
}

# openssl speed -elapsed (wall-clock rate) on 1 MiB blocks, one process.
speed() {
    openssl speed -elapsed -seconds "$1" -bytes 1048576 -evp "$2" 2>/dev/null |
        awk -v alg="$3" 'toupper($1) == alg { v = $2 } END { sub(/k$/, "", v); printf "%.0f\n", v * 1000 }'
}

# ---- Key Vault sign calls ------------------------------------------------------

# A local kvserver (tests/kv-server) with an EC P-256 key `sig` (key_ops
# sign, verify): KV_FILES files encrypted in one process, then KV_FILES
# processes of one file each; the server's request log counts the `sign`
# operations (it is the vault's own count, not kvseal's).
kv_part() {
    local sd=$W/kv i port vault p
    mkdir -p "$sd"
    "$PY" tests/kv-server/kvserver.py --state-dir "$sd" --key-pool '' >"$W/kv.log" 2>&1 &
    KV_PID=$!
    for i in $(seq 1 300); do
        [[ -s $sd/server.json ]] && break
        kill -0 "$KV_PID" 2>/dev/null || die "kvserver exited: $(tail -3 "$W/kv.log")"
        sleep 0.1
    done
    [[ -s $sd/server.json ]] || die "kvserver did not start: $(tail -3 "$W/kv.log")"
    kvctl() { "$PY" tests/kv-server/kvctl.py --state-dir "$sd" "$@"; }
    (umask 077 && printf 's3cret\n' >"$W/kv.secret")
    kvctl clients add --client-id app1 --secret-file "$W/kv.secret" --permissions full >/dev/null
    kvctl keys create sig --kty EC --crv P-256 --ops sign,verify >/dev/null
    port=$(kvctl info port)
    vault=https://localhost:$port
    mkdir -p "$W/kvin" "$W/kvout"
    for ((i = 1; i <= KV_FILES; i++)); do head -c 1048576 "$IN" >"$W/kvin/f$i"; done
    # Only what the vault needs (nothing from the caller's environment chooses
    # a credential, a host or a CA).
    kvrun() {
        env -i PATH=/usr/bin:/bin HOME="$W" KVSEAL_CA_FILE="$sd/ca.pem" KVSEAL_ALLOWED_HOSTS="localhost:$port" \
            AZURE_AUTHORITY_HOST="$vault" AZURE_CLIENT_ID=app1 AZURE_CLIENT_SECRET=s3cret "$KVSEAL" "$@"
    }
    ops() { # ops LABEL: the request log's counts per operation, then clear it
        kvctl log | "$PY" -c '
import collections, json, sys
c = collections.Counter(e["op"] + ("" if e.get("status") == 200 else "/%s" % e.get("status")) for e in json.load(sys.stdin))
print(sys.argv[1] + "\t" + json.dumps(dict(sorted(c.items()))))' "$1" >>"$W/kv.tsv"
        kvctl log clear >/dev/null
    }
    : >"$W/kv.tsv"
    kvctl log clear >/dev/null
    t0=$(now_us)
    kvrun encrypt -r "$PUB" --sign "$vault/keys/sig" -o "$W/kvout" "$W"/kvin/f* >/dev/null 2>"$W/kv.err" ||
        die "encrypt --sign (Key Vault) failed: $(tail -3 "$W/kv.err")"
    printf 'one-process-wall-us\t%s\n' $(($(now_us) - t0)) >>"$W/kv.tsv"
    ops "one-process/$KV_FILES-files"
    t0=$(now_us)
    for ((i = 1; i <= KV_FILES; i++)); do
        rm -f "$W/kvout/f$i.kvs"
        kvrun encrypt -r "$PUB" --sign "$vault/keys/sig" -o "$W/kvout/f$i.kvs" "$W/kvin/f$i" >/dev/null 2>"$W/kv.err" ||
            die "encrypt --sign (Key Vault, file $i) failed: $(tail -3 "$W/kv.err")"
    done
    printf 'processes-wall-us\t%s\n' $(($(now_us) - t0)) >>"$W/kv.tsv"
    ops "processes/$KV_FILES-files"
    # a restore that requires the vault key signs nothing (verify is local)
    for p in "$W"/kvout/f*.kvs; do
        kvrun verify --require-signer "$vault/keys/sig" "$p" >/dev/null 2>"$W/kv.err" ||
            die "verify --require-signer (Key Vault) failed: $(tail -3 "$W/kv.err")"
    done
    ops "verify/$KV_FILES-files"
    kill "$KV_PID" 2>/dev/null || true
    wait "$KV_PID" 2>/dev/null || true
    KV_PID=
}

# ---- run -----------------------------------------------------------------------

[[ $HOLD_FREED -eq 0 ]] || hold_freed_memory
note_freed_memory
note load_before "$(loadavg); busiest: $(others)"
note kvseal_options "defaults: --threads $(nproc) (online CPUs), 1 MiB chunks; recipient RSA-2048, signer EC P-256 ES256 (tests/keys)"
START=$(date +%s)
for ((r = 1; r <= RUNS; r++)); do round "$r"; done
rm -f "$U" "$S" "$OUTF" # kvseal bench makes 4 files of its own and holds 3 buffers
log "kvseal bench --json --size $BENCH_MIB (in memory and file to file, signed and unsigned alternating)"
note load_bench "$(loadavg)"
"$KVSEAL" bench --json --seconds 2 --size "$BENCH_MIB" --dir "$W" >"$W/bench.json" 2>"$W/bench.err" ||
    die "kvseal bench failed: $(tail -3 "$W/bench.err")"
log "openssl speed (1 MiB blocks, 1 process)"
printf 'aes-256-gcm\t%s\n' "$(speed 2 aes-256-gcm AES-256-GCM)" >"$W/speed.tsv"
printf 'sha256\t%s\n' "$(speed 2 sha256 SHA256)" >>"$W/speed.tsv"
if [[ $KV_FILES -gt 0 ]]; then
    log "Key Vault signing key: $KV_FILES files in one process, then $KV_FILES processes"
    kv_part
else
    note kv "not measured (--no-kv)"
fi
note load_after "$(loadavg); busiest: $(others)"
note seconds $(($(date +%s) - START))

# ---- report --------------------------------------------------------------------

STAMP=$(date +%Y-%m-%d)
HOST=$(hostname -s 2>/dev/null || hostname)
BASE=$OUT/$STAMP-$HOST-sign$([[ $QUICK -eq 0 ]] || echo -quick)
mkdir -p "$OUT"
{
    echo "kvseal	$("$KVSEAL" --version | head -1)"
    echo "commit	$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -z $(git status --porcelain --untracked-files=no 2>/dev/null) ]] || echo ' (modified)')"
    echo "openssl	$(openssl version)"
    echo "kernel	$(uname -sr)"
    echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) online)"
    echo "sha_ni	$(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
    echo "dir	$DIR ($(df -PT "$DIR" | awk 'NR == 2 { print $2 }'))"
} >"$W/versions.tsv"
"$PY" bench/sign_report.py --work "$W" --size "$BYTES" --runs "$RUNS" --quick "$QUICK" \
    --kv-files "$KV_FILES" --threads "$(nproc)" --json "$BASE.json" --md "$BASE.md" || die "report failed"
log "wrote $BASE.json and $BASE.md"
