/* The blob source (blob/source.h): ranged Gets pinned to one ETag, and a
 * growing read-ahead for sequential reads fetched in parallel parts. */
#include "blob/source.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define RA_FIRST (64u * 1024)       /* the first refill: a header and a bit */
#define PART_MIN (1024u * 1024)     /* smallest part of a parallel refill */
#define MAX_PARTS 16

static kvs_blob_source *blob_source(kvs_source *s)
{
    return (kvs_blob_source *)s;
}

typedef struct part {
    kvs_blob_source *s;
    uint64_t off;
    uint8_t *buf;
    size_t len;
    kvs_status st;
    kvs_error err;
} part;

static void *fetch_part(void *arg)
{
    part *p = arg;
    kvs_blob_store *store = p->s->store;
    p->st = store->ops->read_range(store, p->off, p->buf, p->len, p->s->etag, &p->err);
    return NULL;
}

/* len bytes at off (inside the blob) as up to `parallel` ranged Gets at
 * once; the first part runs on the calling thread. */
static kvs_status fetch(kvs_blob_source *s, uint64_t off, uint8_t *buf, size_t len, kvs_error *err)
{
    part parts[MAX_PARTS];
    pthread_t threads[MAX_PARTS];
    int started[MAX_PARTS] = {0};
    size_t n = len / PART_MIN;
    if (n > s->parallel) n = s->parallel;
    if (n > MAX_PARTS) n = MAX_PARTS;
    if (n < 1) n = 1;
    size_t each = len / n;
    for (size_t i = 0; i < n; i++) {
        size_t at = i * each;
        parts[i] = (part){s, off + at, buf + at, i + 1 == n ? len - at : each, KVS_OK, {0}};
        if (i > 0) started[i] = pthread_create(&threads[i], NULL, fetch_part, &parts[i]) == 0;
    }
    fetch_part(&parts[0]);
    for (size_t i = 1; i < n; i++) {
        if (started[i]) pthread_join(threads[i], NULL);
        else fetch_part(&parts[i]); /* no thread: fetched here instead */
    }
    for (size_t i = 0; i < n; i++)
        if (parts[i].st != KVS_OK) return kvs_error_copy(err, &parts[i].err);
    return KVS_OK;
}

static kvs_status bsrc_read_at(kvs_source *base, uint64_t off, uint8_t *buf, size_t len,
                               kvs_error *err)
{
    kvs_blob_source *s = blob_source(base);
    if (off > base->size || len > base->size - off)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated blob: it is shorter than its chunks require");
    if (len == 0) return KVS_OK;
    pthread_mutex_lock(&s->mu);
    while (s->in_flight >= s->parallel) pthread_cond_wait(&s->cv, &s->mu);
    s->in_flight++;
    pthread_mutex_unlock(&s->mu);
    kvs_status st = s->store->ops->read_range(s->store, off, buf, len, s->etag, err);
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Refill the read-ahead at pos with at least want bytes, and more each
 * time (up to ra_max): long sequential reads become few large Gets. */
static kvs_status refill(kvs_blob_source *s, size_t want, kvs_error *err)
{
    uint64_t left = s->base.size - s->pos;
    size_t n = want > s->ra_next ? want : s->ra_next;
    if (left < n) n = (size_t)left;
    if (n > s->ra_cap) { /* grows with ra_next: a header read costs little */
        uint8_t *grown = realloc(s->ra, n);
        if (!grown) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        s->ra = grown;
        s->ra_cap = n;
    }
    s->ra_len = s->ra_used = 0;
    kvs_status st = fetch(s, s->pos, s->ra, n, err);
    if (st != KVS_OK) return st;
    s->ra_off = s->pos;
    s->ra_len = n;
    s->ra_next = s->ra_next * 2 > s->ra_max ? s->ra_max : s->ra_next * 2;
    return KVS_OK;
}

static kvs_status bsrc_read(kvs_source *base, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_blob_source *s = blob_source(base);
    *got = 0;
    while (*got < len && s->pos < base->size) {
        size_t want = len - *got;
        uint64_t left = base->size - s->pos;
        kvs_status st = KVS_OK;
        if (s->ra_used < s->ra_len) { /* from the read-ahead */
            size_t n = s->ra_len - s->ra_used < want ? s->ra_len - s->ra_used : want;
            memcpy(buf + *got, s->ra + s->ra_used, n);
            s->ra_used += n;
            s->pos += n;
            *got += n;
        } else if (!s->ra_max || want >= s->ra_max) { /* large: straight into buf */
            size_t n = left < want ? (size_t)left : want;
            st = fetch(s, s->pos, buf + *got, n, err);
            if (st == KVS_OK) {
                s->pos += n;
                *got += n;
            }
        } else {
            st = refill(s, want, err);
        }
        if (st != KVS_OK) return st;
    }
    return KVS_OK;
}

static kvs_status bsrc_finish(kvs_source *base, uint64_t end, kvs_error *err)
{
    kvs_blob_source *s = blob_source(base);
    (void)err;
    s->pos = end;
    s->ra_len = s->ra_used = 0;
    return KVS_OK;
}

static const kvs_source_ops blob_source_ops = {
    .read = bsrc_read, .read_at = bsrc_read_at, .finish = bsrc_finish,
};

kvs_status kvs_blob_source_open(kvs_blob_source *s, kvs_blob_store *store, size_t readahead,
                                unsigned parallel, kvs_error *err)
{
    kvs_blob_props props;
    memset(s, 0, sizeof *s);
    s->base.ops = &blob_source_ops;
    s->base.caps = KVS_IO_POSITIONAL;
    s->base.size = KVS_IO_SIZE_UNKNOWN;
    s->store = store;
    s->parallel = parallel ? parallel : 4;
    s->ra_max = readahead;
    s->ra_next = readahead < RA_FIRST ? readahead : RA_FIRST;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    kvs_status st = store->ops->properties(store, &props, err);
    if (st != KVS_OK) return st;
    s->base.size = props.size;
    memcpy(s->etag, props.etag, sizeof s->etag);
    s->etag[sizeof s->etag - 1] = '\0';
    return KVS_OK;
}

void kvs_blob_source_close(kvs_blob_source *s)
{
    free(s->ra); /* ciphertext only: nothing to wipe */
    s->ra = NULL;
    s->ra_cap = s->ra_len = s->ra_used = 0;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}
