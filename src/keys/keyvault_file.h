/* Bounds on the Key Vault work one file may cause (issue 15 item 6): a file
 * names its recipients, so a hostile one could name 64 remote recipients,
 * each allowed the full retry or throttle budget. */
#ifndef KVS_KEYS_KEYVAULT_FILE_H
#define KVS_KEYS_KEYVAULT_FILE_H

#include <stdint.h>

#include "azure/client.h"
#include "keys/dek_cache.h"
#include "kvseal/keys.h"

#define KVS_FILE_BUDGET_DEFAULT_S 120 /* all remote unwraps of one file */
#define KVS_MAX_REMOTE_DEFAULT 4      /* remote recipients tried per file */

typedef struct kvs_kv_file_limits {
    int64_t budget_ms;   /* KVSEAL_FILE_BUDGET_SECONDS */
    unsigned max_remote; /* KVSEAL_MAX_REMOTE_RECIPIENTS */
} kvs_kv_file_limits;

/* The limits from the environment, else the defaults. KVS_ERR_CONFIG names
 * a variable that is not a whole number in range. */
kvs_status kvs_kv_file_limits_get(kvs_kv_file_limits *out, kvs_error *err);

/* The Key Vault provider's unwrap, ending by hard_deadline_ms (kvs_mono_ms;
 * 0 = no limit beyond the retry and throttle budgets). p must satisfy
 * kvs_keyvault_is_provider. prefetch: unwrapping ahead of a later
 * decryption (kvs_dek_cache_begin). */
kvs_status kvs_keyvault_unwrap_until(kvs_provider *p, const kvs_recipient *r,
                                     uint8_t dek[KVS_DEK_LEN], int64_t hard_deadline_ms,
                                     int prefetch, kvs_error *err);

/* The DEK cache of client c (one per client, made on first use), where the
 * Key Vault provider single-flights its unwraps. NULL if out of memory. */
kvs_dek_cache *kvs_keyvault_deks(kvs_kv_client *c);

#endif
