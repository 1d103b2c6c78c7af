#!/usr/bin/env bash
# kvseal to and from Blob Storage against Microsoft's Python SDK, on the same
# Azurite, the same plaintext, in the same run (issue 13, item 7).
#
#   bash bench/blob.sh [--quick] [--size-mib N] [--runs N] [options]
#
# Every round runs every case once (the order alternates between rounds), on
# a fresh Azurite (in-memory: a restart is what frees its memory). Targets
# are checked as medians over rounds of ratios measured within a round.
# Writes bench/results/<date>-<host>-blob.{json,md} and prints PASS/FAIL per
# target; a missed target is not an error (exit 0), a benchmark that could
# not run is (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3

usage() {
    cat <<'EOF'
Usage: bash bench/blob.sh [options]
  --size-mib N   size of the random test file (default 1024)
  --runs N       rounds; medians are taken over them (default 3)
  --quick        256 MiB (unless --size-mib), results named <date>-<host>-blob-quick
  --rss-4g       also measure kvseal's peak RSS for a 4 GiB blob (about
                 +1 minute; needs 4 GiB more free in --dir and ~5 GiB of RAM
                 for Azurite)
  --dir DIR      where the test files go (default $KVSEAL_BENCH_DIR or
                 /dev/shm); needs about 3 x size free
  --kvseal PATH  kvseal binary (default $KVSEAL_BIN, else a Release build
                 made in build/bench)
  --out DIR      results directory (default bench/results)
EOF
}
die() {
    echo "bench/blob: $*" >&2
    exit 2
}
# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

SIZE_MIB=1024
RUNS=3
QUICK=0
RSS4G=0
DIR=${KVSEAL_BENCH_DIR:-/dev/shm}
KVSEAL=${KVSEAL_BIN:-}
OUT=bench/results
size_given=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --size-mib) posint "$1" "${2-}"; SIZE_MIB=$2; size_given=1; shift 2 ;;
    --runs) posint "$1" "${2-}"; RUNS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --rss-4g) RSS4G=1; shift ;;
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    --kvseal) KVSEAL=${2:?--kvseal needs a path}; shift 2 ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[[ $QUICK -eq 0 || $size_given -eq 1 ]] || SIZE_MIB=256
BYTES=$((SIZE_MIB * 1048576))
RSS_SMALL_MIB=100

# ---- tools -----------------------------------------------------------------

[[ -x /usr/bin/time ]] || die "GNU time is missing: run 'bash bench/install-competitors.sh' (Debian package 'time')"
"$PY" -c 'import azure.storage.blob' 2>/dev/null ||
    die "$PY cannot import azure.storage.blob (Debian package python3-azure)"
if [[ -z $KVSEAL ]]; then
    log "building kvseal (Release, build/bench)"
    cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DKVSEAL_TESTS=OFF >/dev/null ||
        die "cmake failed (run 'bash scripts/install-deps.sh' first?)"
    cmake --build build/bench -j"$(nproc)" >/dev/null || die "build failed"
    KVSEAL=$ROOT/build/bench/kvseal
fi
[[ -x $KVSEAL ]] || die "no kvseal binary at $KVSEAL"
KVSEAL=$(realpath "$KVSEAL")

export KVSEAL_SRC=$ROOT KVSEAL_PYTHON=$PY
# shellcheck source=tests/e2e/lib/azurite.sh
. tests/e2e/lib/azurite.sh
ALLOWED_BEFORE=${KVSEAL_ALLOWED_HOSTS-}

# ---- work directory ----------------------------------------------------------

[[ -d $DIR && -w $DIR ]] || die "$DIR is not a writable directory"
W=$(mktemp -d "$DIR/kvseal-blob-bench.XXXXXX")
cleanup() {
    azurite_stop
    rm -rf "$W"
}
KVSEAL_AZURITE_ON_EXIT=cleanup # azurite_start's EXIT trap calls it
trap cleanup EXIT
trap 'exit 130' INT TERM
need=$((3 * SIZE_MIB + 256 + RSS4G * 4096))
[[ $(avail_mib "$W") -ge $need ]] || die "$DIR has less than $need MiB free (needs 3 x --size-mib)"

SAMPLES=$W/samples.tsv # id round bytes wall_us user_s sys_s maxrss_kb server_cpu_s inner_wall_s inner_cpu_s
NOTES=$W/notes.tsv
: >"$SAMPLES"
: >"$NOTES"
# CPU seconds Azurite (one node process) has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$KVSEAL_AZURITE_PID/stat"; }

# A fresh Azurite with an empty container "bench".
fresh_azurite() {
    azurite_stop
    KVSEAL_ALLOWED_HOSTS=$ALLOWED_BEFORE
    # shellcheck disable=SC2119 # no extra Azurite arguments
    azurite_start || die "Azurite did not start (Node.js and npm needed; see tests/e2e/lib/azurite.sh)"
    export AZURE_STORAGE_KEY=$AZURITE_KEY # kvseal's Shared Key (the published dev key)
    C=$KVSEAL_AZURITE_ENDPOINT/bench
    "$PY" bench/blob_sdk.py create-container "$C" || die "cannot create the container"
}

# measure ID ROUND BYTES CMD...: wall clock (the shell's), CPU (user + sys)
# and peak RSS of CMD (GNU time), Azurite's CPU over the same span, and what
# CMD printed as "inner_wall inner_cpu" (the SDK helper does), if anything.
measure() {
    local id=$1 round=$2 bytes=$3 t0 t1 s0 s1 u s m iw=- ic=-
    shift 3
    s0=$(server_cpu)
    t0=$(now_us)
    if ! /usr/bin/time -f '%U %S %M' -o "$W/time.out" "$@" >"$W/cmd.out" 2>"$W/cmd.err"; then
        die "$id failed: $(tail -3 "$W/cmd.err" | tr '\n' ' ')"
    fi
    t1=$(now_us)
    s1=$(server_cpu)
    read -r u s m < <(tail -1 "$W/time.out")
    [[ ! -s $W/cmd.out ]] || read -r iw ic <"$W/cmd.out"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$round" "$bytes" $((t1 - t0)) "$u" "$s" "$m" \
        "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')" "$iw" "$ic" >>"$SAMPLES"
}

# ---- data and keys -------------------------------------------------------------

PUB=$ROOT/tests/keys/rsa2048-a.pub.pem # test-only keys (tests/keys/README.md)
KEY=$ROOT/tests/keys/rsa2048-a.pem
export AZURE_STORAGE_ACCOUNT=devstoreaccount1 # for kvseal (Shared Key); the SDK reads AZURITE_*
log "kvseal $("$KVSEAL" --version | head -1)"
log "test file: $SIZE_MIB MiB of random data in $W; $RUNS rounds"
IN=$W/in
head -c "$BYTES" /dev/urandom >"$IN"
SUM=$(sha256sum "$IN" | cut -d' ' -f1)
OUTF=$W/out

same() { [[ $(sha256sum "$1" | cut -d' ' -f1) == "$SUM" ]] || die "$2: the restored bytes differ from the input (sha256)"; }

kvseal_up() { measure kvseal/encrypt "$1" "$BYTES" "$KVSEAL" encrypt -r "$PUB" -o "$C/kvseal.kvs" "$IN"; }
kvseal_down() {
    rm -f "$OUTF"
    measure kvseal/restore "$1" "$BYTES" "$KVSEAL" decrypt -k "$KEY" -o "$OUTF" "$C/kvseal.kvs"
    [[ $1 -gt 1 ]] || same "$OUTF" "kvseal decrypt URL"
    rm -f "$OUTF"
}
# sdk_up ROUND NAME [--md5]: the SDK's upload_blob / download_blob
sdk_up() { measure "$2/upload" "$1" "$BYTES" "$PY" bench/blob_sdk.py upload "$C/$2" "$IN" ${3:+"$3"}; }
sdk_down() {
    rm -f "$OUTF"
    measure "$2/download" "$1" "$BYTES" "$PY" bench/blob_sdk.py download "$C/$2" "$OUTF" ${3:+"$3"}
    [[ $1 -gt 1 ]] || same "$OUTF" "SDK download_blob ($2)"
    rm -f "$OUTF"
}

round() {
    local r=$1
    log "round $r/$RUNS: fresh Azurite on port $KVSEAL_AZURITE_PORT"
    if ((r % 2)); then
        kvseal_up "$r"; sdk_up "$r" sdk; sdk_up "$r" sdk-md5 --md5
        kvseal_down "$r"; sdk_down "$r" sdk; sdk_down "$r" sdk-md5 --md5
    else
        sdk_up "$r" sdk-md5 --md5; sdk_up "$r" sdk; kvseal_up "$r"
        sdk_down "$r" sdk-md5 --md5; sdk_down "$r" sdk; kvseal_down "$r"
    fi
}

# Peak RSS of encrypt-to-blob and restore for one more size (the rounds give
# the test file's). Sizes above the test file are zeros (a sparse file).
rss() {
    local mib=$1 in=$W/rss-in
    fresh_azurite
    if [[ $mib -le $SIZE_MIB ]]; then head -c $((mib * 1048576)) "$IN" >"$in"; else truncate -s $((mib * 1048576)) "$in"; fi
    measure "rss/encrypt/${mib}M" 1 $((mib * 1048576)) "$KVSEAL" encrypt -r "$PUB" -o "$C/rss.kvs" "$in"
    rm -f "$in"
    # -o FILE as in the rounds (to stdout kvseal runs its ring, which holds more)
    measure "rss/restore/${mib}M" 1 $((mib * 1048576)) "$KVSEAL" decrypt -k "$KEY" -o "$OUTF" "$C/rss.kvs"
    rm -f "$OUTF"
}

# ---- run -----------------------------------------------------------------------

note load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
note kvseal_options "defaults: --threads $(nproc) (online CPUs), --blob-parallel 4, 1 MiB chunks; test key RSA-2048 (tests/keys)"
START=$(date +%s)
for ((r = 1; r <= RUNS; r++)); do
    fresh_azurite
    round "$r"
done
log "peak RSS: $RSS_SMALL_MIB MiB"
rss "$RSS_SMALL_MIB"
if [[ $RSS4G -eq 1 ]]; then
    log "peak RSS: 4096 MiB"
    rss 4096
else
    note rss_4g "not measured (run with --rss-4g)"
fi
azurite_stop
note load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
note seconds $(($(date +%s) - START))

# ---- report --------------------------------------------------------------------

STAMP=$(date +%Y-%m-%d)
HOST=$(hostname -s 2>/dev/null || hostname)
BASE=$OUT/$STAMP-$HOST-blob$([[ $QUICK -eq 0 ]] || echo -quick)
mkdir -p "$OUT"
{
    echo "kvseal	$("$KVSEAL" --version | head -1)"
    echo "azurite	$(cd tests/azurite && node -p 'require("./node_modules/azurite/package.json").version')"
    echo "node	$(node --version)"
    echo "python	$("$PY" --version 2>&1)"
    echo "azure-storage-blob	$("$PY" -c 'import azure.storage.blob as b; print(b.__version__)')"
    echo "kernel	$(uname -sr)"
    echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) online)"
} >"$W/versions.tsv"
"$PY" bench/blob_report.py --work "$W" --size "$BYTES" --runs "$RUNS" --quick "$QUICK" \
    --rss-small "$RSS_SMALL_MIB" --threads "$(nproc)" --json "$BASE.json" --md "$BASE.md" || die "report failed"
log "wrote $BASE.json and $BASE.md"
