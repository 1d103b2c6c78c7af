#!/usr/bin/env bash
# Banned functions in src/ (issue 6, ARCHITECTURE.md convention 9).
#
# strcpy, strcat, sprintf, vsprintf, gets: unbounded writes (use snprintf,
# memcpy with a checked length). atoi, atol, atoll: no error reporting (use
# strtoul/strtoull with end and errno checks). strtok: hidden global state.
# rand, srand: not a CSPRNG. memcmp: early-exit timing; secrets (tags, MACs,
# keys) are compared with CRYPTO_memcmp. memcmp on public data is allowed on a
# line that says so in a comment: /* not secret */ (or "// not secret").
#
# Comments and string literals are ignored, so prose that names a function is
# not a match. One test per function; every match is printed as FILE:LINE.
#
# Needs: KVSEAL_SRC (source tree; default: this script's ../..), KVSEAL_PYTHON.
set -euo pipefail

SRC=${KVSEAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# scan DIR FUNCTION: print FILE:LINE: text for each call of FUNCTION in the C
# sources under DIR (comments and strings blanked; memcmp allowed with marker).
scan() {
    "$PY" - "$1" "$2" <<'EOF'
import os, re, sys

root, func = sys.argv[1], sys.argv[2]
MARKER = re.compile(r"(/\*|//)\s*not secret\b", re.I)
CALL = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(func) + r"\s*\(")

def blank(text):
    """Replace comments and string/char literals with spaces, keeping newlines."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + (c if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)

hits = 0
for dirpath, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for name in sorted(files):
        if not name.endswith((".c", ".h")):
            continue
        path = os.path.join(dirpath, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        code = blank(raw).split("\n")
        lines = raw.split("\n")
        for no, line in enumerate(code, 1):
            if not CALL.search(line):
                continue
            if func == "memcmp" and MARKER.search(lines[no - 1]):
                continue
            print("%s:%d: %s" % (os.path.relpath(path, os.path.dirname(root)), no,
                                 lines[no - 1].strip()))
            hits += 1
sys.exit(1 if hits else 0)
EOF
}

# The scanner itself: planted violations are found, lookalikes are not.
mkdir -p "$W/src"
cat >"$W/src/planted.c" <<'EOF'
/* strcpy(a, b) in a comment is fine; so is "sprintf(" in a string */
static int f(char *d, const char *s, const unsigned char *t, const unsigned char *u)
{
    strcpy(d, s);
    snprintf(d, 4, "%s", s);          /* bounded: allowed */
    int x = CRYPTO_memcmp(t, u, 16);  /* constant time: allowed */
    x += memcmp(t, u, 8);             /* not secret: the public magic */
    x += memcmp (t, u, 16);
    const char *msg = "never call atoi(s)";
    (void)msg;
    return x + atoi(s) + RAND_bytes(d, 1) + rand();
}
EOF
check_scanner() { # FUNCTION EXPECTED_LINES
    local got
    got=$(scan "$W/src" "$1" | sed 's/:.*//;s/.*/x/' | wc -l || true)
    if [[ $got -ne $2 ]]; then
        fail "scanner self-test: $1 found $got times in the planted file, expected $2"
        scan "$W/src" "$1" >&2 || true
    else
        pass
    fi
}
check_scanner strcpy 1
check_scanner sprintf 0
check_scanner memcmp 1
check_scanner atoi 1
check_scanner rand 1

[[ -d $SRC/src ]] || { echo "no src/ under $SRC" >&2; exit 1; }
for fn in strcpy strcat sprintf vsprintf gets atoi atol atoll strtok rand srand memcmp; do
    if out=$(scan "$SRC/src" "$fn"); then
        pass
    else
        fail "$fn used in src/ (see the header of this script for what to use instead):"
        printf '%s\n' "$out" | sed 's/^/    /' >&2
    fi
done

summary
