/* The client's HTTP handles: one call checks one out for its whole run, so
 * up to KVS_HTTP_SLOTS calls reach the network concurrently, each on its
 * own (reused) connection. Thread-safe, with its own lock. */
#ifndef KVS_AZURE_HTTP_POOL_H
#define KVS_AZURE_HTTP_POOL_H

#include <stddef.h>

#include "azure/http.h"

#define KVS_HTTP_SLOTS 16 /* concurrent vault calls per client */

typedef struct kvs_http_pool kvs_http_pool;

/* A pool with its first handle made (so a bad configuration fails here).
 * cfg is copied; the strings it points to must outlive the pool. */
kvs_status kvs_http_pool_new(const kvs_http_config *cfg, kvs_http_pool **out, kvs_error *err);
/* NULL is a no-op. Every handle must have been checked in. */
void kvs_http_pool_free(kvs_http_pool *p);

/* A free handle for one call (made on demand; waits while all are busy). */
kvs_status kvs_http_pool_checkout(kvs_http_pool *p, kvs_http **h, size_t *slot, kvs_error *err);
void kvs_http_pool_checkin(kvs_http_pool *p, size_t slot);

#endif
