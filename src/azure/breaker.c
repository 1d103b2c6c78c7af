/* Down vault hosts (azure/breaker.h). */
#include "azure/breaker.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/kvurl.h"
#include "azure/retry.h"
#include "core/error.h"

typedef struct kvs_down_entry {
    char hostport[KVS_KV_HOSTPORT_MAX];
    int64_t until; /* kvs_mono_ms */
    char why[200];
} kvs_down_entry;

struct kvs_breaker {
    pthread_mutex_t lock;
    kvs_down_entry down[KVS_DOWN_HOSTS];
};

kvs_breaker *kvs_breaker_new(void)
{
    kvs_breaker *b = calloc(1, sizeof(*b));
    if (b != NULL) pthread_mutex_init(&b->lock, NULL);
    return b;
}

void kvs_breaker_free(kvs_breaker *b)
{
    if (b == NULL) return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

kvs_status kvs_breaker_check(kvs_breaker *b, const char *hp, kvs_error *err)
{
    kvs_status st = KVS_OK;
    int64_t now = kvs_mono_ms();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < KVS_DOWN_HOSTS; i++) {
        kvs_down_entry *d = &b->down[i];
        if (d->until > now && strcmp(d->hostport, hp) == 0)
            st = kvs_fail(err, KVS_ERR_UNAVAILABLE,
                          "%s is skipped for %llds: it failed earlier in this run (%s)",
                          hp, (long long)((d->until - now + 999) / 1000), d->why);
    }
    pthread_mutex_unlock(&b->lock);
    return st;
}

void kvs_breaker_trip(kvs_breaker *b, const char *hp, const kvs_error *why)
{
    int64_t now = kvs_mono_ms();
    pthread_mutex_lock(&b->lock);
    kvs_down_entry *d = &b->down[0];
    for (size_t i = 0; i < KVS_DOWN_HOSTS; i++) {
        if (strcmp(b->down[i].hostport, hp) == 0) {
            d = &b->down[i];
            break;
        }
        if (b->down[i].until < d->until) d = &b->down[i];
    }
    snprintf(d->hostport, sizeof(d->hostport), "%s", hp);
    snprintf(d->why, sizeof(d->why), "%s", kvs_error_message(why));
    d->until = now + KVS_DOWN_MS;
    pthread_mutex_unlock(&b->lock);
}
