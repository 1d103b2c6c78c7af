#!/usr/bin/env bash
# kvseal against this machine's ceilings and the tools a user could pick
# instead, measured side by side on the same data in one run.
#
#   bash bench/run.sh [--quick] [--size-mib N] [--runs N] [options]
#
# Every round runs every case once, in the same order, so that slow phases of
# a noisy machine hit all cases alike; each target is checked as the median
# over rounds of a ratio measured within a round. Writes
# bench/results/<date>-<host>.{json,md}, draws docs/img/throughput.svg and
# prints PASS/FAIL per target. A missed target is not an error: the exit code
# is non-zero only when the benchmark itself could not run.
# (bash -c '...' snippets get their values as "$1"... on purpose.)
# shellcheck disable=SC2016
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3

usage() {
    cat <<'EOF'
Usage: bash bench/run.sh [options]
  --size-mib N     size of the random test file (default 2048)
  --runs N         rounds; medians are taken over them (default 5)
  --quick          small and fast: 256 MiB, 3 rounds, no 4 GiB memory check;
                   results named <date>-<host>-quick
  --dir DIR        where test files go (default $KVSEAL_BENCH_DIR or /dev/shm);
                   needs about 3 x size free, plus 8 GiB for the 4 GiB check
  --kvseal PATH    kvseal binary to measure (default $KVSEAL_BIN, else a
                   Release build made in build/bench)
  --max-threads N  highest thread count measured (default: online CPUs)
  --no-competitors skip age, gpg and openssl cms
  --install        first install the competitors (bench/install-competitors.sh)
  --out DIR        results directory (default bench/results)
  --plot FILE      SVG plot (default docs/img/throughput.svg; with --quick
                   bench/results/<date>-<host>-quick.svg)
  --hold-freed-memory
                   on a VM that reports freed memory to its host at once
                   (virtio free page reporting with min_free_ms 0), keep
                   freed memory in the guest for the run (root; restored on
                   exit). Otherwise a command that writes into memory the
                   host has just taken back runs up to 10 x slower, and
                   which command meets it is chance. Recorded in the notes.
EOF
}

die() {
    echo "bench: $*" >&2
    exit 2
}
# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

# ---- options -------------------------------------------------------------

SIZE_MIB=2048
RUNS=5
QUICK=0
DIR=${KVSEAL_BENCH_DIR:-/dev/shm}
KVSEAL=${KVSEAL_BIN:-}
MAX_THREADS=$(nproc)
COMPETITORS=1
INSTALL=0
OUT=bench/results
PLOT= # default: docs/img/throughput.svg; with --quick beside the results
HOLD_FREED=0
size_given=0 runs_given=0

while [[ $# -gt 0 ]]; do
    case $1 in
    --size-mib) posint "$1" "${2-}"; SIZE_MIB=$2; size_given=1; shift 2 ;;
    --runs) posint "$1" "${2-}"; RUNS=$2; runs_given=1; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    --kvseal) KVSEAL=${2:?--kvseal needs a path}; shift 2 ;;
    --max-threads) posint "$1" "${2-}"; MAX_THREADS=$2; shift 2 ;;
    --no-competitors) COMPETITORS=0; shift ;;
    --install) INSTALL=1; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --plot) PLOT=${2:?--plot needs a file name}; shift 2 ;;
    --hold-freed-memory) HOLD_FREED=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done
if [[ $QUICK -eq 1 ]]; then
    [[ $size_given -eq 1 ]] || SIZE_MIB=256
    [[ $runs_given -eq 1 ]] || RUNS=3
fi
SPEED_SECONDS=$((QUICK ? 1 : 2))   # per openssl speed measurement
STARTUP_ITERS=$((QUICK ? 10 : 30)) # 1 KiB process start-to-finish samples
ENGINE_MIB=$((SIZE_MIB < 1024 ? SIZE_MIB : 1024)) # kvseal bench holds 3 x this in memory
CMS_DEC_RUNS=1                     # openssl cms -decrypt: slow, whole file in memory
CMS_MIB=$((SIZE_MIB < 1024 ? SIZE_MIB : 1024)) # it cannot read a DER file over ~1.5 GiB
BYTES=$((SIZE_MIB * 1048576))

# ---- tools ---------------------------------------------------------------

[[ $INSTALL -eq 0 ]] || bash bench/install-competitors.sh
[[ -x /usr/bin/time ]] || die "GNU time is missing: run 'bash bench/install-competitors.sh' (Debian package 'time')"
[[ -x $PY ]] || die "$PY is missing"
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

have_age=0 have_gpg=0 have_cms=0
if [[ $COMPETITORS -eq 1 ]]; then
    command -v age >/dev/null && command -v age-keygen >/dev/null && have_age=1
    command -v gpg >/dev/null && have_gpg=1
    openssl cms -help 2>&1 | grep -q -- '-stream' && have_cms=1
fi

# Thread counts: all up to 4, then powers of two and the maximum.
THREADS=()
for ((t = 1; t <= MAX_THREADS; t = (t < 4 ? t + 1 : t * 2))); do THREADS+=("$t"); done
[[ ${THREADS[-1]} -eq $MAX_THREADS ]] || THREADS+=("$MAX_THREADS")
CHUNKS=(64K 1M 16M)
NT=$MAX_THREADS

# ---- work directory --------------------------------------------------------

[[ -d $DIR && -w $DIR ]] || die "$DIR is not a writable directory"
W=$(mktemp -d "$DIR/kvseal-bench.XXXXXX")
GPG_AGENT_STARTED=0
cleanup() {
    if [[ $GPG_AGENT_STARTED -eq 1 ]]; then GNUPGHOME=$W/gnupg gpgconf --kill gpg-agent 2>/dev/null || true; fi
    restore_freed_memory
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need=$((3 * SIZE_MIB + 256))
[[ $(avail_mib "$W") -ge $need ]] || die "$DIR has less than $need MiB free (needs 3 x --size-mib)"

SAMPLES=$W/samples.tsv # id round bytes wall_us user_s sys_s maxrss_kb
RATES=$W/rates.tsv     # id round bytes_per_second
NOTES=$W/notes.tsv     # key value
: >"$SAMPLES"
: >"$RATES"
: >"$NOTES"


# A competitor that fails once is dropped (reported), not fatal.
competitor() {
    local flag=$1
    shift
    measure "$@" && return 0
    rm -f "$CT" "$OUTF"
    eval "$flag=0"
    note dropped "$1 failed ($(tail -1 "$W/cmd.err")); the tool was left out from then on"
    return 1
}

same() { cmp -s "$1" "$2" || die "$3: output differs from the input"; }

# ---- data and keys ---------------------------------------------------------

log "kvseal $("$KVSEAL" --version | head -1)"
log "test file: $SIZE_MIB MiB of random data in $W; $RUNS rounds; threads ${THREADS[*]}"
IN=$W/in
head -c "$BYTES" /dev/urandom >"$IN"
"$KVSEAL" keygen --bits 4096 -o "$W/k.pem" --public-out "$W/k.pub.pem" >/dev/null

if [[ $have_age -eq 1 ]]; then
    age-keygen -o "$W/age.key" 2>/dev/null
    AGE_PUB=$(age-keygen -y "$W/age.key")
fi
GPG_ID=kvseal-bench@example.invalid
if [[ $have_gpg -eq 1 ]]; then
    export GNUPGHOME=$W/gnupg
    mkdir -m 700 "$GNUPGHOME"
    GPG_AGENT_STARTED=1
    gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "$GPG_ID" rsa4096 encrypt never \
        >/dev/null 2>&1 || { have_gpg=0; note dropped "gpg key generation failed"; }
    # Which cipher gpg picks from the key's preferences, for the record.
    echo probe >"$W/probe"
    gpg --batch --yes --trust-model always --compress-algo none -r "$GPG_ID" -o "$W/probe.gpg" -e "$W/probe" 2>/dev/null &&
        note gpg_cipher "$(gpg --batch -v --pinentry-mode loopback --passphrase '' -d "$W/probe.gpg" 2>&1 >/dev/null |
            sed -n 's/^gpg: \([A-Za-z0-9.]*\) encrypted data$/\1, with MDC (no AEAD)/p' | head -1)"
fi
if [[ $have_cms -eq 1 ]]; then
    openssl req -x509 -newkey rsa:4096 -nodes -keyout "$W/cms.key" -out "$W/cms.crt" \
        -subj /CN=kvseal-bench -days 2 >/dev/null 2>&1 || { have_cms=0; note dropped "cms certificate failed"; }
    CMS_IN=$IN
    if [[ $CMS_MIB -lt $SIZE_MIB ]]; then
        CMS_IN=$W/in-cms
        head -c $((CMS_MIB * 1048576)) "$IN" >"$CMS_IN"
        note cms_size "openssl cms runs on the first $CMS_MIB MiB of the test file: its decryption reads the whole DER file into one buffer and fails above about 1.5 GiB (BUF_MEM_grow_clean: malloc failure)"
    fi
fi

# ---- one round -------------------------------------------------------------

K=("$KVSEAL")
KENC=(encrypt -r "$W/k.pub.pem")
KDEC=(decrypt -k "$W/k.pem")
CT=$W/ct
OUTF=$W/out

# openssl speed -elapsed: wall-clock rate, like every other number here.
# speed THREADS [CPU]: with CPU, pinned to that CPU.
speed() {
    local args=(speed -elapsed -evp aes-256-gcm -bytes 1048576 -seconds "$SPEED_SECONDS") pin=()
    [[ $1 -gt 1 ]] && args+=(-multi "$1")
    [[ -z ${2-} ]] || pin=(taskset -c "$2")
    "${pin[@]}" openssl "${args[@]}" 2>/dev/null | awk '/^AES-256-GCM/ { v = $2 } END { sub(/k$/, "", v); printf "%.0f\n", v * 1000 }'
}

# One-core figures are taken on CPU 0, for openssl and for kvseal alike: on
# VMs the vCPUs can differ by a third (a busy sibling hyperthread on the
# host), and an unpinned ratio would compare two different CPUs. Every CPU's
# own openssl speed is recorded too.
ceilings() {
    local r=$1 c rate
    for ((c = 0; c < NT; c++)); do
        rate=$(speed 1 "$c")
        printf 'openssl-speed/cpu%s\t%s\t%s\n' "$c" "$r" "$rate" >>"$RATES"
        [[ $c -ne 0 ]] || printf 'openssl-speed/t1\t%s\t%s\n' "$r" "$rate" >>"$RATES"
    done
    [[ $NT -lt 2 ]] || printf 'openssl-speed/t%s\t%s\t%s\n' "$NT" "$r" "$(speed "$NT")" >>"$RATES"
    measure io/cp "$r" "$BYTES" cp "$IN" "$OUTF"
    rm -f "$OUTF"
    measure io/cat-null "$r" "$BYTES" bash -c 'cat "$1" >/dev/null' sh "$IN"
    measure io/cat-cat "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | cat >"$2"' sh "$IN" "$OUTF"
    rm -f "$OUTF"
    measure io/cat-cat-cat "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | cat | cat >"$2"' sh "$IN" "$OUTF"
    rm -f "$OUTF"
}

# kvseal bench: the engine in memory (buffer to buffer) at 1..N threads, and
# its one-thread figures again on CPU 0 (see ceilings).
engine() {
    local r=$1
    "$KVSEAL" bench --json --seconds 1 --size "$ENGINE_MIB" --threads "$NT" --dir "$W" \
        >"$W/kbench.$r.json" 2>"$W/kbench.err" || die "kvseal bench failed: $(cat "$W/kbench.err")"
    taskset -c 0 "$KVSEAL" bench --json --seconds 1 --size "$ENGINE_MIB" --threads 1 --dir "$W" \
        >"$W/kbench-cpu0.$r.json" 2>"$W/kbench.err" || die "kvseal bench (CPU 0) failed: $(cat "$W/kbench.err")"
}

# One thread count and chunk size: file to file, and pipe to pipe.
kvseal_case() {
    local r=$1 t=$2 c=$3 tag="t$2/c$3"
    local opts=(--threads "$t")
    rm -f "$CT" "$OUTF"
    measure "kvseal/encrypt/file/$tag" "$r" "$BYTES" "${K[@]}" "${KENC[@]}" "${opts[@]}" --chunk-size "$c" -o "$CT" "$IN" ||
        die "kvseal encrypt failed"
    measure "kvseal/decrypt/file/$tag" "$r" "$BYTES" "${K[@]}" "${KDEC[@]}" "${opts[@]}" -o "$OUTF" "$CT" ||
        die "kvseal decrypt failed"
    [[ $r -gt 1 ]] || same "$IN" "$OUTF" "kvseal decrypt $tag"
    rm -f "$OUTF"
    measure "kvseal/encrypt/pipe/$tag" "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | "$2" encrypt -r "$3" --threads "$4" --chunk-size "$5" | cat >"$6"' \
        sh "$IN" "$KVSEAL" "$W/k.pub.pem" "$t" "$c" "$OUTF" || die "kvseal encrypt (pipe) failed"
    rm -f "$OUTF"
    measure "kvseal/decrypt/pipe/$tag" "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | "$2" decrypt -k "$3" --threads "$4" | cat >"$5"' \
        sh "$CT" "$KVSEAL" "$W/k.pem" "$t" "$OUTF" || die "kvseal decrypt (pipe) failed"
    [[ $r -gt 1 ]] || same "$IN" "$OUTF" "kvseal decrypt (pipe) $tag"
    rm -f "$OUTF" "$CT"
}

# Defaults, the shape of `cat in | cat > out`: stdin a pipe, stdout a file.
kvseal_stdio() {
    local r=$1
    measure kvseal/encrypt/stdin-file/default "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | "$2" encrypt -r "$3" >"$4"' \
        sh "$IN" "$KVSEAL" "$W/k.pub.pem" "$CT" || die "kvseal encrypt (stdin) failed"
    measure kvseal/decrypt/stdin-file/default "$r" "$BYTES" bash -c 'set -o pipefail; cat "$1" | "$2" decrypt -k "$3" >"$4"' \
        sh "$CT" "$KVSEAL" "$W/k.pem" "$OUTF" || die "kvseal decrypt (stdin) failed"
    [[ $r -gt 1 ]] || same "$IN" "$OUTF" "kvseal decrypt (stdin)"
    rm -f "$OUTF" "$CT"
}

age_case() {
    local r=$1
    competitor have_age age/encrypt "$r" "$BYTES" age -e -r "$AGE_PUB" -o "$CT" "$IN" || return 0
    competitor have_age age/decrypt "$r" "$BYTES" age -d -i "$W/age.key" -o "$OUTF" "$CT" || return 0
    [[ $r -gt 1 ]] || same "$IN" "$OUTF" "age"
    rm -f "$OUTF" "$CT"
}

# gpg to an RSA-4096 key (the counterpart of a kvseal recipient), compression
# off (it only costs time on random data); the cipher comes from the key's
# preferences and is recorded.
gpg_case() {
    local r=$1
    competitor have_gpg gpg/encrypt "$r" "$BYTES" gpg --batch --yes --trust-model always --compress-algo none \
        -r "$GPG_ID" -o "$CT" -e "$IN" || return 0
    competitor have_gpg gpg/decrypt "$r" "$BYTES" gpg --batch --yes --pinentry-mode loopback --passphrase '' \
        -o "$OUTF" -d "$CT" || return 0
    [[ $r -gt 1 ]] || same "$IN" "$OUTF" "gpg"
    rm -f "$OUTF" "$CT"
}

# openssl cms, AES-256-GCM (AuthEnvelopedData) to an RSA-4096 certificate
# (OAEP). Encryption streams (-stream); decryption cannot and holds the whole
# file in memory, so it runs only CMS_DEC_RUNS times.
cms_case() {
    local r=$1 bytes=$((CMS_MIB * 1048576))
    competitor have_cms cms/encrypt "$r" "$bytes" openssl cms -encrypt -binary -stream -aes-256-gcm \
        -in "$CMS_IN" -out "$CT" -outform DER -recip "$W/cms.crt" -keyopt rsa_padding_mode:oaep || return 0
    if [[ $r -le $CMS_DEC_RUNS ]]; then
        competitor have_cms cms/decrypt "$r" "$bytes" openssl cms -decrypt -binary -inform DER -in "$CT" \
            -recip "$W/cms.crt" -inkey "$W/cms.key" -out "$OUTF" || return 0
        [[ $r -gt 1 ]] || same "$CMS_IN" "$OUTF" "openssl cms"
    fi
    rm -f "$OUTF" "$CT"
}

round() {
    local r=$1 c t
    log "round $r/$RUNS: ceilings"
    ceilings "$r"
    log "round $r/$RUNS: kvseal bench (engine in memory)"
    engine "$r"
    log "round $r/$RUNS: kvseal, threads x chunk sizes"
    for c in "${CHUNKS[@]}"; do
        for t in "${THREADS[@]}"; do kvseal_case "$r" "$t" "$c"; done
    done
    kvseal_stdio "$r"
    if [[ $COMPETITORS -eq 1 ]]; then
        log "round $r/$RUNS: competitors"
        [[ $have_age -eq 0 ]] || age_case "$r"
        [[ $have_gpg -eq 0 ]] || gpg_case "$r"
        [[ $have_cms -eq 0 ]] || cms_case "$r"
    fi
}

# ---- start-up and memory ----------------------------------------------------

# Process start to finish for a 1 KiB file, interleaved with `openssl version`.
startup() {
    local small=$W/small i t0
    head -c 1024 /dev/urandom >"$small"
    "$KVSEAL" encrypt -r "$W/k.pub.pem" -o "$small.kvs" "$small"
    for ((i = 1; i <= STARTUP_ITERS; i++)); do
        t0=$(now_us)
        openssl version >/dev/null
        printf 'startup/openssl-version\t%s\t1024\t%s\t0\t0\t0\n' "$i" $(($(now_us) - t0)) >>"$SAMPLES"
        t0=$(now_us)
        "$KVSEAL" encrypt -r "$W/k.pub.pem" --force -o "$small.kvs" "$small"
        printf 'startup/kvseal-encrypt\t%s\t1024\t%s\t0\t0\t0\n' "$i" $(($(now_us) - t0)) >>"$SAMPLES"
        t0=$(now_us)
        "$KVSEAL" decrypt -k "$W/k.pem" --force -o "$small.out" "$small.kvs"
        printf 'startup/kvseal-decrypt\t%s\t1024\t%s\t0\t0\t0\n' "$i" $(($(now_us) - t0)) >>"$SAMPLES"
    done
    same "$small" "$small.out" "kvseal decrypt (1 KiB)"
}

# Peak RSS at the defaults with 2 threads, for 100 MiB and (room allowing) 4 GiB.
memory() {
    local mib in
    for mib in 100 4096; do
        if [[ $mib -eq 4096 && $QUICK -eq 1 ]]; then
            note rss_4g "skipped (--quick)"
            continue
        fi
        if [[ $mib -eq 4096 && $(avail_mib "$W") -lt $((2 * 4096 + 512)) ]]; then
            note rss_4g "skipped: less than 8.5 GiB free in $DIR"
            continue
        fi
        in=$W/rss-in
        if [[ $mib -le $SIZE_MIB ]]; then head -c $((mib * 1048576)) "$IN" >"$in"; else truncate -s $((mib * 1048576)) "$in"; fi
        measure "rss/encrypt/${mib}M" 1 $((mib * 1048576)) "${K[@]}" "${KENC[@]}" --threads 2 -o "$CT" "$in" ||
            die "kvseal encrypt ($mib MiB) failed"
        rm -f "$in"
        measure "rss/decrypt/${mib}M" 1 $((mib * 1048576)) "${K[@]}" "${KDEC[@]}" --threads 2 -o "$OUTF" "$CT" ||
            die "kvseal decrypt ($mib MiB) failed"
        rm -f "$CT" "$OUTF"
    done
}

# ---- run -------------------------------------------------------------------

[[ $HOLD_FREED -eq 0 ]] || hold_freed_memory
note_freed_memory
note load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
START=$(date +%s)
for ((r = 1; r <= RUNS; r++)); do round "$r"; done
log "start-up: 1 KiB, $STARTUP_ITERS times"
startup
log "peak RSS: 100 MiB and 4 GiB inputs"
memory
note load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
note seconds $(($(date +%s) - START))

# ---- report ----------------------------------------------------------------

STAMP=$(date +%Y-%m-%d)
HOST=$(hostname -s 2>/dev/null || hostname)
# A quick run must not replace the full run's results or the docs' plot.
SUFFIX=
[[ $QUICK -eq 0 ]] || SUFFIX=-quick
BASE=$OUT/$STAMP-$HOST$SUFFIX
[[ -n $PLOT ]] || PLOT=$([[ $QUICK -eq 1 ]] && echo "$BASE.svg" || echo docs/img/throughput.svg)
mkdir -p "$OUT" "$(dirname "$PLOT")"
versions() {
    echo "kvseal	$("$KVSEAL" --version | head -1)"
    echo "openssl	$(openssl version)"
    [[ $have_age -eq 0 ]] || echo "age	$(age --version)"
    [[ $have_gpg -eq 0 ]] || echo "gpg	$(gpg --version | head -1)"
    echo "kernel	$(uname -sr)"
    echo "cpu	$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) online)"
}
versions >"$W/versions.tsv"
"$PY" bench/report.py --work "$W" --size "$BYTES" --runs "$RUNS" --threads "${THREADS[*]}" \
    --chunks "${CHUNKS[*]}" --max-threads "$NT" --quick "$QUICK" --dir "$DIR" \
    --json "$BASE.json" --md "$BASE.md" || die "report failed"
"$PY" bench/plot.py "$BASE.json" "$PLOT" || die "plot failed"
log "wrote $BASE.json, $BASE.md and $PLOT"
