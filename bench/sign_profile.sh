#!/usr/bin/env bash
# Where the time of a signed file goes (issue 14, item 5; docs/PERFORMANCE.md
# "Where the time goes"): user and system time of kvseal file to file,
# unsigned and signed, on 1 and N threads, then a `perf record` of each
# command with its samples split into kernel, AES-GCM, SHA-256 and other.
#
#   bash bench/sign_profile.sh [--size-mib N] [--reps N] [--dir DIR]
#                              [--kvseal PATH] [--hold-freed-memory]
#
# libcrypto has no symbols on Debian, so its samples are told apart by
# address: the 64 KiB ranges where `openssl speed -evp sha256` and
# `-evp aes-256-gcm` spend their time are measured first, on the same
# libcrypto. Prints tables on stdout; writes nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

die() {
    echo "bench/sign_profile: $*" >&2
    exit 2
}
# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)
SIZE_MIB=1024
REPS=2
DIR=${KVSEAL_BENCH_DIR:-/dev/shm}
KVSEAL=${KVSEAL_BIN:-$ROOT/build/bench/kvseal}
HOLD_FREED=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --size-mib) posint "$1" "${2-}"; SIZE_MIB=$2; shift 2 ;;
    --reps) posint "$1" "${2-}"; REPS=$2; shift 2 ;;
    --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
    --kvseal) KVSEAL=${2:?--kvseal needs a path}; shift 2 ;;
    --hold-freed-memory) HOLD_FREED=1; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'" ;;
    esac
done
[[ -x $KVSEAL ]] || die "no kvseal binary at $KVSEAL (build one, or --kvseal PATH)"
[[ -x /usr/bin/time ]] || die "GNU time is missing (Debian package 'time')"
command -v perf >/dev/null || die "perf is missing (Debian package 'linux-perf')"
KVSEAL=$(realpath "$KVSEAL")

[[ -d $DIR && -w $DIR ]] || die "$DIR is not a writable directory"
W=$(mktemp -d "$DIR/kvseal-sign-profile.XXXXXX")
cleanup() {
    restore_freed_memory
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[[ $HOLD_FREED -eq 0 ]] || hold_freed_memory

K=$ROOT/tests/keys # test-only keys (tests/keys/README.md)
IN=$W/in
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$IN"
"$KVSEAL" encrypt -r "$K/rsa2048-a.pub.pem" -o "$W/u.kvs" "$IN"
"$KVSEAL" encrypt -r "$K/rsa2048-a.pub.pem" --sign "$K/ec-p256.pem" -o "$W/s.kvs" "$IN"

# args CASE THREADS: the kvseal arguments of one case.
args() {
    local t=(--threads "$2")
    case $1 in
    encrypt/unsigned) A=(encrypt "${t[@]}" -r "$K/rsa2048-a.pub.pem" -o "$W/o" "$IN") ;;
    encrypt/signed) A=(encrypt "${t[@]}" -r "$K/rsa2048-a.pub.pem" --sign "$K/ec-p256.pem" -o "$W/o" "$IN") ;;
    decrypt/unsigned) A=(decrypt "${t[@]}" -k "$K/rsa2048-a.pem" -o "$W/o" "$W/u.kvs") ;;
    decrypt/require-signer) A=(decrypt "${t[@]}" -k "$K/rsa2048-a.pem" --require-signer "$K/ec-p256.pub.pem" -o "$W/o" "$W/s.kvs") ;;
    esac
}
CASES=(encrypt/unsigned encrypt/signed decrypt/unsigned decrypt/require-signer)
NT=$(nproc)

echo "kvseal file to file, $SIZE_MIB MiB in $DIR, $REPS repetitions (load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-24s %7s %6s %7s %7s %7s\n' case threads wall_s user_s sys_s GB/s
for t in 1 "$NT"; do
    for ((r = 1; r <= REPS; r++)); do
        for c in "${CASES[@]}"; do
            args "$c" "$t"
            rm -f "$W/o"
            /usr/bin/time -f '%e %U %S' -o "$W/time" "$KVSEAL" "${A[@]}" >/dev/null
            read -r e u s <"$W/time"
            printf '%-24s %7s %6s %7s %7s %7.2f\n' "$c" "$t" "$e" "$u" "$s" \
                "$(awk -v b=$((SIZE_MIB * 1048576)) -v e="$e" 'BEGIN { print b / e / 1e9 }')"
        done
    done
done

# report DATA: "dso<TAB>symbol<TAB>samples" lines of a perf data file.
report() {
    perf report -i "$1" -n --no-children --sort dso,sym -F sample,dso,sym 2>/dev/null |
        awk '!/^#/ && NF >= 4 { print $2 "\t" $4 "\t" $1 }'
}
# ranges DATA: the 64 KiB libcrypto ranges holding >= 10 % of its samples.
ranges() {
    report "$1" | awk -F'\t' '$1 ~ /libcrypto/ && $2 ~ /^0x/ { b = substr($2, 1, length($2) - 4); n[b] += $3; t += $3 }
        END { for (b in n) if (n[b] >= t / 10) print b }'
}
for alg in sha256 aes-256-gcm; do
    perf record -q -o "$W/$alg.data" -- openssl speed -elapsed -seconds 1 -bytes 1048576 -evp "$alg" >/dev/null 2>&1
    ranges "$W/$alg.data" >"$W/$alg.ranges"
    [[ -s $W/$alg.ranges ]] || die "no hot libcrypto range found for $alg"
done

echo
echo "perf record -F 1999, threads $NT: samples by where they fell"
printf '%-24s %7s %15s %15s %15s %7s\n' case samples kernel aes-gcm sha256 other
for c in "${CASES[@]}"; do
    args "$c" "$NT"
    rm -f "$W/o"
    perf record -q -F 1999 -o "$W/case.data" -- "$KVSEAL" "${A[@]}" >/dev/null 2>&1
    report "$W/case.data" | awk -F'\t' -v sha="$(paste -sd' ' "$W/sha256.ranges")" \
        -v gcm="$(paste -sd' ' "$W/aes-256-gcm.ranges")" -v name="$c" '
        BEGIN { ns = split(sha, S, " "); ng = split(gcm, G, " "); for (i = 1; i <= ns; i++) s[S[i]] = 1; for (i = 1; i <= ng; i++) g[G[i]] = 1 }
        { b = substr($2, 1, length($2) - 4); t += $3
          if ($1 ~ /kernel/) k += $3; else if ($1 ~ /libcrypto/ && (b in s)) h += $3
          else if ($1 ~ /libcrypto/ && (b in g)) a += $3; else o += $3 }
        END { printf "%-24s %7d %8d (%3.0f%%) %8d (%3.0f%%) %8d (%3.0f%%) %7d\n", name, t, k, 100 * k / t, a, 100 * a / t, h, 100 * h / t, o }'
done
