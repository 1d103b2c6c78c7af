#!/usr/bin/env bash
# Install the tools bench/run.sh compares kvseal with, from Debian: age,
# GnuPG, GNU time (for CPU time and peak RSS) and OpenSSL's command line.
# Needs root (or sudo). Already installed packages are left alone.
set -euo pipefail

want=(age gnupg time openssl)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-competitors: all present (${want[*]})"
    exit 0
fi
SUDO=
[[ $(id -u) -eq 0 ]] || SUDO=sudo
echo "install-competitors: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-competitors: done"
