/* A caching provider over a local key, so a restore's unwraps run ahead in
 * parallel (see dekcache.h). The Key Vault client has its own cache. */
#define _DEFAULT_SOURCE
#include "cli/dekcache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kvseal/secmem.h"

enum { SLOT_EMPTY, SLOT_PENDING, SLOT_READY };

typedef struct slot {
    int state;
    uint64_t seq; /* when filled: the oldest ready slot is reused first */
    char alg[sizeof(((kvs_recipient *)0)->alg)];
    size_t wrapped_len;
    uint8_t *wrapped; /* KVS_MAX_WRAPPED_LEN bytes of dek_cache.wrapped */
} slot;

typedef struct dek_cache {
    kvs_provider *inner;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a pending slot was filled or dropped */
    size_t cap;
    uint64_t next_seq;
    slot *slots;
    uint8_t *wrapped; /* cap * KVS_MAX_WRAPPED_LEN, public data */
    uint8_t *deks;    /* cap * KVS_DEK_LEN, secure memory */
} dek_cache;

static dek_cache *as_cache(const void *impl)
{
    return (dek_cache *)impl;
}

static uint8_t *dek_of(dek_cache *c, const slot *s)
{
    return c->deks + (size_t)(s - c->slots) * KVS_DEK_LEN;
}

static slot *find(dek_cache *c, const kvs_recipient *r)
{
    for (size_t i = 0; i < c->cap; i++) {
        slot *s = &c->slots[i];
        if (s->state != SLOT_EMPTY && s->wrapped_len == r->wrapped_len &&
            strcmp(s->alg, r->alg) == 0 && memcmp(s->wrapped, r->wrapped, r->wrapped_len) == 0) /* not secret */
            return s;
    }
    return NULL;
}

/* An empty slot, else the oldest ready one (its key wiped); NULL if every
 * slot is pending. */
static slot *claim(dek_cache *c)
{
    slot *best = NULL;
    for (size_t i = 0; i < c->cap; i++) {
        slot *s = &c->slots[i];
        if (s->state == SLOT_EMPTY)
            return s;
        if (s->state == SLOT_READY && (!best || s->seq < best->seq))
            best = s;
    }
    if (best) {
        OPENSSL_cleanse(dek_of(c, best), KVS_DEK_LEN);
        best->state = SLOT_EMPTY;
    }
    return best;
}

/* The inner provider's unwrap is checked to 32 bytes by kvs_provider_unwrap. */
static kvs_status cache_unwrap_dek(dek_cache *c, const kvs_recipient *r, uint8_t *dek,
                                   kvs_error *err)
{
    if (r->wrapped_len > KVS_MAX_WRAPPED_LEN)
        return kvs_provider_unwrap(c->inner, r, dek, err);
    pthread_mutex_lock(&c->mu);
    slot *s;
    while ((s = find(c, r)) != NULL && s->state == SLOT_PENDING)
        pthread_cond_wait(&c->cv, &c->mu); /* single flight: one RSA operation per key */
    if (s) {
        memcpy(dek, dek_of(c, s), KVS_DEK_LEN);
        pthread_mutex_unlock(&c->mu);
        return KVS_OK;
    }
    s = claim(c);
    if (s) {
        s->state = SLOT_PENDING;
        s->seq = c->next_seq++;
        memcpy(s->alg, r->alg, sizeof s->alg);
        s->alg[sizeof s->alg - 1] = '\0';
        s->wrapped_len = r->wrapped_len;
        memcpy(s->wrapped, r->wrapped, r->wrapped_len);
    }
    pthread_mutex_unlock(&c->mu);
    kvs_status st = kvs_provider_unwrap(c->inner, r, dek, err);
    if (!s)
        return st;
    pthread_mutex_lock(&c->mu);
    if (st == KVS_OK)
        memcpy(dek_of(c, s), dek, KVS_DEK_LEN);
    s->state = st == KVS_OK ? SLOT_READY : SLOT_EMPTY;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static kvs_status cache_unwrap(void *impl, const kvs_recipient *r, uint8_t *out, size_t out_cap,
                               size_t *out_len, kvs_error *err)
{
    (void)out_cap; /* KVS_MAX_WRAPPED_LEN >= KVS_DEK_LEN */
    kvs_status st = cache_unwrap_dek(as_cache(impl), r, out, err);
    *out_len = st == KVS_OK ? KVS_DEK_LEN : 0;
    return st;
}

static kvs_status cache_wrap(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                             kvs_error *err)
{
    return kvs_provider_wrap(as_cache(impl)->inner, dek, out, err);
}

static int cache_matches(const void *impl, const kvs_recipient *r)
{
    return kvs_provider_matches(as_cache(impl)->inner, r);
}

static const char *cache_identify(const void *impl)
{
    return kvs_provider_identify(as_cache(impl)->inner);
}

static void cache_free(dek_cache *c)
{
    if (c->deks)
        kvs_secure_free(c->deks, c->cap * KVS_DEK_LEN); /* wipes */
    free(c->wrapped);
    free(c->slots);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void cache_destroy(void *impl)
{
    dek_cache *c = as_cache(impl);
    kvs_provider_free(c->inner);
    cache_free(c);
}

static const kvs_provider_ops cache_ops = {
    .name = "rsa",
    .wrap = cache_wrap,
    .matches = cache_matches,
    .unwrap = cache_unwrap,
    .identify = cache_identify,
    .destroy = cache_destroy,
};

kvs_provider *cli_dek_cache_new(kvs_provider *inner, size_t capacity)
{
    dek_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->cap = capacity;
    c->slots = calloc(capacity, sizeof *c->slots);
    c->wrapped = calloc(capacity, KVS_MAX_WRAPPED_LEN);
    c->deks = kvs_secure_alloc(capacity * KVS_DEK_LEN);
    if (!c->slots || !c->wrapped || !c->deks) {
        cache_free(c);
        return NULL;
    }
    for (size_t i = 0; i < capacity; i++)
        c->slots[i].wrapped = c->wrapped + i * KVS_MAX_WRAPPED_LEN;
    kvs_provider *p = NULL;
    kvs_error err;
    if (kvs_provider_new(&cache_ops, sizeof cache_ops, c, &p, &err) != KVS_OK) {
        cache_free(c);
        return NULL;
    }
    c->inner = inner; /* taken only on success, as dekcache.h says */
    return p;
}
