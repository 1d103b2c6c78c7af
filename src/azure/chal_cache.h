/* Verified authentication challenges per vault host, and the first contact
 * with a host made once: concurrent calls wait for its outcome rather than
 * each probing the vault (every request counts against throttling).
 * Thread-safe, own lock. */
#ifndef KVS_AZURE_CHAL_CACHE_H
#define KVS_AZURE_CHAL_CACHE_H

#include "azure/challenge.h"

typedef struct kvs_chal_cache kvs_chal_cache;

kvs_chal_cache *kvs_chal_cache_new(void); /* NULL when out of memory */
void kvs_chal_cache_free(kvs_chal_cache *cc);

/* 1 with the cached challenge of hostport copied into ci. Else 0, and the
 * caller makes the first contact: *probing is set when it holds the
 * host's probe slot, which kvs_chal_cache_probe_done releases. */
int kvs_chal_cache_lookup(kvs_chal_cache *cc, const char *hostport, kvs_challenge_info *ci,
                          int *probing);
void kvs_chal_cache_store(kvs_chal_cache *cc, const char *hostport,
                          const kvs_challenge_info *ci);
void kvs_chal_cache_probe_done(kvs_chal_cache *cc, const char *hostport);

#endif
