/* The unit tests' in-memory block blob (fake_store.h): Blob Storage's
 * staging, commit and conditional rules, faults and counters. */
#include "fake_store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

typedef struct staged {
    char id[KVS_BLOB_ID_TEXT_MAX];
    uint8_t *data;
    size_t len;
} staged;

typedef struct meta_pair {
    char *name, *value;
} meta_pair;

struct fake_store {
    kvs_blob_store base;
    pthread_mutex_t mu;
    int exists;
    uint8_t *blob;
    size_t blob_len;
    kvs_blob_block *committed; /* the committed list, sizes included */
    size_t n_committed;
    uint8_t **committed_data;  /* each committed block's bytes */
    unsigned etag_gen;
    char etag[KVS_BLOB_ETAG_MAX];
    staged *staged;
    size_t n_staged;
    meta_pair *meta;
    size_t n_meta;
    fake_store_counters c;
    unsigned put_in_flight, read_in_flight;
    unsigned fail_put_nth, change_reads_nth, put_delay_us, read_delay_us;
    int fail_put_md5; /* the injected put_block failure is a 400 Md5Mismatch */
};

static fake_store *fake(kvs_blob_store *s)
{
    return (fake_store *)s;
}

static void new_etag(fake_store *f)
{
    snprintf(f->etag, sizeof f->etag, "\"0x8DC%08X\"", ++f->etag_gen);
}

static void free_committed(fake_store *f)
{
    for (size_t i = 0; i < f->n_committed; i++) free(f->committed_data[i]);
    free(f->committed_data);
    free(f->committed);
    free(f->blob);
    f->committed_data = NULL;
    f->committed = NULL;
    f->blob = NULL;
    f->n_committed = f->blob_len = 0;
}

static void free_meta(fake_store *f)
{
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].name);
        free(f->meta[i].value);
    }
    free(f->meta);
    f->meta = NULL;
    f->n_meta = 0;
}

static void free_staged(fake_store *f)
{
    for (size_t i = 0; i < f->n_staged; i++) free(f->staged[i].data);
    free(f->staged);
    f->staged = NULL;
    f->n_staged = 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

static kvs_status fs_properties(kvs_blob_store *s, kvs_blob_props *out, kvs_error *err)
{
    fake_store *f = fake(s);
    pthread_mutex_lock(&f->mu);
    f->c.properties++;
    int exists = f->exists;
    if (exists) {
        out->size = f->blob_len;
        memcpy(out->etag, f->etag, sizeof out->etag);
    }
    pthread_mutex_unlock(&f->mu);
    return exists ? KVS_OK : kvs_fail(err, KVS_ERR_IO, "fake blob: the blob does not exist");
}

/* Another writer commits a copy of the blob: same bytes, new ETag. */
static void maybe_change(fake_store *f)
{
    if (f->change_reads_nth && --f->change_reads_nth == 0) new_etag(f);
}

static kvs_status fs_read_range(kvs_blob_store *s, uint64_t off, uint8_t *buf, size_t len,
                                const char *etag, kvs_error *err)
{
    fake_store *f = fake(s);
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&f->mu);
    unsigned delay = f->read_delay_us;
    if (++f->read_in_flight > f->c.max_read_in_flight) f->c.max_read_in_flight = f->read_in_flight;
    pthread_mutex_unlock(&f->mu);
    if (delay) usleep(delay);
    pthread_mutex_lock(&f->mu);
    f->read_in_flight--;
    f->c.read_range++;
    if (!f->exists)
        st = kvs_fail(err, KVS_ERR_IO, "fake blob: the blob does not exist");
    else if (etag && strcmp(etag, f->etag) != 0)
        st = kvs_fail(err, KVS_ERR_IO, "fake blob: the blob changed (412 ConditionNotMet)");
    else if (len == 0 || off > f->blob_len || len > f->blob_len - off)
        st = kvs_fail(err, KVS_ERR_TRUNCATED, "fake blob: range past the end (416)");
    if (st == KVS_OK) {
        memcpy(buf, f->blob + off, len);
        f->c.bytes_read += len;
        maybe_change(f);
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

static staged *find_staged(fake_store *f, const char *id)
{
    for (size_t i = 0; i < f->n_staged; i++)
        if (strcmp(f->staged[i].id, id) == 0) return &f->staged[i];
    return NULL;
}

static kvs_status fs_put_block(kvs_blob_store *s, const char *id, const uint8_t *data, size_t len,
                               kvs_error *err)
{
    fake_store *f = fake(s);
    pthread_mutex_lock(&f->mu);
    f->c.put_block++;
    int fail = f->fail_put_nth && --f->fail_put_nth == 0;
    int md5 = f->fail_put_md5;
    unsigned delay = f->put_delay_us;
    if (++f->put_in_flight > f->c.max_put_in_flight) f->c.max_put_in_flight = f->put_in_flight;
    pthread_mutex_unlock(&f->mu);
    if (delay) usleep(delay);
    uint8_t *copy = fail ? NULL : dup_bytes(data, len);
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&f->mu);
    f->put_in_flight--;
    if (fail && md5) {
        st = kvs_fail(err, KVS_ERR_IO,
                      "fake blob: Blob Storage refused the Put Block (HTTP 400 Md5Mismatch, "
                      "injected)");
    } else if (fail) {
        st = kvs_fail(err, KVS_ERR_UNAVAILABLE, "fake blob: Put Block failed (503, injected)");
    } else if (!copy || strlen(id) >= KVS_BLOB_ID_TEXT_MAX) {
        st = kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
    } else {
        staged *old = find_staged(f, id);
        staged *grown = old ? f->staged : realloc(f->staged, (f->n_staged + 1) * sizeof *grown);
        if (!grown) {
            st = kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
        } else {
            f->staged = grown;
            if (!old) {
                old = &f->staged[f->n_staged++];
                snprintf(old->id, sizeof old->id, "%s", id);
            } else {
                free(old->data);
            }
            old->data = copy;
            old->len = len;
            copy = NULL;
            f->c.bytes_uploaded += len;
        }
    }
    pthread_mutex_unlock(&f->mu);
    free(copy);
    return st;
}

static const uint8_t *committed_block(fake_store *f, const char *id, size_t *len)
{
    for (size_t i = 0; i < f->n_committed; i++)
        if (strcmp(f->committed[i].id, id) == 0) {
            *len = (size_t)f->committed[i].size;
            return f->committed_data[i];
        }
    return NULL;
}

static kvs_status check_conditions(fake_store *f, const kvs_blob_commit *c, kvs_error *err)
{
    if (c->if_none_match_any && f->exists)
        return kvs_fail(err, KVS_ERR_EXISTS, "fake blob: the blob already exists (409)");
    if (c->if_match && (!f->exists || strcmp(c->if_match, f->etag) != 0))
        return kvs_fail(err, KVS_ERR_IO, "fake blob: the blob changed (412)");
    for (size_t i = 0; i < c->n_blocks; i++)
        if (strlen(c->blocks[i].id) != strlen(c->blocks[0].id))
            return kvs_fail(err, KVS_ERR_USAGE, "fake blob: block ids of different lengths (400)");
    return KVS_OK;
}

/* The new committed list, its blocks' bytes and the whole blob, built
 * before anything changes (a failed commit changes nothing). */
typedef struct next_blob {
    kvs_blob_block *list;
    uint8_t **data;
    uint8_t *blob;
    size_t len;
} next_blob;

static kvs_status build_next(fake_store *f, const kvs_blob_commit *c, next_blob *n, kvs_error *err)
{
    memset(n, 0, sizeof *n);
    size_t nb = c->n_blocks;
    n->list = calloc(nb ? nb : 1, sizeof *n->list);
    n->data = calloc(nb ? nb : 1, sizeof *n->data);
    if (!n->list || !n->data) return kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
    for (size_t i = 0; i < nb; i++) {
        size_t len = 0;
        const uint8_t *src = NULL;
        if (c->blocks[i].committed) {
            src = committed_block(f, c->blocks[i].id, &len);
        } else {
            staged *s = find_staged(f, c->blocks[i].id);
            if (s) {
                src = s->data;
                len = s->len;
            }
        }
        if (!src) return kvs_fail(err, KVS_ERR_USAGE, "fake blob: InvalidBlockList (400)");
        n->list[i] = c->blocks[i];
        n->list[i].size = len;
        n->list[i].committed = 1;
        if (!(n->data[i] = dup_bytes(src, len)))
            return kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
        n->len += len;
    }
    if (!(n->blob = malloc(n->len ? n->len : 1)))
        return kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
    size_t at = 0;
    for (size_t i = 0; i < nb; i++) {
        if (n->list[i].size) memcpy(n->blob + at, n->data[i], (size_t)n->list[i].size);
        at += (size_t)n->list[i].size;
    }
    return KVS_OK;
}

static void free_next(next_blob *n, size_t nb)
{
    for (size_t i = 0; n->data && i < nb; i++) free(n->data[i]);
    free(n->data);
    free(n->list);
    free(n->blob);
}

static kvs_status set_meta(fake_store *f, const kvs_blob_commit *c)
{
    free_meta(f);
    if (!c->n_meta) return KVS_OK;
    if (!(f->meta = calloc(c->n_meta, sizeof *f->meta))) return KVS_ERR_NOMEM;
    for (; f->n_meta < c->n_meta; f->n_meta++) {
        meta_pair *m = &f->meta[f->n_meta];
        m->name = strdup(c->meta[f->n_meta].name);
        m->value = strdup(c->meta[f->n_meta].value);
        if (!m->name || !m->value) return KVS_ERR_NOMEM;
    }
    return KVS_OK;
}

static kvs_status fs_put_block_list(kvs_blob_store *s, const kvs_blob_commit *c, kvs_error *err)
{
    fake_store *f = fake(s);
    next_blob n;
    pthread_mutex_lock(&f->mu);
    f->c.put_block_list++;
    kvs_status st = check_conditions(f, c, err);
    if (st == KVS_OK) st = build_next(f, c, &n, err);
    else memset(&n, 0, sizeof n);
    if (st == KVS_OK) {
        free_committed(f);
        f->committed = n.list;
        f->committed_data = n.data;
        f->n_committed = c->n_blocks;
        f->blob = n.blob;
        f->blob_len = n.len;
        f->exists = 1;
        memset(&n, 0, sizeof n);
        new_etag(f);
        free_staged(f); /* the service drops uncommitted blocks on commit */
        if (set_meta(f, c) != KVS_OK) st = kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
    }
    free_next(&n, c->n_blocks);
    pthread_mutex_unlock(&f->mu);
    return st;
}

static kvs_status fs_committed_blocks(kvs_blob_store *s, kvs_blob_block **blocks, size_t *n,
                                      kvs_blob_props *props, kvs_error *err)
{
    fake_store *f = fake(s);
    kvs_status st = KVS_OK;
    *blocks = NULL;
    *n = 0;
    pthread_mutex_lock(&f->mu);
    f->c.committed_blocks++;
    if (!f->exists) {
        st = kvs_fail(err, KVS_ERR_IO, "fake blob: the blob does not exist");
    } else if (!(*blocks = calloc(f->n_committed ? f->n_committed : 1, sizeof **blocks))) {
        st = kvs_fail(err, KVS_ERR_NOMEM, "fake blob: out of memory");
    } else {
        if (f->n_committed) memcpy(*blocks, f->committed, f->n_committed * sizeof **blocks);
        *n = f->n_committed;
        props->size = f->blob_len;
        memcpy(props->etag, f->etag, sizeof props->etag);
    }
    pthread_mutex_unlock(&f->mu);
    return st;
}

static void fs_free(kvs_blob_store *s)
{
    fake_store *f = fake(s);
    if (!f) return;
    free_committed(f);
    free_staged(f);
    free_meta(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static const kvs_blob_store_ops fake_ops = {
    fs_properties, fs_read_range, fs_put_block, fs_put_block_list, fs_committed_blocks, fs_free,
};

fake_store *fake_store_new(void)
{
    fake_store *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

kvs_blob_store *fake_store_base(fake_store *f)
{
    return &f->base;
}

void fake_store_set_blob(fake_store *f, const uint8_t *bytes, size_t len)
{
    kvs_blob_block b = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", len, 1};
    pthread_mutex_lock(&f->mu);
    free_committed(f);
    f->committed = calloc(1, sizeof *f->committed);
    f->committed_data = calloc(1, sizeof *f->committed_data);
    f->blob = dup_bytes(bytes, len);
    uint8_t *block = dup_bytes(bytes, len);
    if (!f->committed || !f->committed_data || !f->blob || !block) abort(); /* a test helper */
    f->committed[0] = b;
    f->committed_data[0] = block;
    f->n_committed = 1;
    f->blob_len = len;
    f->exists = 1;
    new_etag(f);
    pthread_mutex_unlock(&f->mu);
}

uint8_t *fake_store_blob(fake_store *f, size_t *len)
{
    pthread_mutex_lock(&f->mu);
    uint8_t *copy = f->exists ? dup_bytes(f->blob, f->blob_len) : NULL;
    *len = copy ? f->blob_len : 0;
    pthread_mutex_unlock(&f->mu);
    return copy;
}

int fake_store_exists(fake_store *f)
{
    pthread_mutex_lock(&f->mu);
    int e = f->exists;
    pthread_mutex_unlock(&f->mu);
    return e;
}

size_t fake_store_staged(fake_store *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_staged;
    pthread_mutex_unlock(&f->mu);
    return n;
}

const char *fake_store_meta(fake_store *f, const char *name)
{
    const char *v = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_meta && !v; i++)
        if (strcmp(f->meta[i].name, name) == 0) v = f->meta[i].value;
    pthread_mutex_unlock(&f->mu);
    return v;
}

void fake_store_counters_get(fake_store *f, fake_store_counters *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->c;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_counters_reset(fake_store *f)
{
    pthread_mutex_lock(&f->mu);
    memset(&f->c, 0, sizeof f->c);
    pthread_mutex_unlock(&f->mu);
}

/* One fault or delay setting, under the lock the calls read it with. */
static void set_knob(fake_store *f, unsigned *knob, unsigned value)
{
    pthread_mutex_lock(&f->mu);
    *knob = value;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_fail_put_block(fake_store *f, unsigned nth)
{
    pthread_mutex_lock(&f->mu);
    f->fail_put_nth = nth;
    f->fail_put_md5 = 0;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_fail_put_block_md5(fake_store *f, unsigned nth)
{
    pthread_mutex_lock(&f->mu);
    f->fail_put_nth = nth;
    f->fail_put_md5 = 1;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_change_after_reads(fake_store *f, unsigned nth)
{
    set_knob(f, &f->change_reads_nth, nth);
}

void fake_store_corrupt(fake_store *f, uint64_t offset)
{
    pthread_mutex_lock(&f->mu);
    if (offset < f->blob_len) f->blob[offset] ^= 0x01;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_truncate(fake_store *f, uint64_t len)
{
    pthread_mutex_lock(&f->mu);
    if (len < f->blob_len) f->blob_len = (size_t)len;
    pthread_mutex_unlock(&f->mu);
}

void fake_store_put_delay_us(fake_store *f, unsigned us)
{
    set_knob(f, &f->put_delay_us, us);
}

void fake_store_read_delay_us(fake_store *f, unsigned us)
{
    set_knob(f, &f->read_delay_us, us);
}
