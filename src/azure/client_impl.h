/* The parts of the shared Key Vault client, for client.c (registry and
 * accessors) and call.c (the request state machine) only.
 *
 * Locking: there is no client-wide lock. Each part has its own, held only
 * briefly and never across a request: the HTTP pool, the breaker, the
 * challenge cache, the token cache (one flight per token: a slow token
 * request blocks only callers of that same token), the public-key cache and
 * the DEK cache. The registry lock guards only the list and reference
 * counts. */
#ifndef KVS_AZURE_CLIENT_IMPL_H
#define KVS_AZURE_CLIENT_IMPL_H

#include <pthread.h>

#include "azure/breaker.h"
#include "azure/chal_cache.h"
#include "azure/client.h"
#include "azure/cred.h"
#include "azure/http_pool.h"
#include "azure/key_cache.h"
#include "azure/pacer.h"
#include "azure/settings.h"
#include "azure/token_cache.h"

struct kvs_kv_client {
    kvs_kv_client *next; /* registry */
    int refs;
    kvs_kv_settings set;
    kvs_kv_allowlist allow;
    kvs_http_pool *pool;
    kvs_pacer *pacer;
    kvs_breaker *breaker;
    kvs_cred *cred;
    kvs_chal_cache *chal;
    kvs_token_cache *tokens;
    kvs_key_cache *keys;
    pthread_mutex_t attachment_lock;
    void *attachment; /* kvs_kv_client_attachment */
    void (*attachment_free)(void *);
};

#endif
