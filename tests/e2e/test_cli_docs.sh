#!/usr/bin/env bash
# The CLI's options are described once, in option tables (src/cli): docs/CLI.md,
# every --help and the generated kvseal(1) must list exactly the options of the
# tables, and the comparison itself must catch a missing or an extra option.
#
# Needs: KVSEAL_BIN; KVSEAL_SRC (the source tree); KVSEAL_BUILD (for kvseal.1);
# KVSEAL_PYTHON (default /usr/bin/python3). man/groff are used when installed.
set -euo pipefail

BIN=${KVSEAL_BIN:?set KVSEAL_BIN to the kvseal binary}
SRC=${KVSEAL_SRC:?set KVSEAL_SRC to the source tree}
BUILD=${KVSEAL_BUILD:?set KVSEAL_BUILD to the build tree}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
CHECK="$SRC/tests/e2e/lib/cli_docs.py"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# ------------------------------------------------------------ the tables
"$BIN" --list-options >"$W/list"
commands=$(awk '$1 != "kvseal" && $1 != "common" { print $1 }' "$W/list" | sort -u)
check "every dispatched command has a table" \
    test "$(echo "$commands" | wc -l)" -eq "$("$BIN" --help | grep -c '^  [a-z]')"
check "hidden rows are not listed" bash -c '! grep -q -- "--list-options\|--man" "$1"' _ "$W/list"
mkdir "$W/help"
"$BIN" --help >"$W/help/kvseal.txt"
for c in $commands; do
    "$BIN" "$c" --help >"$W/help/$c.txt"
done

# ------------------------------------------------------------ docs, help, man
run "$PY" "$CHECK" "$W/list" "$SRC/docs/CLI.md" "$W/help" "$BUILD/kvseal.1"
if [[ $RC -eq 0 ]]; then pass; else fail "tables and docs differ: $(cat "$W/stdout" "$W/stderr")"; fi

# The page in the build tree is what the program writes now.
"$BIN" --man >"$W/kvseal.1"
check "kvseal.1 is up to date" cmp -s "$W/kvseal.1" "$BUILD/kvseal.1"

if command -v groff >/dev/null; then
    run groff -man -Tutf8 -ww -z "$W/kvseal.1"
    check "groff renders kvseal.1 without warnings" test "$RC" -eq 0 -a ! -s "$W/stderr"
fi
if command -v man >/dev/null; then
    run env MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$W/kvseal.1"
    check "man -l renders kvseal.1" test "$RC" -eq 0
    check "man page shows the commands' options" grep -q -- '--recipient KEY' "$W/stdout"
fi

# ------------------------------------------------------------ the check can fail
# A row missing from CLI.md and an option the program does not have.
grep -v -- '`--no-created`' "$SRC/docs/CLI.md" |
    sed 's/^| `--offset N` |/| `--offset N`, `--frobnicate` |/' >"$W/CLI.md"
run "$PY" "$CHECK" "$W/list" "$W/CLI.md"
check "doctored CLI.md fails" test "$RC" -ne 0
check "a missing option is named" grep -q "'## encrypt': missing --no-created" "$W/stdout"
check "an unknown option is named" grep -q "'## decrypt': not in the program: --frobnicate" "$W/stdout"

# A wrong argument name or short letter is a difference too.
sed 's/^| `-o`, `--output OUT` |/| `-O`, `--output OUT` |/; s/`--bits N`/`--bits BITS`/' \
    "$SRC/docs/CLI.md" >"$W/CLI2.md"
run "$PY" "$CHECK" "$W/list" "$W/CLI2.md"
check "wrong short letter fails" grep -q "missing --output OUT -o" "$W/stdout"
check "wrong argument name fails" grep -q "'## keygen': missing --bits N" "$W/stdout"

# A table row that --help would not show.
grep -v '^keygen --public-out' "$W/list" >"$W/list2"
run "$PY" "$CHECK" "$W/list2" "$SRC/docs/CLI.md" "$W/help"
check "help with an option the table lacks fails" \
    grep -q "kvseal keygen --help: not in the program: --public-out PUB" "$W/stdout"

# ------------------------------------------------------------ parsing from the tables
run "$BIN" encrypt --no-such-option
check "unknown option: exit 1" test "$RC" -eq 1
check "unknown option: named" grep -q "^kvseal: encrypt: unknown option '--no-such-option'" "$W/stderr"
run "$BIN" decrypt -k
check "missing value: exit 1" test "$RC" -eq 1
check "missing value: named" grep -q "^kvseal: decrypt: option '-k' needs a value" "$W/stderr"
run "$BIN" --bogus
check "top level unknown option: exit 1" test "$RC" -eq 1
check "top level unknown option: named" grep -q "^kvseal: unknown option '--bogus'" "$W/stderr"
run "$BIN" -q
check "no command: exit 1" test "$RC" -eq 1
run "$BIN" -V
check "--version" grep -q '^kvseal [0-9]' "$W/stdout"
# Options after operands still count (the top level stops at the command word).
printf 'x' >"$W/plain"
run "$BIN" keygen --bits 2048 -o "$W/k.pem"
run "$BIN" encrypt "$W/plain" -r "$W/k.pem" -o "$W/c.kvs"
check "options after operands" test "$RC" -eq 0 -a -s "$W/c.kvs"
run "$BIN" decrypt "$W/c.kvs" --key="$W/k.pem" --thr 1 -q
check "long option with =, abbreviation" test "$RC" -eq 0 -a "$(cat "$W/stdout")" = x

summary
