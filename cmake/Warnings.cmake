# Strict warnings and hardening flags, applied per target.
function(kvseal_strict_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
    -fstack-protector-strong -D_FORTIFY_SOURCE=2)
  if(KVSEAL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

add_link_options(-Wl,-z,relro,-z,now,-z,noexecstack)

if(KVSEAL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer, for the threaded tests (ctest -L threads; scripts/test.sh
# runs them in build/tsan). It cannot be combined with ASan.
option(KVSEAL_TSAN "Build with ThreadSanitizer" OFF)
if(KVSEAL_TSAN)
  if(KVSEAL_SANITIZE)
    message(FATAL_ERROR "KVSEAL_TSAN and KVSEAL_SANITIZE cannot be combined")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

if(KVSEAL_COVERAGE)
  add_compile_options(--coverage -O0)
  add_link_options(--coverage)
endif()
