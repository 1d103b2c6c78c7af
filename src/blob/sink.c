/* The blob sink (blob/sink.h): gather the engine's header and chunks into
 * blocks, stage complete blocks through a pool of uploader threads, commit
 * the block list, or commit nothing. */
#include "blob/sink.h"

#include <stdlib.h>
#include <string.h>

#include "blob/meta.h"
#include "core/error.h"

typedef struct kvs_blob_pending {
    uint64_t index;  /* block index */
    uint64_t offset; /* first byte in the file */
    size_t cap;      /* bytes when complete */
    size_t got;      /* bytes copied in */
    size_t alloc;    /* bytes allocated at data (a reused buffer may be larger) */
    uint8_t *data;
    struct kvs_blob_pending *next;
} pending;

static kvs_blob_sink *blob_sink(kvs_sink *s)
{
    return (kvs_blob_sink *)s;
}

static void free_list(pending *p)
{
    while (p) {
        pending *next = p->next;
        free(p->data);
        free(p);
        p = next;
    }
}

/* A block leaves memory (mu held): its buffer is kept for the next block.
 * Freeing it would not give the memory back: glibc serves the next ~8 MiB
 * block from a thread's arena, which keeps what was freed resident (the
 * encrypt RSS grew ~40% over the block bound, bench/blob.sh). Spares never
 * outnumber the blocks that were in memory at once. */
static void release_locked(kvs_blob_sink *s, pending *p)
{
    s->buffered--;
    p->next = s->spare;
    s->spare = p;
}

/* The first failure wins (mu held). */
static void fail_locked(kvs_blob_sink *s, const kvs_error *e)
{
    if (!s->failed) {
        s->failed = 1;
        s->err = *e;
    }
    pthread_cond_broadcast(&s->cv);
}

static kvs_status failed_status(kvs_blob_sink *s, kvs_error *err)
{
    return kvs_error_copy(err, &s->err);
}

/* ---- uploaders ----------------------------------------------------------- */

static pending *pop_locked(kvs_blob_sink *s)
{
    pending *p = s->queue;
    s->queue = p->next;
    if (!s->queue) s->queue_tail = NULL;
    s->queued--;
    p->next = NULL;
    return p;
}

/* Stage queued blocks until told to stop; after a failure, queued blocks
 * are dropped without being sent. */
static void *uploader(void *arg)
{
    kvs_blob_sink *s = arg;
    kvs_blob_store *store = s->store;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->queue && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
        if (!s->queue) break;
        pending *p = pop_locked(s);
        int send = !s->failed;
        s->uploading++;
        pthread_cond_broadcast(&s->cv); /* room in the queue */
        pthread_mutex_unlock(&s->mu);
        kvs_error e = {0};
        kvs_status st = KVS_OK;
        if (send) {
            char id[KVS_BLOB_ID_TEXT_MAX];
            kvs_blob_block_id(s->prefix, p->index, id);
            st = store->ops->put_block(store, id, p->data, p->got, &e);
        }
        pthread_mutex_lock(&s->mu);
        s->uploading--;
        release_locked(s, p);
        if (send && st == KVS_OK) s->staged++;
        else if (send) fail_locked(s, &e);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Hand a complete block to the uploaders, waiting while the queue is full
 * (mu held). The wait ends: uploaders always finish what they took. One
 * queued block keeps every uploader busy (a free one takes it at once). */
static kvs_status enqueue_locked(kvs_blob_sink *s, pending *p, kvs_error *err)
{
    while (!s->failed && s->queued >= 1) pthread_cond_wait(&s->cv, &s->mu);
    if (s->failed) {
        release_locked(s, p);
        return failed_status(s, err);
    }
    if (s->queue_tail) s->queue_tail->next = p;
    else s->queue = p;
    s->queue_tail = p;
    s->queued++;
    pthread_cond_broadcast(&s->cv);
    return KVS_OK;
}

/* Stop the uploaders once the queue is drained (or dropped, after a
 * failure) and join them. */
static void stop_uploaders(kvs_blob_sink *s)
{
    if (!s->n_threads) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->n_threads; i++) pthread_join(s->threads[i], NULL);
    s->n_threads = 0;
}

/* ---- the sink's operations ----------------------------------------------- */

static kvs_status bs_start(kvs_sink *base, const kvs_sink_shape *shape, kvs_error *err)
{
    kvs_blob_sink *s = blob_sink(base);
    if (shape->header_len == 0)
        return kvs_fail(err, KVS_ERR_INTERNAL, "a blob holds a whole kvseal file, header first");
    kvs_status st = kvs_blob_layout_init(&s->layout, s->cfg.layout, shape->header_len, shape->unit, err);
    if (st == KVS_OK) st = kvs_blob_id_prefix(s->prefix, err);
    if (st != KVS_OK) return st;
    s->total = shape->total;
    while (s->n_threads < s->cfg.parallel &&
           pthread_create(&s->threads[s->n_threads], NULL, uploader, s) == 0)
        s->n_threads++; /* fewer uploaders than asked only costs speed */
    if (!s->n_threads) return kvs_fail(err, KVS_ERR_NOMEM, "cannot start the blob uploader threads");
    s->started = 1;
    return KVS_OK;
}

/* One more block in memory (mu held). */
static void count_block(kvs_blob_sink *s)
{
    if (++s->buffered > s->peak) s->peak = s->buffered;
}

/* A block with room for bytes: a spare one that is large enough, else a new
 * one (a spare too small is freed, so the count of buffers stays bounded);
 * mu held. NULL when out of memory. */
static pending *take_buffer(kvs_blob_sink *s, size_t bytes)
{
    pending *p = s->spare;
    if (p) {
        s->spare = p->next;
        p->next = NULL;
        if (p->alloc >= bytes) return p;
        free(p->data);
        free(p);
    }
    p = calloc(1, sizeof *p);
    if (p) p->data = malloc(bytes);
    if (!p || !p->data) {
        free(p);
        return NULL;
    }
    p->alloc = bytes;
    return p;
}

/* A new block to fill, sized as the layout says (the last one of a known
 * total may be shorter); mu held. */
static kvs_status new_pending(kvs_blob_sink *s, const kvs_blob_span *sp, pending **out,
                              kvs_error *err)
{
    uint64_t cap = sp->bytes;
    if (s->total != KVS_IO_SIZE_UNKNOWN && s->total - sp->offset < cap) cap = s->total - sp->offset;
    pending *p = take_buffer(s, cap ? (size_t)cap : 1);
    if (!p)
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory for a blob block of %llu bytes",
                        (unsigned long long)cap);
    p->got = 0;
    p->index = sp->index;
    p->offset = sp->offset;
    p->cap = (size_t)cap;
    p->next = s->filling;
    s->filling = p;
    count_block(s);
    if (sp->index > s->last_block) s->last_block = sp->index;
    *out = p;
    return KVS_OK;
}

static pending *find_filling(kvs_blob_sink *s, uint64_t index, pending ***link)
{
    for (pending **l = &s->filling; *l; l = &(*l)->next)
        if ((*l)->index == index) {
            if (link) *link = l;
            return *l;
        }
    return NULL;
}

/* The header is block 0, exactly; kept for the metadata. */
static kvs_status write_header(kvs_blob_sink *s, const uint8_t *buf, size_t len, kvs_error *err)
{
    if (len != s->layout.header_len || s->header)
        return kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: the header is not one whole write");
    pending *p = calloc(1, sizeof *p);
    s->header = malloc(len);
    if (p) p->data = malloc(len);
    if (!p || !p->data || !s->header) {
        if (p) free(p->data);
        free(p);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    memcpy(s->header, buf, len);
    memcpy(p->data, buf, len);
    p->cap = p->got = p->alloc = len;
    pthread_mutex_lock(&s->mu);
    count_block(s);
    kvs_status st = enqueue_locked(s, p, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Copy one chunk's output into its block; the writer that completes the
 * block queues it. The copy runs unlocked: chunks of one block are
 * disjoint, and a block counts as complete only once every copy is done. */
static kvs_status write_chunk(kvs_blob_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                              kvs_error *err)
{
    const kvs_blob_layout *l = &s->layout;
    if (off < l->header_len || (off - l->header_len) % l->unit != 0 || len == 0 || len > l->unit)
        return kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: a write that is not one whole chunk");
    kvs_blob_span sp;
    kvs_status st = kvs_blob_layout_chunk_block(l, (off - l->header_len) / l->unit, &sp, err);
    if (st != KVS_OK) return st;
    pthread_mutex_lock(&s->mu);
    pending *p = find_filling(s, sp.index, NULL);
    if (s->failed) st = failed_status(s, err);
    else if (!p) st = new_pending(s, &sp, &p, err);
    if (st == KVS_OK && off + len - p->offset > p->cap)
        st = kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: a chunk past its block's end");
    pthread_mutex_unlock(&s->mu);
    if (st != KVS_OK) return st;
    memcpy(p->data + (off - p->offset), buf, len);
    pthread_mutex_lock(&s->mu);
    p->got += len;
    if (p->got == p->cap) {
        pending **link = NULL;
        find_filling(s, p->index, &link);
        *link = p->next;
        p->next = NULL;
        st = enqueue_locked(s, p, err);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

static kvs_status bs_write_at(kvs_sink *base, uint64_t off, const uint8_t *buf, size_t len,
                              kvs_error *err)
{
    kvs_blob_sink *s = blob_sink(base);
    kvs_error e = {0};
    kvs_status st = off == 0 ? write_header(s, buf, len, &e) : write_chunk(s, off, buf, len, &e);
    if (st == KVS_OK) return KVS_OK;
    pthread_mutex_lock(&s->mu);
    fail_locked(s, &e);
    pthread_mutex_unlock(&s->mu);
    return kvs_error_copy(err, &e);
}

/* In order: the engine writes the header, then whole chunks. */
static kvs_status bs_write(kvs_sink *base, const uint8_t *buf, size_t len, kvs_error *err)
{
    kvs_blob_sink *s = blob_sink(base);
    kvs_status st = bs_write_at(base, s->pos, buf, len, err);
    if (st == KVS_OK) s->pos += len;
    return st;
}

/* The last block is complete only now that the end is known: queue it if
 * it was still being filled (mu held). */
static kvs_status flush_last(kvs_blob_sink *s, uint64_t end, uint64_t *n_blocks, kvs_error *err)
{
    const kvs_blob_layout *l = &s->layout;
    kvs_blob_span sp;
    if (s->tail_block) { /* the chunks' last block was flushed by the tail */
        *n_blocks = s->tail_block + 1;
        if (s->filling || s->last_block != s->tail_block)
            return kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: a block was left incomplete");
        return KVS_OK;
    }
    if (end <= l->header_len) return kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: no chunk was written");
    kvs_status st = kvs_blob_layout_chunk_block(l, (end - 1 - l->header_len) / l->unit, &sp, err);
    if (st != KVS_OK) return st;
    pending **link = NULL;
    pending *p = find_filling(s, sp.index, &link);
    if (p && p->got == end - p->offset) {
        *link = p->next;
        p->next = NULL;
        p->cap = p->got;
        st = enqueue_locked(s, p, err);
    }
    if (st == KVS_OK && (s->filling || s->last_block != sp.index))
        st = kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: a block was left incomplete");
    *n_blocks = sp.index + 1;
    return st;
}

/* A signed file's trailer, after every chunk: the chunks' last block is
 * complete now, and the trailer is staged as one more block. */
static kvs_status bs_write_tail(kvs_sink *base, uint64_t off, const uint8_t *buf, size_t len,
                                kvs_error *err)
{
    kvs_blob_sink *s = blob_sink(base);
    uint64_t n_blocks = 0;
    kvs_error e = {0};
    pending *p = NULL;
    pthread_mutex_lock(&s->mu);
    kvs_status st = s->failed ? failed_status(s, &e) : flush_last(s, off, &n_blocks, &e);
    kvs_blob_span sp = {.index = n_blocks, .offset = off, .bytes = len};
    if (st == KVS_OK && n_blocks >= s->layout.p.max_blocks)
        st = kvs_fail(&e, KVS_ERR_RESOURCE_LIMIT, "the blob would need more than %llu blocks",
                      (unsigned long long)s->layout.p.max_blocks);
    uint64_t total = s->total;
    s->total = KVS_IO_SIZE_UNKNOWN; /* the tail block is exactly len bytes */
    if (st == KVS_OK) st = new_pending(s, &sp, &p, &e);
    s->total = total;
    if (st == KVS_OK) {
        memcpy(p->data, buf, len);
        p->got = len;
        s->filling = p->next;
        p->next = NULL;
        s->tail_block = sp.index;
        s->tail_len = len;
        st = enqueue_locked(s, p, &e);
    }
    if (st != KVS_OK) fail_locked(s, &e);
    pthread_mutex_unlock(&s->mu);
    return st == KVS_OK ? KVS_OK : kvs_error_copy(err, &e);
}

static kvs_status put_list(kvs_blob_sink *s, uint64_t n_blocks, uint64_t end, kvs_error *err)
{
    kvs_blob_meta_set meta;
    kvs_blob_block *blocks = calloc((size_t)n_blocks, sizeof *blocks);
    if (!blocks) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < n_blocks; i++) kvs_blob_block_id(s->prefix, i, blocks[i].id);
    /* the metadata describes the payload: a trailer is not part of it */
    kvs_status st = kvs_blob_meta_build(s->header, (size_t)s->layout.header_len, end - s->tail_len, &meta, err);
    if (st == KVS_OK) {
        kvs_blob_commit c = {blocks, (size_t)n_blocks, meta.items, meta.n, NULL, !s->cfg.overwrite};
        st = s->store->ops->put_block_list(s->store, &c, err);
        kvs_blob_meta_free(&meta);
    }
    free(blocks);
    return st;
}

static kvs_status bs_commit(kvs_sink *base, uint64_t end, kvs_error *err)
{
    kvs_blob_sink *s = blob_sink(base);
    uint64_t n_blocks = 0;
    kvs_error e = {0};
    pthread_mutex_lock(&s->mu);
    kvs_status st = s->failed ? KVS_OK : flush_last(s, end, &n_blocks, &e);
    if (st != KVS_OK) fail_locked(s, &e);
    pthread_mutex_unlock(&s->mu);
    stop_uploaders(s); /* every queued block is staged, or the first failure kept */
    if (s->failed) return failed_status(s, err);
    if (st == KVS_OK && s->staged != n_blocks)
        st = kvs_fail(err, KVS_ERR_INTERNAL, "blob sink: %llu of %llu blocks staged",
                      (unsigned long long)s->staged, (unsigned long long)n_blocks);
    if (st == KVS_OK) st = put_list(s, n_blocks, end, err);
    return st;
}

/* Nothing is committed, so no blob appears: staged blocks stay invisible
 * and expire. */
static void bs_abort(kvs_sink *base, uint64_t keep)
{
    kvs_blob_sink *s = blob_sink(base);
    (void)keep;
    pthread_mutex_lock(&s->mu);
    kvs_error e = {KVS_ERR_STATE, "blob sink: aborted"};
    fail_locked(s, &e); /* uploaders drop what is queued */
    pthread_mutex_unlock(&s->mu);
    stop_uploaders(s);
}

static const kvs_sink_ops blob_sink_ops = {
    .start = bs_start, .write = bs_write, .write_at = bs_write_at, .write_tail = bs_write_tail,
    .commit = bs_commit, .abort = bs_abort,
};

void kvs_blob_sink_init(kvs_blob_sink *s, kvs_blob_store *store, const kvs_blob_sink_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->base.ops = &blob_sink_ops;
    s->base.caps = KVS_IO_POSITIONAL;
    s->store = store;
    if (cfg) s->cfg = *cfg;
    if (!s->cfg.parallel) s->cfg.parallel = 4;
    if (s->cfg.parallel > KVS_BLOB_MAX_PARALLEL) s->cfg.parallel = KVS_BLOB_MAX_PARALLEL;
    s->total = KVS_IO_SIZE_UNKNOWN;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

void kvs_blob_sink_close(kvs_blob_sink *s)
{
    if (s->n_threads) bs_abort(&s->base, 0);
    free_list(s->filling);
    free_list(s->queue);
    free_list(s->spare);
    free(s->header);
    s->filling = s->queue = s->queue_tail = s->spare = NULL;
    s->header = NULL;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}
