#!/usr/bin/env bash
# Every public header compiles alone, first in a translation unit, as C11
# and as C++11 with warnings as errors; and a C++ program that takes the
# address of every pinned exported function links against the library (a
# header without extern "C" would leave C++-mangled references).
# Usage: check_headers.sh SRC_DIR LIBKVSEAL_SO LIST
set -u
src=$1 lib=$2 list=$3
CC=${CC:-cc} CXX=${CXX:-c++}
# Extra flags for linking against an instrumented library (KVSEAL_SANITIZE).
# shellcheck disable=SC2206
xflags=(${KVSEAL_TEST_LINK_FLAGS:-})
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # NAME CMD...
    local name=$1
    shift
    if "$@" 2>"$tmp/err"; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $name"
        sed 's/^/    /' "$tmp/err" | head -20
    fi
}
command -v "$CXX" >/dev/null || { echo "no C++ compiler ($CXX): install g++"; exit 1; }
for h in "$src"/include/kvseal/*.h; do
    name=kvseal/$(basename "$h")
    printf '#include <%s>\nint main(void) { return 0; }\n' "$name" >"$tmp/one.c"
    cp "$tmp/one.c" "$tmp/one.cpp"
    check "$name as C11" "$CC" -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$src/include" \
        -c "$tmp/one.c" -o "$tmp/one.o"
    check "$name as C++11" "$CXX" -std=c++11 -Wall -Wextra -Wpedantic -Werror \
        -I"$src/include" -c "$tmp/one.cpp" -o "$tmp/one.o"
done
{
    echo '#include <kvseal/kvseal.h>'
    echo 'typedef void (*fn)(void);'
    echo 'static const fn all[] = {'
    grep -v '^#' "$list" | sed '/^$/d' | sed 's/.*/    reinterpret_cast<fn>(\&&),/'
    echo '};'
    echo 'int main() { return all[0] == nullptr; }'
} >"$tmp/all.cpp"
check "every exported function is declared with C linkage" "$CXX" -std=c++11 -Wall -Werror \
    "${xflags[@]}" -I"$src/include" "$tmp/all.cpp" -o "$tmp/all" "$lib" \
    -Wl,-rpath,"$(dirname "$lib")"
check "... and the program runs" "$tmp/all"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
