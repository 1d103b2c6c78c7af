/* Vault hosts that failed lately. A host that failed (no answer, only 5xx
 * after every retry, or still throttling when the throttle budget ran out)
 * is skipped for KVS_DOWN_MS (KVS_ERR_UNAVAILABLE): later calls
 * fail at once instead of each spending the whole retry budget, so disaster
 * recovery moves on to other recipients quickly. Thread-safe, own lock. */
#ifndef KVS_AZURE_BREAKER_H
#define KVS_AZURE_BREAKER_H

#include "kvseal/status.h"

#define KVS_DOWN_HOSTS 8
#define KVS_DOWN_MS 60000

typedef struct kvs_breaker kvs_breaker;

kvs_breaker *kvs_breaker_new(void); /* NULL when out of memory */
void kvs_breaker_free(kvs_breaker *b);

/* KVS_OK, or the remembered failure of hostport if it is down. */
kvs_status kvs_breaker_check(kvs_breaker *b, const char *hostport, kvs_error *err);
/* Mark hostport down, remembering why's message. */
void kvs_breaker_trip(kvs_breaker *b, const char *hostport, const kvs_error *why);

#endif
