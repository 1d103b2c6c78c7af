/* Shared pieces of the kvseal libFuzzer targets (tests/fuzz/README.md).
 *
 * Every target defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer binary; linked with replay_main.c it
 * is a plain program that feeds files to the same entry point (the
 * regression replay run by ctest in every build). A target reports a bug by
 * crashing (abort() via FUZZ_CHECK), never by a return value. */
#ifndef KVS_FUZZ_H
#define KVS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message: the property the target checks does not hold. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                                 \
    } while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* A file descriptor (memfd) holding a copy of data, positioned at 0; -1 on
 * failure. Its path is /proc/self/fd/N. */
int fuzz_memfd(const void *data, size_t len);
/* Whole contents of fd (from offset 0) into a malloc'd buffer. 0 or -1. */
int fuzz_fd_contents(int fd, uint8_t **out, size_t *len);

/* The fuzzing stub provider: an "rsa" recipient whose key_id is
 * FUZZ_STUB_KEY_ID and whose wrapped_key is the DEK itself (identity wrap),
 * so any file the stub encrypted can be decrypted after any mutation, and a
 * harness can recompute the header tag of a mutated header. Unwrapping a
 * value that is not 32 bytes fails like a wrong key. One static instance. */
#define FUZZ_STUB_KEY_ID \
    "sha256:f0220f0220f0220f0220f0220f0220f0220f0220f0220f0220f0220f0220f022"
kvs_provider *fuzz_stub_provider(void);

/* The committed test RSA key (tests/fuzz/keys/fuzz_rsa2048.pem), loaded once
 * from memory; NULL if it cannot be loaded. */
kvs_provider *fuzz_rsa_provider(void);
extern const char fuzz_rsa2048_pem[];

#endif
