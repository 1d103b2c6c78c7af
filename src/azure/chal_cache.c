/* Challenge cache and first-contact single flight (azure/chal_cache.h). */
#include "azure/chal_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KVS_CHAL_CACHE 32
#define KVS_CHAL_PROBES 16 /* first contacts under way at once */

typedef struct kvs_chal_entry {
    char hostport[KVS_KV_HOSTPORT_MAX];
    kvs_challenge_info ci;
    uint64_t stamp;
} kvs_chal_entry;

struct kvs_chal_cache {
    pthread_mutex_t lock;
    pthread_cond_t probed; /* a first contact ended */
    uint64_t tick;
    kvs_chal_entry e[KVS_CHAL_CACHE];
    char probing[KVS_CHAL_PROBES][KVS_KV_HOSTPORT_MAX];
};

kvs_chal_cache *kvs_chal_cache_new(void)
{
    kvs_chal_cache *cc = calloc(1, sizeof(*cc));
    if (cc == NULL) return NULL;
    pthread_mutex_init(&cc->lock, NULL);
    pthread_cond_init(&cc->probed, NULL);
    return cc;
}

void kvs_chal_cache_free(kvs_chal_cache *cc)
{
    if (cc == NULL) return;
    pthread_cond_destroy(&cc->probed);
    pthread_mutex_destroy(&cc->lock);
    free(cc);
}

static const kvs_challenge_info *kvs_chal_find(const kvs_chal_cache *cc, const char *hp)
{
    for (size_t i = 0; i < KVS_CHAL_CACHE; i++)
        if (cc->e[i].hostport[0] && strcmp(cc->e[i].hostport, hp) == 0) return &cc->e[i].ci;
    return NULL;
}

static int kvs_probing_find(const kvs_chal_cache *cc, const char *hp)
{
    for (int i = 0; i < KVS_CHAL_PROBES; i++)
        if (strcmp(cc->probing[i], hp) == 0) return i;
    return -1;
}

int kvs_chal_cache_lookup(kvs_chal_cache *cc, const char *hp, kvs_challenge_info *ci,
                          int *probing)
{
    const kvs_challenge_info *cached;
    *probing = 0;
    pthread_mutex_lock(&cc->lock);
    while ((cached = kvs_chal_find(cc, hp)) == NULL && kvs_probing_find(cc, hp) >= 0)
        pthread_cond_wait(&cc->probed, &cc->lock);
    if (cached != NULL) *ci = *cached;
    int slot = cached ? -1 : kvs_probing_find(cc, "");
    if (slot >= 0) {
        snprintf(cc->probing[slot], sizeof cc->probing[slot], "%s", hp);
        *probing = 1;
    }
    pthread_mutex_unlock(&cc->lock);
    return cached != NULL;
}

void kvs_chal_cache_store(kvs_chal_cache *cc, const char *hp, const kvs_challenge_info *ci)
{
    pthread_mutex_lock(&cc->lock);
    kvs_chal_entry *slot = &cc->e[0];
    for (size_t i = 0; i < KVS_CHAL_CACHE; i++) {
        kvs_chal_entry *e = &cc->e[i];
        if (strcmp(e->hostport, hp) == 0) {
            slot = e;
            break;
        }
        if (e->stamp < slot->stamp) slot = e;
    }
    snprintf(slot->hostport, sizeof(slot->hostport), "%s", hp);
    slot->ci = *ci;
    slot->stamp = ++cc->tick;
    pthread_mutex_unlock(&cc->lock);
}

void kvs_chal_cache_probe_done(kvs_chal_cache *cc, const char *hp)
{
    pthread_mutex_lock(&cc->lock);
    int slot = kvs_probing_find(cc, hp);
    if (slot >= 0) cc->probing[slot][0] = '\0';
    pthread_cond_broadcast(&cc->probed);
    pthread_mutex_unlock(&cc->lock);
}
