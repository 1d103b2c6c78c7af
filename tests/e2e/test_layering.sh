#!/usr/bin/env bash
# The library's layers (docs/DEVELOPMENT.md, issue 12): each directory of
# src/ includes headers only from the directories below it,
#   core < crypto < azure < format < keys < stream < blob < envelope < cli,
# so there is no include cycle between directories; and within a directory
# no header includes, directly or not, itself. The CLI's public-API-only rule
# is test_cli_public_api.sh.
#
# Needs: KVSEAL_SRC (default: this script's ../..), KVSEAL_PYTHON.
set -euo pipefail

SRC=${KVSEAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=${KVSEAL_PYTHON:-/usr/bin/python3}

# shellcheck source=lib/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"

# layers SRC_DIR: one line per include that breaks the order, then
# "header cycle: a -> b -> a" lines.
report=$("$PY" - "$SRC/src" <<'EOF'
import os, re, sys
order = ["core", "crypto", "azure", "format", "keys", "stream", "blob", "envelope", "cli"]
rank = {d: i for i, d in enumerate(order)}
root = sys.argv[1]
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
headers = {}
for d in sorted(os.listdir(root)):
    if d not in rank:
        print(f"src/{d}: a directory the layer order does not name")
        continue
    for f in sorted(os.listdir(os.path.join(root, d))):
        if not f.endswith((".c", ".h")):
            continue
        path = f"{d}/{f}"
        text = open(os.path.join(root, path), encoding="utf-8").read()
        deps = [i for i in inc.findall(text) if not i.startswith("kvseal/")]
        if f.endswith(".h"):
            headers[path] = deps
        for dep in deps:
            dd = dep.split("/")[0]
            if dd not in rank:
                print(f"src/{path}: includes {dep} outside src/")
            elif rank[dd] > rank[d]:
                print(f"src/{path}: includes {dep} from a higher layer")
seen, stack = {}, []
def visit(h):
    seen[h] = 1
    stack.append(h)
    for dep in headers.get(h, []):
        if seen.get(dep) == 1:
            print("header cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
        elif dep in headers and not seen.get(dep):
            visit(dep)
    stack.pop()
    seen[h] = 2
for h in headers:
    if not seen.get(h):
        visit(h)
EOF
)
# KVSEAL_LAYERING_REPORT_ONLY: print the report and stop (the self-check).
if [[ -n ${KVSEAL_LAYERING_REPORT_ONLY:-} ]]; then
    printf '%s\n' "$report"
    exit 0
fi
check "every include goes to the same or a lower layer, no header cycle" test -z "$report"
[[ -n $report ]] && printf '%s\n' "$report" >&2

# The check itself: a planted upward include and a planted cycle are found.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/core" "$T/src/cli"
printf '#include "cli/cli.h"\n' >"$T/src/core/a.h"
printf '#include "core/a.h"\n' >"$T/src/cli/cli.h"
planted=$(KVSEAL_LAYERING_REPORT_ONLY=1 KVSEAL_SRC=$T bash "$0" 2>&1)
check "a planted upward include is reported" grep -q "src/core/a.h: includes cli/cli.h from a higher layer" <<<"$planted"
check "a planted header cycle is reported" grep -q "header cycle: " <<<"$planted"

summary
