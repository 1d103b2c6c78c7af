# Fuzz targets (tests/fuzz/, see tests/fuzz/README.md).
#
# The same target sources are built twice:
#  - In every build with tests (gcc or clang, sanitizers or not): one
#    fuzz_replay_<target> per target, the entry point plus a plain main()
#    that runs each seed and regression file once; ctest runs them as
#    fuzz.<target> (label "fuzz"). fuzz_seedgen rebuilds the decrypt seeds.
#  - With -DKVSEAL_FUZZ=ON (clang only): libFuzzer binaries fuzz_<target>,
#    linked against a copy of the library compiled with
#    -fsanitize=fuzzer-no-link,address,undefined so the fuzzer sees the
#    library's coverage. scripts/fuzz.sh builds and runs them.
option(KVSEAL_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

set(KVSEAL_FUZZ_TARGETS header decrypt kvjson challenge kvurl b64url pem listxml trailer)
set(KVSEAL_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(KVSEAL_FUZZ_COMMON ${KVSEAL_FUZZ_DIR}/fuzz_common.c ${KVSEAL_FUZZ_DIR}/fuzz_key.c)

if(KVSEAL_TESTS)
  add_library(kvseal_fuzz_common STATIC ${KVSEAL_FUZZ_COMMON})
  target_include_directories(kvseal_fuzz_common PUBLIC ${PROJECT_SOURCE_DIR}/src
                             ${KVSEAL_FUZZ_DIR})
  target_link_libraries(kvseal_fuzz_common PUBLIC kvseal_static)
  kvseal_strict_warnings(kvseal_fuzz_common)

  foreach(t ${KVSEAL_FUZZ_TARGETS})
    add_executable(fuzz_replay_${t} ${KVSEAL_FUZZ_DIR}/fuzz_${t}.c
                   ${KVSEAL_FUZZ_DIR}/replay_main.c)
    target_link_libraries(fuzz_replay_${t} PRIVATE kvseal_fuzz_common)
    kvseal_strict_warnings(fuzz_replay_${t})
    add_test(NAME fuzz.${t}
             COMMAND fuzz_replay_${t} ${KVSEAL_FUZZ_DIR}/corpus/${t}
                     ${KVSEAL_FUZZ_DIR}/regressions/${t})
    set_tests_properties(fuzz.${t} PROPERTIES TIMEOUT 600)
    kvseal_test_tier(fuzz.${t} fuzz)
  endforeach()

  # Allocation-failure shim for tests/e2e/test_alloc_torture.sh (LD_PRELOAD).
  # Never instrumented: an LD_PRELOAD allocator cannot sit beside ASan.
  add_library(kvseal_failmalloc MODULE ${PROJECT_SOURCE_DIR}/tests/torture/failmalloc.c)
  set_target_properties(kvseal_failmalloc PROPERTIES PREFIX "" OUTPUT_NAME failmalloc
                        LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}
                        COMPILE_OPTIONS "" LINK_OPTIONS "")
  target_compile_options(kvseal_failmalloc PRIVATE -O2 -Wall -Wextra)

  add_executable(fuzz_seedgen ${KVSEAL_FUZZ_DIR}/seedgen.c)
  target_link_libraries(fuzz_seedgen PRIVATE kvseal_fuzz_common)
  kvseal_strict_warnings(fuzz_seedgen)
endif()

if(KVSEAL_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KVSEAL_FUZZ needs clang (e.g. CC=clang); "
                        "the compiler is ${CMAKE_C_COMPILER_ID}")
  endif()
  set(KVSEAL_FUZZ_SAN address,undefined)
  set(KVSEAL_FUZZ_FLAGS -fno-sanitize-recover=all -fno-omit-frame-pointer -g)

  # The library again, instrumented for coverage and sanitizers.
  add_library(kvseal_fuzz_lib STATIC ${KVSEAL_LIB_SOURCES} ${KVSEAL_FUZZ_COMMON})
  target_include_directories(kvseal_fuzz_lib
    PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${KVSEAL_FUZZ_DIR})
  target_compile_options(kvseal_fuzz_lib PRIVATE
    -fsanitize=fuzzer-no-link,${KVSEAL_FUZZ_SAN} ${KVSEAL_FUZZ_FLAGS})
  target_compile_definitions(kvseal_fuzz_lib PRIVATE KVSEAL_BUILDING)
  target_link_libraries(kvseal_fuzz_lib PUBLIC PkgConfig::OPENSSL PkgConfig::CJSON
                        PkgConfig::CURL Threads::Threads)

  foreach(t ${KVSEAL_FUZZ_TARGETS})
    add_executable(fuzz_${t} ${KVSEAL_FUZZ_DIR}/fuzz_${t}.c)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,${KVSEAL_FUZZ_SAN}
                           ${KVSEAL_FUZZ_FLAGS})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,${KVSEAL_FUZZ_SAN})
    target_link_libraries(fuzz_${t} PRIVATE kvseal_fuzz_lib)
    kvseal_strict_warnings(fuzz_${t})
  endforeach()
endif()
