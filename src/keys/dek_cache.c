/* Unwrapped data keys by wrapped value, in secure memory, bounded count. */
#define _POSIX_C_SOURCE 200809L
#include "keys/dek_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/secmem.h"

typedef struct kvs_dek_entry {
    uint8_t id[32];
    uint8_t dek[KVS_DEK_LEN];
    uint8_t used;
    uint8_t prefetched; /* stored ahead of decryption, not used yet */
} kvs_dek_entry;

#define KVS_DEK_INFLIGHT 64 /* unwraps in flight tracked for single flight */

struct kvs_dek_cache {
    pthread_mutex_t lock;
    pthread_cond_t finished; /* an unwrap in flight ended */
    kvs_dek_entry *e;        /* secure memory, allocated on first put */
    size_t cap;
    size_t count;
    size_t next; /* ring position of the next overwrite */
    uint8_t inflight[KVS_DEK_INFLIGHT][32]; /* ids being unwrapped */
    int inflight_used[KVS_DEK_INFLIGHT];
};

kvs_dek_cache *kvs_dek_cache_new(size_t max_entries)
{
    kvs_dek_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->cap = max_entries ? max_entries : KVS_DEK_CACHE_DEFAULT;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->finished, NULL);
    return c;
}

void kvs_dek_cache_free(kvs_dek_cache *c)
{
    if (c == NULL) return;
    if (c->e != NULL) kvs_secure_free(c->e, c->cap * sizeof(kvs_dek_entry));
    pthread_cond_destroy(&c->finished);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Length-prefixed fields so no two recipients hash alike by concatenation. */
static int kvs_dek_hash_field(EVP_MD_CTX *md, const void *p, size_t n)
{
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    return EVP_DigestUpdate(md, len, sizeof(len)) == 1 && EVP_DigestUpdate(md, p, n) == 1;
}

static int kvs_dek_id(const kvs_recipient *r, uint8_t id[32])
{
    unsigned int n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             kvs_dek_hash_field(md, r->type, strnlen(r->type, sizeof(r->type))) &&
             kvs_dek_hash_field(md, r->alg, strnlen(r->alg, sizeof(r->alg))) &&
             kvs_dek_hash_field(md, r->key_id, strnlen(r->key_id, sizeof(r->key_id))) &&
             kvs_dek_hash_field(md, r->wrapped, r->wrapped_len) &&
             EVP_DigestFinal_ex(md, id, &n) == 1 && n == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static kvs_dek_entry *kvs_dek_find(kvs_dek_cache *c, const uint8_t id[32])
{
    for (size_t i = 0; c->e != NULL && i < c->cap; i++)
        if (c->e[i].used && CRYPTO_memcmp(c->e[i].id, id, 32) == 0) return &c->e[i];
    return NULL;
}

/* The entry for r with its DEK copied out, or NULL. */
static kvs_dek_entry *kvs_dek_lookup(kvs_dek_cache *c, const kvs_recipient *r,
                                     uint8_t dek[KVS_DEK_LEN])
{
    uint8_t id[32];
    if (c == NULL || r == NULL || r->wrapped_len > sizeof(r->wrapped)) return NULL;
    if (kvs_dek_id(r, id) != 0) return NULL;
    kvs_dek_entry *e = kvs_dek_find(c, id);
    if (e != NULL) memcpy(dek, e->dek, KVS_DEK_LEN);
    return e;
}

/* 1 = hit that saved an unwrap, 2 = first hit on a prefetched key (now
 * unmarked unless prefetch), 0 = miss. Caller holds the lock. */
static int kvs_dek_get_locked(kvs_dek_cache *c, const kvs_recipient *r,
                              uint8_t dek[KVS_DEK_LEN], int prefetch)
{
    kvs_dek_entry *e = kvs_dek_lookup(c, r, dek);
    if (e == NULL) return 0;
    if (prefetch) return 1; /* leaves a prefetched key marked for its decryption */
    int first_use = e->prefetched;
    e->prefetched = 0;
    return first_use ? 2 : 1;
}

/* Caller holds the lock. */
static void kvs_dek_put_locked(kvs_dek_cache *c, const kvs_recipient *r,
                               const uint8_t dek[KVS_DEK_LEN], int prefetched)
{
    uint8_t id[32];
    if (r == NULL || r->wrapped_len > sizeof(r->wrapped)) return;
    if (kvs_dek_id(r, id) != 0) return;
    if (c->e == NULL) {
        c->e = kvs_secure_alloc(c->cap * sizeof(kvs_dek_entry));
        if (c->e == NULL) return;
    }
    kvs_dek_entry *e = kvs_dek_find(c, id);
    if (e == NULL) {
        e = &c->e[c->next];
        c->next = (c->next + 1) % c->cap;
        if (!e->used) c->count++;
    }
    memcpy(e->id, id, sizeof(id));
    memcpy(e->dek, dek, KVS_DEK_LEN);
    e->used = 1;
    e->prefetched = prefetched != 0;
}

/* Leaves a prefetched key marked: only its use by a decryption clears it. */
int kvs_dek_cache_get(kvs_dek_cache *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN])
{
    if (c == NULL) return 0;
    pthread_mutex_lock(&c->lock);
    int hit = kvs_dek_lookup(c, r, dek) != NULL;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kvs_dek_cache_put(kvs_dek_cache *c, const kvs_recipient *r,
                       const uint8_t dek[KVS_DEK_LEN])
{
    if (c == NULL) return;
    pthread_mutex_lock(&c->lock);
    kvs_dek_put_locked(c, r, dek, 0);
    pthread_mutex_unlock(&c->lock);
}

static int kvs_inflight_find(const kvs_dek_cache *c, const uint8_t id[32])
{
    for (int i = 0; i < KVS_DEK_INFLIGHT; i++)
        if (c->inflight_used[i] && memcmp(c->inflight[i], id, 32) == 0) return i; /* not secret */
    return -1;
}

int kvs_dek_cache_begin(kvs_dek_cache *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN],
                        int prefetch)
{
    uint8_t id[32];
    int hit = 0;
    if (c == NULL || kvs_dek_cache_id(r, id) != 0) return 0;
    pthread_mutex_lock(&c->lock);
    while (!(hit = kvs_dek_get_locked(c, r, dek, prefetch)) && kvs_inflight_find(c, id) >= 0)
        pthread_cond_wait(&c->finished, &c->lock);
    for (int i = 0; !hit && i < KVS_DEK_INFLIGHT; i++) {
        if (!c->inflight_used[i]) {
            memcpy(c->inflight[i], id, 32);
            c->inflight_used[i] = 1;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kvs_dek_cache_finish(kvs_dek_cache *c, const kvs_recipient *r, const uint8_t *dek,
                          int prefetch)
{
    uint8_t id[32];
    if (c == NULL || kvs_dek_cache_id(r, id) != 0) return;
    pthread_mutex_lock(&c->lock);
    if (dek != NULL) kvs_dek_put_locked(c, r, dek, prefetch);
    int i = kvs_inflight_find(c, id);
    if (i >= 0) c->inflight_used[i] = 0;
    pthread_cond_broadcast(&c->finished);
    pthread_mutex_unlock(&c->lock);
}

size_t kvs_dek_cache_count(kvs_dek_cache *c)
{
    if (c == NULL) return 0;
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int kvs_dek_cache_id(const kvs_recipient *r, uint8_t id[32])
{
    if (r == NULL || r->wrapped_len > sizeof(r->wrapped)) return -1;
    return kvs_dek_id(r, id);
}
