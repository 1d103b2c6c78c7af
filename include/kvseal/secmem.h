/* Memory for secrets, for applications that hold passphrases or data keys
 * next to the library (the CLI does): the same allocator the library uses. */
#ifndef KVSEAL_SECMEM_H
#define KVSEAL_SECMEM_H

#include <stddef.h>

#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A zero-filled block of len bytes, page-aligned, locked in RAM (best
 * effort) and excluded from core dumps; NULL if out of memory. Release it
 * with kvs_secure_free and the same len. Thread-safe. */
KVS_API void *kvs_secure_alloc(size_t len);
/* Wipe and release a block from kvs_secure_alloc; NULL is a no-op. */
KVS_API void kvs_secure_free(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
