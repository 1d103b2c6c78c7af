#!/usr/bin/env bash
# `cmake --install` into a temp prefix, then the example program of
# docs/API.md (extracted from the page, so the documentation cannot rot) is
# built against the installed library four ways and run each time:
# pkg-config (shared, and libkvseal.a), and find_package(kvseal) with
# kvseal::kvseal and kvseal::kvseal_static.
# Usage: check_install.sh SRC_DIR BUILD_DIR
set -u
src=$1 build=$2
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
    fail=$((fail + 1))
    echo "not ok - $1"
    [ -f "$tmp/log" ] && tail -20 "$tmp/log" | sed 's/^/    /'
}
step() { # NAME CMD...: CMD's output in $tmp/log
    local name=$1
    shift
    if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name"; fi
}
runs() { # NAME PROGRAM: runs and prints the decrypted message
    local name=$1
    if "$2" >"$tmp/log" 2>&1 && grep -q "decrypted: attack at dawn" "$tmp/log" &&
        grep -q "1 unwrap(s)" "$tmp/log"; then ok "$name"; else bad "$name"; fi
}

prefix=$tmp/prefix
step "cmake --install into a temp prefix" cmake --install "$build" --prefix "$prefix"
sed -n '/<!-- api-example:begin -->/,/<!-- api-example:end -->/p' "$src/docs/API.md" |
    sed '1,2d;$d' | sed '$d' >"$tmp/example.c"
step "docs/API.md holds the example program" grep -q "kvs_provider_new" "$tmp/example.c"
pcdir=$(dirname "$(find "$prefix" -name kvseal.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
step "pkg-config finds kvseal" pkg-config --exists kvseal

# KVSEAL_TEST_LINK_FLAGS: extra flags to link an instrumented (KVSEAL_SANITIZE) library.
flags="-std=c11 -Wall -Wextra -Wpedantic -Werror ${KVSEAL_TEST_LINK_FLAGS:-}"
# shellcheck disable=SC2046,SC2086
step "pkg-config build (shared)" $CC $flags "$tmp/example.c" -o "$tmp/ex-pc" \
    $(pkg-config --cflags --libs kvseal) -Wl,-rpath,"$(pkg-config --variable=libdir kvseal)"
runs "... runs" "$tmp/ex-pc"
step "... linked to the installed libkvseal.so" \
    sh -c "ldd '$tmp/ex-pc' | grep -q '$prefix'"
# Static kvseal, shared dependencies (`pkg-config --static` would also want
# static builds of every library libcurl uses, which Debian does not ship).
deps=$(pkg-config --print-requires-private kvseal | awk '{print $1}' | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
step "pkg-config build (static libkvseal.a)" $CC $flags "$tmp/example.c" \
    -o "$tmp/ex-pc-static" $(pkg-config --cflags kvseal) \
    "$(pkg-config --variable=libdir kvseal)/libkvseal.a" $(pkg-config --libs $deps) -pthread -lm
runs "... runs" "$tmp/ex-pc-static"
step "... and needs no libkvseal.so" sh -c "! ldd '$tmp/ex-pc-static' | grep -q libkvseal"

mkdir -p "$tmp/cm"
cp "$tmp/example.c" "$tmp/cm/example.c"
cat >"$tmp/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(kvseal_consumer C)
find_package(kvseal 0.1 REQUIRED)
add_executable(ex_shared example.c)
target_link_libraries(ex_shared PRIVATE kvseal::kvseal)
add_executable(ex_static example.c)
target_link_libraries(ex_static PRIVATE kvseal::kvseal_static)
foreach(t ex_shared ex_static)
  set_target_properties(${t} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  target_compile_options(${t} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endforeach()
CMAKE
step "find_package(kvseal) configures" cmake -S "$tmp/cm" -B "$tmp/cm/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="${KVSEAL_TEST_LINK_FLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${KVSEAL_TEST_LINK_FLAGS:-}"
step "CMake build (kvseal::kvseal and kvseal::kvseal_static)" cmake --build "$tmp/cm/build"
runs "kvseal::kvseal program runs" "$tmp/cm/build/ex_shared"
step "... linked to the installed libkvseal.so" \
    sh -c "ldd '$tmp/cm/build/ex_shared' | grep -q '$prefix'"
runs "kvseal::kvseal_static program runs" "$tmp/cm/build/ex_static"
step "... and needs no libkvseal.so" sh -c "! ldd '$tmp/cm/build/ex_static' | grep -q libkvseal"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
