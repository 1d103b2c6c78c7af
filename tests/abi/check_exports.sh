#!/usr/bin/env bash
# The shared library exports exactly the pinned list of symbols
# (tests/abi/exported-symbols.txt): a symbol added to the API must be added
# there on purpose, and one removed is an ABI break that must be noticed.
# Usage: check_exports.sh LIBKVSEAL_SO LIST
set -u
lib=$1 list=$2
actual=$(nm -D --defined-only "$lib" | awk 'NF == 3 && $2 ~ /^[TDBRVWiu]$/ {print $3}' | sort -u)
expected=$(grep -v '^#' "$list" | sed '/^$/d' | sort -u)
if [ "$actual" != "$expected" ]; then
    echo "exported symbols of $lib differ from $list (< pinned, > exported):"
    diff <(echo "$expected") <(echo "$actual")
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$(echo "$actual" | wc -l) symbols as pinned"
echo "1 passed, 0 failed"
