/* Access tokens per (authority, tenant, scope), until shortly before they
 * expire, with a single flight per key: while one caller asks the
 * credential for a token, callers needing the same token wait for it, and
 * callers needing any other token (another scope, tenant or authority) and
 * every other cache of the client go on. The lock is never held across a
 * token request. Nothing here knows a Key Vault scope. Thread-safe. */
#ifndef KVS_AZURE_TOKEN_CACHE_H
#define KVS_AZURE_TOKEN_CACHE_H

#include "azure/cred.h"
#include "azure/sbuf.h"

typedef struct kvs_token_cache kvs_token_cache;

kvs_token_cache *kvs_token_cache_new(void); /* NULL when out of memory */
/* Wipes every token. NULL is a no-op. */
void kvs_token_cache_free(kvs_token_cache *tc);

/* The token for r's (authority, tenant, scope), its text appended to out
 * (secure). Cached and still valid unless force; else from cred (http is
 * the caller's handle) and then *fresh = 1. */
kvs_status kvs_token_cache_get(kvs_token_cache *tc, kvs_cred *cred, kvs_http *http,
                               const kvs_token_req *r, int force, kvs_sbuf *out, int *fresh,
                               kvs_error *err);

/* Forget the token for (authority, tenant, scope), e.g. after a 401. */
void kvs_token_cache_drop(kvs_token_cache *tc, const char *authority, const char *tenant,
                          const char *scope);

#endif
