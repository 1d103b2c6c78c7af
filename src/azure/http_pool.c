/* HTTP handle checkout (azure/http_pool.h). */
#include "azure/http_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"

struct kvs_http_pool {
    pthread_mutex_t lock;
    pthread_cond_t returned;
    kvs_http_config cfg;
    kvs_http *http[KVS_HTTP_SLOTS]; /* made on demand; [0] at creation */
    int busy[KVS_HTTP_SLOTS];
};

kvs_status kvs_http_pool_new(const kvs_http_config *cfg, kvs_http_pool **out, kvs_error *err)
{
    kvs_http_pool *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (p == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    p->cfg = *cfg;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->returned, NULL);
    kvs_status st = kvs_http_new(&p->cfg, &p->http[0], err);
    if (st != KVS_OK) {
        kvs_http_pool_free(p);
        return st;
    }
    *out = p;
    return KVS_OK;
}

void kvs_http_pool_free(kvs_http_pool *p)
{
    if (p == NULL) return;
    for (size_t i = 0; i < KVS_HTTP_SLOTS; i++) kvs_http_free(p->http[i]);
    pthread_cond_destroy(&p->returned);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

kvs_status kvs_http_pool_checkout(kvs_http_pool *p, kvs_http **h, size_t *slot, kvs_error *err)
{
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        size_t i, made = 0;
        for (i = 0; i < KVS_HTTP_SLOTS; i++) {
            if (p->http[i] != NULL) made++;
            if (!p->busy[i] && (p->http[i] != NULL || made == i)) break;
        }
        if (i < KVS_HTTP_SLOTS && p->http[i] == NULL &&
            kvs_http_new(&p->cfg, &p->http[i], err) != KVS_OK)
            i = KVS_HTTP_SLOTS; /* cannot make another: wait for one in use */
        if (i < KVS_HTTP_SLOTS) {
            p->busy[i] = 1;
            *slot = i;
            *h = p->http[i];
            break;
        }
        if (made == 0) {
            st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory (HTTP handle)");
            break;
        }
        pthread_cond_wait(&p->returned, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return st;
}

void kvs_http_pool_checkin(kvs_http_pool *p, size_t slot)
{
    pthread_mutex_lock(&p->lock);
    p->busy[slot] = 0;
    pthread_cond_broadcast(&p->returned);
    pthread_mutex_unlock(&p->lock);
}
