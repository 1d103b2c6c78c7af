/* Ring mode (stream/engine.h): the calling thread reads chunks in order
 * into a ring of slots, workers seal or open them in place, and output goes
 * to its offset or, through one writer thread, in order. A chunk is only
 * known to be final once the next read shows the end of the input, so the
 * reader holds each chunk until it has read the one after it. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kvseal/header.h"
#include "stream/chunk.h"
#include "stream/engine_state.h"
#include "stream/signed_file.h"

enum slot_state { SLOT_FREE, SLOT_FILLED, SLOT_WORKING, SLOT_DONE };

typedef struct slot {
    uint8_t *buf; /* chunk_size + 16 bytes: stored chunk, opened or sealed in place */
    size_t len;   /* bytes of input held */
    uint64_t index;
    int final;
    enum slot_state state;
} slot;

typedef struct ring {
    kvs_engine *e; /* its mu guards everything below */
    slot *slots;
    size_t n_slots;
    int ordered;   /* a sequential sink: the writer thread writes in order */
    uint64_t next_write;
    uint64_t total; /* chunks in the input, once the reader has seen the end */
    int reader_done;
    size_t touched; /* most bytes any buffer held: all that needs wiping
                       (wiping untouched pages would fault them in) */
} ring;

static size_t stored_size(const ring *r)
{
    return r->e->plan.chunk_size + KVS_CHUNK_TAG_LEN;
}

/* Bytes of a slot's buffer in use: sealing appends the tag to the input. */
static size_t buffer_used(const ring *r, const slot *s)
{
    return s->len + (r->e->plan.sealing ? KVS_CHUNK_TAG_LEN : 0);
}

static size_t output_len(const ring *r, const slot *s)
{
    return kvs_chunk_plan_out_len(&r->e->plan, s->len);
}

/* Seal in place; open into the worker's scratch buffer, which then trades
 * places with the slot's (no copy), so a failed chunk can still be retried
 * with the other final flag to tell truncation from damage (a pipe cannot
 * be read again). */
static kvs_status process(ring *r, kvs_gcm *gcm, slot *s, uint8_t **scratch, kvs_error *err)
{
    kvs_engine *e = r->e;
    kvs_status st = KVS_OK;
    if (e->plan.sealing) {
        st = kvs_engine_seal(gcm, s->index, s->final, s->buf, s->len, s->buf, err);
        if (st == KVS_OK && e->job->roots)
            st = kvs_engine_leaf(e, s->index, s->buf, s->len + KVS_CHUNK_TAG_LEN, err);
        return st;
    }
    if (e->job->roots) st = kvs_engine_leaf(e, s->index, s->buf, s->len, err);
    if (st != KVS_OK) return st;
    st = kvs_chunk_open_checked(gcm, s->index, s->final, s->buf, s->len, *scratch, err);
    uint8_t *opened = *scratch;
    *scratch = s->buf;
    s->buf = opened;
    return st;
}

static kvs_status write_slot(ring *r, const slot *s, kvs_error *err)
{
    kvs_sink *out = r->e->job->out;
    size_t n = output_len(r, s);
    if (r->ordered) return out->ops->write(out, s->buf, n, err);
    return out->ops->write_at(out, kvs_chunk_plan_out_offset(&r->e->plan, s->index), s->buf, n, err);
}

/* Next slot a worker may take, or NULL when the work is over (mu held). */
static slot *claim_work(ring *r)
{
    kvs_engine *e = r->e;
    for (;;) {
        if (e->failed || (r->reader_done && e->next_work >= r->total)) return NULL;
        slot *s = &r->slots[e->next_work % r->n_slots];
        if (s->state == SLOT_FILLED && s->index == e->next_work) {
            s->state = SLOT_WORKING;
            e->next_work++;
            return s;
        }
        pthread_cond_wait(&e->cv, &e->mu);
    }
}

static void *worker_main(void *arg)
{
    ring *r = arg;
    kvs_engine *e = r->e;
    kvs_gcm *gcm = kvs_gcm_new(e->job->key);
    uint8_t *scratch = e->plan.sealing ? NULL : malloc(stored_size(r));
    kvs_error err = {0};
    if (!gcm || (!e->plan.sealing && !scratch)) {
        kvs_fail(&err, KVS_ERR_NOMEM, "out of memory");
        kvs_engine_fail(e, &err);
        kvs_gcm_free(gcm);
        free(scratch);
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    slot *s;
    while ((s = claim_work(r)) != NULL) {
        pthread_mutex_unlock(&e->mu);
        kvs_status st = process(r, gcm, s, &scratch, &err);
        if (st == KVS_OK && !r->ordered) st = write_slot(r, s, &err);
        if (st != KVS_OK) OPENSSL_cleanse(s->buf, buffer_used(r, s));
        pthread_mutex_lock(&e->mu);
        kvs_engine_chunk_done(e, s->index, st, st == KVS_OK ? output_len(r, s) : 0, &err);
        s->state = r->ordered ? SLOT_DONE : SLOT_FREE;
        pthread_cond_broadcast(&e->cv);
    }
    size_t wipe = r->touched;
    pthread_mutex_unlock(&e->mu);
    if (scratch) OPENSSL_cleanse(scratch, wipe);
    free(scratch);
    kvs_gcm_free(gcm);
    return NULL;
}

/* Ordered writer for sequential sinks: chunk i is written only after
 * chunks < i. */
static void *writer_main(void *arg)
{
    ring *r = arg;
    kvs_engine *e = r->e;
    kvs_error err = {0};
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (e->failed || (r->reader_done && r->next_write >= r->total)) break;
        slot *s = &r->slots[r->next_write % r->n_slots];
        if (s->state != SLOT_DONE || s->index != r->next_write || !kvs_engine_released(e, s->index)) {
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        kvs_status st = write_slot(r, s, &err);
        if (!e->plan.sealing) OPENSSL_cleanse(s->buf, output_len(r, s));
        pthread_mutex_lock(&e->mu);
        if (st != KVS_OK && !e->failed) {
            e->failed = 1;
            e->err = err;
        }
        s->state = SLOT_FREE;
        r->next_write++;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Wait until the slot for chunk i is free; NULL if the transfer failed. */
static slot *acquire_slot(ring *r, uint64_t i)
{
    kvs_engine *e = r->e;
    slot *s = &r->slots[i % r->n_slots];
    pthread_mutex_lock(&e->mu);
    while (!e->failed && s->state != SLOT_FREE) pthread_cond_wait(&e->cv, &e->mu);
    int failed = e->failed;
    pthread_mutex_unlock(&e->mu);
    return failed ? NULL : s;
}

static void publish(ring *r, slot *s, uint64_t i, int final)
{
    kvs_engine *e = r->e;
    pthread_mutex_lock(&e->mu);
    s->index = i;
    s->final = final;
    s->state = SLOT_FILLED;
    if (final) {
        kvs_error err = {0};
        r->total = i + 1;
        r->reader_done = 1;
        kvs_engine_set_chunks(e, r->total, &err); /* a failure is recorded in e */
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* Read one unit into s, noting how much of a buffer now needs wiping, and
 * tell the caller's progress callback (outside the lock: it may be slow). */
static kvs_status read_slot(ring *r, slot *s, size_t unit, kvs_error *err)
{
    kvs_engine *e = r->e;
    kvs_source *in = e->job->in;
    kvs_status st = in->ops->read(in, s->buf, unit, &s->len, err);
    pthread_mutex_lock(&e->mu);
    if (buffer_used(r, s) > r->touched) r->touched = buffer_used(r, s);
    pthread_mutex_unlock(&e->mu);
    e->consumed += s->len;
    if (st == KVS_OK && s->len > 0 && e->job->progress)
        e->job->progress(e->consumed, e->job->progress_arg);
    return st;
}

static kvs_status read_chunks(ring *r)
{
    kvs_engine *e = r->e;
    kvs_error err = {0};
    size_t unit = kvs_chunk_plan_in_unit(&e->plan);
    slot *cur = acquire_slot(r, 0);
    if (!cur) return KVS_ERR_STATE;
    kvs_status st = read_slot(r, cur, unit, &err);
    for (uint64_t i = 0; st == KVS_OK; i++) {
        int final = 0;
        if (cur->len < unit) { /* short read: end of input, this chunk is final */
            st = e->plan.sealing ? KVS_OK : kvs_chunk_check_last(cur->len, i, &err);
            if (st == KVS_OK) publish(r, cur, i, 1);
            else kvs_engine_fail_in_order(e, i, &err);
            return st;
        }
        slot *next = acquire_slot(r, i + 1);
        if (!next) return KVS_ERR_STATE;
        st = read_slot(r, next, unit, &err);
        if (st == KVS_OK) st = kvs_chunk_plan_after_full(&e->plan, i, next->len, &final, &err);
        if (st != KVS_OK) break;
        publish(r, cur, i, final);
        if (final) break; /* a full chunk was the last */
        cur = next;
    }
    if (st != KVS_OK) kvs_engine_fail(e, &err);
    return st;
}

/* Signed file from a stream (FORMAT.md "Signed files"): the trailer
 * follows the final chunk, so a full read no longer shows the end. A chunk
 * that opens as non-final is one (its nonce says so); any other starts the
 * final region: the rest of the input, at most a chunk and the longest
 * trailer that many chunks can have, is split from its end by the
 * trailer's own length fields. */
typedef struct tail_finder {
    kvs_gcm *gcm;   /* the reader's own, for the trial */
    uint8_t *trial; /* the trial's plaintext, wiped after each */
} tail_finder;

static int opens_as_non_final(tail_finder *f, const slot *s, uint64_t i)
{
    int ok = kvs_chunk_open(f->gcm, i, 0, s->buf, s->len, f->trial) == KVS_OK;
    if (ok) OPENSSL_cleanse(f->trial, s->len - KVS_CHUNK_TAG_LEN);
    return ok;
}

/* Read what follows chunk i's first bytes in s until the input ends. */
static kvs_status read_rest(ring *r, const slot *s, uint64_t i, uint8_t **rest, size_t *have,
                            kvs_error *err)
{
    kvs_source *in = r->e->job->in;
    size_t unit = kvs_chunk_plan_in_unit(&r->e->plan);
    uint64_t bound = kvs_signed_final_region_max(unit, i);
    size_t cap = s->len + 4096, got = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memcpy(buf, s->buf, s->len);
    *have = s->len;
    kvs_status st = KVS_OK;
    for (;;) {
        if (*have == cap) {
            if (cap > bound) {
                st = kvs_fail(err, KVS_ERR_AUTH, "authentication failed: chunk %llu (damaged or altered)",
                              (unsigned long long)i);
                break;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        st = in->ops->read(in, buf + *have, cap - *have, &got, err);
        if (st != KVS_OK) break;
        *have += got;
        if (got == 0) break;
    }
    if (st == KVS_OK && *have > bound)
        st = kvs_fail(err, KVS_ERR_AUTH, "authentication failed: chunk %llu (damaged or altered)",
                      (unsigned long long)i);
    if (st != KVS_OK) {
        free(buf);
        return st;
    }
    *rest = buf;
    return KVS_OK;
}

/* s holds the start of the final region, chunk i: split off the trailer. */
static kvs_status split_final(ring *r, slot *s, uint64_t i, kvs_error *err)
{
    kvs_engine *e = r->e;
    uint8_t *rest = NULL;
    size_t have = 0, final_len = 0;
    kvs_status st = read_rest(r, s, i, &rest, &have, err);
    if (st != KVS_OK) return st;
    e->consumed += have - s->len;
    st = kvs_signed_split_final(rest, have, i, s->len, &final_len, err);
    if (st == KVS_OK) st = kvs_chunk_check_last(final_len, i, err);
    if (st == KVS_OK && !(e->found_tail = malloc(have - final_len)))
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) {
        e->found_tail_len = have - final_len;
        memcpy(e->found_tail, rest + final_len, e->found_tail_len);
        s->len = final_len; /* its bytes are s's first ones already */
    }
    free(rest);
    return st;
}

static kvs_status read_chunks_find_tail(ring *r, tail_finder *f)
{
    kvs_engine *e = r->e;
    kvs_error err = {0};
    size_t unit = kvs_chunk_plan_in_unit(&e->plan);
    kvs_status st = KVS_OK;
    for (uint64_t i = 0; st == KVS_OK; i++) {
        slot *cur = acquire_slot(r, i);
        if (!cur) return KVS_ERR_STATE;
        st = read_slot(r, cur, unit, &err);
        if (st != KVS_OK) break;
        if (cur->len == unit && opens_as_non_final(f, cur, i)) {
            st = kvs_chunk_plan_check_count(&e->plan, i + 2, &err);
            if (st == KVS_OK) publish(r, cur, i, 0);
            continue;
        }
        st = split_final(r, cur, i, &err);
        if (st == KVS_OK) {
            publish(r, cur, i, 1);
            return KVS_OK;
        }
        kvs_engine_fail_in_order(e, i, &err);
        return st;
    }
    kvs_engine_fail(e, &err);
    return st;
}

static kvs_status alloc_slots(ring *r, unsigned threads, kvs_error *err)
{
    r->n_slots = 2 * (size_t)threads + 2;
    /* An ordered sink gated on segment roots holds a whole segment back. */
    if (r->ordered && r->e->job->expect_roots) r->n_slots += KVS_SEGMENT_CHUNKS;
    r->slots = calloc(r->n_slots, sizeof(slot));
    if (!r->slots) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_slots; i++)
        if (!(r->slots[i].buf = malloc(stored_size(r))))
            return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    return KVS_OK;
}

static void free_slots(ring *r)
{
    for (size_t i = 0; r->slots && i < r->n_slots; i++) {
        if (r->slots[i].buf) OPENSSL_cleanse(r->slots[i].buf, r->touched);
        free(r->slots[i].buf);
    }
    free(r->slots);
}

kvs_status kvs_engine_run_ring(kvs_engine *e, kvs_error *err)
{
    pthread_t workers[KVS_ENGINE_MAX_THREADS], writer;
    unsigned started = 0;
    int writer_started = 0;
    ring r = {.e = e, .ordered = !(e->job->out->caps & KVS_IO_POSITIONAL)};
    /* busy: the reader, and the writer for a sequential sink */
    unsigned threads = kvs_engine_threads(e->job->threads, r.ordered ? 2 : 1);
    kvs_status st = alloc_slots(&r, threads, err);
    while (st == KVS_OK && started < threads) {
        if (pthread_create(&workers[started], NULL, worker_main, &r) != 0)
            st = kvs_fail(err, KVS_ERR_NOMEM, "cannot start worker threads");
        else
            started++; /* only started threads are joined */
    }
    if (st == KVS_OK && r.ordered) {
        writer_started = pthread_create(&writer, NULL, writer_main, &r) == 0;
        if (!writer_started) st = kvs_fail(err, KVS_ERR_NOMEM, "cannot start the writer thread");
    }
    tail_finder f = {NULL, NULL};
    if (st == KVS_OK && e->job->find_tail) {
        f.gcm = kvs_gcm_new(e->job->key);
        f.trial = malloc(stored_size(&r));
        if (!f.gcm || !f.trial) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    if (st == KVS_OK && e->job->find_tail) read_chunks_find_tail(&r, &f);
    else if (st == KVS_OK) read_chunks(&r);
    else kvs_engine_fail(e, err);
    for (unsigned i = 0; i < started; i++) pthread_join(workers[i], NULL);
    if (writer_started) pthread_join(writer, NULL);
    if (e->failed) st = kvs_error_copy(err, &e->err);
    free(f.trial); /* wiped after every trial */
    kvs_gcm_free(f.gcm);
    free_slots(&r);
    return st;
}
