/* Unwrapped data keys by wrapped value, in secure memory, bounded count.
 *
 * Decrypting many files that share a wrapped DEK (or re-reading one file)
 * must not cost one Key Vault unwrap each. An entry is keyed by SHA-256 over
 * (type, alg, key id, wrapped bytes), so a value cached for one key never
 * answers for another. When full, the oldest entry is overwritten.
 * Thread-safe: the cache has its own lock, held only for lookups and
 * stores, never across an unwrap. */
#ifndef KVS_KEYS_DEK_CACHE_H
#define KVS_KEYS_DEK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/keys.h"

#define KVS_DEK_CACHE_DEFAULT 1024

typedef struct kvs_dek_cache kvs_dek_cache;

/* max_entries 0: KVS_DEK_CACHE_DEFAULT. NULL when out of memory. */
kvs_dek_cache *kvs_dek_cache_new(size_t max_entries);
/* Wipes every entry. NULL is a no-op. */
void kvs_dek_cache_free(kvs_dek_cache *c);

/* 1 and dek filled on a hit, else 0. */
int kvs_dek_cache_get(kvs_dek_cache *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN]);
/* Remember dek for r (replacing an equal entry). Silently does nothing when
 * memory is short: the cache is an optimisation. */
void kvs_dek_cache_put(kvs_dek_cache *c, const kvs_recipient *r,
                       const uint8_t dek[KVS_DEK_LEN]);
size_t kvs_dek_cache_count(kvs_dek_cache *c);
/* The cache key of r (SHA-256 over its fields): 0, or -1 on failure. */
int kvs_dek_cache_id(const kvs_recipient *r, uint8_t id[32]);

/* Single flight around an unwrap: concurrent restores of files sharing a
 * DEK make one unwrap, the others wait for it. begin returns 1 on a hit
 * that saved an unwrap, 2 on a hit on a key unwrapped ahead of decryption
 * and not used since (not a saving), both with dek filled; 0 on a miss:
 * the caller unwraps, then must call finish (dek NULL on failure). Waits
 * while another thread unwraps the same recipient.
 *
 * prefetch: the caller unlocks ahead of a later decryption (kvs_unlock_fd).
 * Its hits leave the mark alone, and keys it stores are marked, so only a
 * decryption's first use clears the mark. */
int kvs_dek_cache_begin(kvs_dek_cache *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN],
                        int prefetch);
void kvs_dek_cache_finish(kvs_dek_cache *c, const kvs_recipient *r, const uint8_t *dek,
                          int prefetch);

#endif
