/* Memory for secrets (DEKs, derived keys, tokens, passphrases).
 *
 * Allocations are page-aligned, locked in RAM (mlock, best effort), excluded
 * from core dumps (MADV_DONTDUMP) and wiped with OPENSSL_cleanse before they
 * are released. */
#ifndef KVS_CORE_SECMEM_H
#define KVS_CORE_SECMEM_H

#include <stddef.h>

/* kvs_secure_alloc and kvs_secure_free are public. */
#include "kvseal/secmem.h"

/* Test hook: called with the block just before it is returned to the system,
 * after the wipe, so tests can check that secrets were erased. NULL removes it. */
typedef void (*kvs_secure_free_hook)(const void *p, size_t len);
void kvs_secure_set_free_hook(kvs_secure_free_hook hook);

#endif
