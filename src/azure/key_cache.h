/* Public keys of Key Vault key versions by versioned kid, so encrypting
 * many files GETs each key version once. Thread-safe, own lock. */
#ifndef KVS_AZURE_KEY_CACHE_H
#define KVS_AZURE_KEY_CACHE_H

#include <openssl/evp.h>

typedef struct kvs_key_cache kvs_key_cache;

kvs_key_cache *kvs_key_cache_new(void); /* NULL when out of memory */
void kvs_key_cache_free(kvs_key_cache *kc);

/* A new reference to the key cached for kid, or NULL. */
EVP_PKEY *kvs_key_cache_get(kvs_key_cache *kc, const char *kid);
/* Keep a reference to pkey for kid (the oldest entry goes when full). */
void kvs_key_cache_put(kvs_key_cache *kc, const char *kid, EVP_PKEY *pkey);

#endif
