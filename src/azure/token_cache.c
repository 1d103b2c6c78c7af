/* Token cache with one flight per (authority, tenant, scope)
 * (azure/token_cache.h). */
#include "azure/token_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/challenge.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "core/error.h"

#define KVS_TOKEN_CACHE 16
#define KVS_AUTHORITY_MAX 512

typedef struct kvs_token_entry {
    char authority[KVS_AUTHORITY_MAX]; /* "" = unused slot */
    char tenant[KVS_TENANT_MAX + 1];
    char scope[KVS_SCOPE_MAX];
    kvs_token tok;
    int busy;       /* a caller is asking the credential for this token */
    uint64_t stamp; /* last use, for eviction */
} kvs_token_entry;

struct kvs_token_cache {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a token request ended */
    uint64_t tick;
    kvs_token_entry e[KVS_TOKEN_CACHE];
};

kvs_token_cache *kvs_token_cache_new(void)
{
    kvs_token_cache *tc = calloc(1, sizeof(*tc));
    if (tc == NULL) return NULL;
    pthread_mutex_init(&tc->lock, NULL);
    pthread_cond_init(&tc->done, NULL);
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) kvs_token_init(&tc->e[i].tok);
    return tc;
}

void kvs_token_cache_free(kvs_token_cache *tc)
{
    if (tc == NULL) return;
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) kvs_token_free(&tc->e[i].tok);
    pthread_cond_destroy(&tc->done);
    pthread_mutex_destroy(&tc->lock);
    free(tc);
}

static int kvs_entry_is(const kvs_token_entry *e, const char *authority, const char *tenant,
                        const char *scope)
{
    return e->authority[0] && strcmp(e->authority, authority) == 0 &&
           strcmp(e->tenant, tenant) == 0 && strcmp(e->scope, scope) == 0;
}

static kvs_token_entry *kvs_entry_find(kvs_token_cache *tc, const kvs_token_req *r)
{
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++)
        if (kvs_entry_is(&tc->e[i], r->authority, r->tenant, r->scope)) return &tc->e[i];
    return NULL;
}

static void kvs_entry_clear(kvs_token_entry *e)
{
    kvs_token_free(&e->tok);
    kvs_token_init(&e->tok);
    e->authority[0] = '\0';
}

/* A slot for r that no request is filling: its own, else the least
 * recently used idle one. NULL when every slot is busy. */
static kvs_token_entry *kvs_entry_claim(kvs_token_cache *tc, const kvs_token_req *r)
{
    kvs_token_entry *e = kvs_entry_find(tc, r);
    if (e == NULL) {
        for (size_t i = 0; i < KVS_TOKEN_CACHE; i++)
            if (!tc->e[i].busy && (e == NULL || tc->e[i].stamp < e->stamp)) e = &tc->e[i];
        if (e == NULL) return NULL;
    }
    kvs_entry_clear(e);
    snprintf(e->authority, sizeof(e->authority), "%s", r->authority);
    snprintf(e->tenant, sizeof(e->tenant), "%s", r->tenant);
    snprintf(e->scope, sizeof(e->scope), "%s", r->scope);
    e->busy = 1;
    return e;
}

static kvs_status kvs_copy_out(const kvs_token *t, kvs_sbuf *out, kvs_error *err)
{
    if (kvs_sbuf_append(out, t->text.p, t->text.len) != 0)
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    return KVS_OK;
}

kvs_status kvs_token_cache_get(kvs_token_cache *tc, kvs_cred *cred, kvs_http *http,
                               const kvs_token_req *r, int force, kvs_sbuf *out, int *fresh,
                               kvs_error *err)
{
    kvs_token_entry *e;
    kvs_status st;
    *fresh = 0;
    if (strlen(r->authority) >= KVS_AUTHORITY_MAX || strlen(r->tenant) > KVS_TENANT_MAX ||
        strlen(r->scope) >= KVS_SCOPE_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "token authority, tenant or scope too long");
    pthread_mutex_lock(&tc->lock);
    for (;;) {
        e = kvs_entry_find(tc, r);
        if (e != NULL && e->busy) { /* the same token is on its way */
            pthread_cond_wait(&tc->done, &tc->lock);
            continue;
        }
        if (!force && e != NULL && kvs_token_valid(&e->tok, kvs_wall_s())) {
            e->stamp = ++tc->tick;
            st = kvs_copy_out(&e->tok, out, err);
            pthread_mutex_unlock(&tc->lock);
            return st;
        }
        if ((e = kvs_entry_claim(tc, r)) != NULL) break;
        pthread_cond_wait(&tc->done, &tc->lock); /* every slot busy */
    }
    pthread_mutex_unlock(&tc->lock);

    /* The request runs unlocked: only callers of this same token wait. */
    kvs_token tok;
    kvs_token_init(&tok);
    st = kvs_cred_get_token(cred, http, r, &tok, err);

    pthread_mutex_lock(&tc->lock);
    if (st == KVS_OK) {
        kvs_token_free(&e->tok);
        e->tok = tok; /* the entry takes the secure buffer */
        kvs_token_init(&tok);
        e->stamp = ++tc->tick;
        st = kvs_copy_out(&e->tok, out, err);
        *fresh = st == KVS_OK;
        kvs_kv_stat_add(KVS_STAT_TOKEN);
    } else {
        kvs_entry_clear(e);
    }
    e->busy = 0;
    pthread_cond_broadcast(&tc->done);
    pthread_mutex_unlock(&tc->lock);
    kvs_token_free(&tok);
    return st;
}

void kvs_token_cache_drop(kvs_token_cache *tc, const char *authority, const char *tenant,
                          const char *scope)
{
    pthread_mutex_lock(&tc->lock);
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) {
        kvs_token_entry *e = &tc->e[i];
        if (!e->busy && kvs_entry_is(e, authority, tenant, scope)) kvs_entry_clear(e);
    }
    pthread_mutex_unlock(&tc->lock);
}
