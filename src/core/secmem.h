/* Memory for secrets (DEKs, derived keys, tokens, passphrases).
 *
 * Allocations are page-aligned, locked in RAM (mlock, best effort), excluded
 * from core dumps (MADV_DONTDUMP) and wiped with OPENSSL_cleanse before they
 * are released. */
#ifndef KVS_CORE_SECMEM_H
#define KVS_CORE_SECMEM_H

#include <stddef.h>

/* Zero-filled secure block of len bytes, or NULL. */
void *kvs_secure_alloc(size_t len);
/* Wipe and release; NULL is a no-op. len must be the allocation's length. */
void kvs_secure_free(void *p, size_t len);

/* Test hook: called with the block just before it is returned to the system,
 * after the wipe, so tests can check that secrets were erased. NULL removes it. */
typedef void (*kvs_secure_free_hook)(const void *p, size_t len);
void kvs_secure_set_free_hook(kvs_secure_free_hook hook);

#endif
