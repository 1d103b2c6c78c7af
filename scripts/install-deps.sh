#!/usr/bin/env bash
# Install the Debian 12 packages kvseal needs to build, test and demo, skipping
# those already present (so it is quick and offline-safe on a ready machine).
set -euo pipefail

PACKAGES=(
  gcc g++ make cmake pkg-config ca-certificates openssl
  libssl-dev libcurl4-openssl-dev libcjson-dev check
  python3 python3-cryptography python3-cryptography-vectors
  python3-azure
)
# Azurite (the blob tests' emulator) runs on the machine's Node.js. Debian's
# nodejs and npm only where there is none: a NodeSource nodejs already
# provides npm and conflicts with Debian's package of it.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
[ "${KVSEAL_WITH_CLANG:-0}" = 1 ] && PACKAGES+=(clang libclang-rt-14-dev valgrind)
PACKAGES+=(time)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "kvseal: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "kvseal: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
