/* Direct mode (stream/engine.h): the plan places every chunk, so each
 * worker reads, seals or opens, and writes its own chunks at their offsets. */
#include <openssl/crypto.h>
#include <stdlib.h>

#include "core/error.h"
#include "kvseal/header.h"
#include "stream/chunk.h"
#include "stream/engine_state.h"

typedef struct worker {
    kvs_gcm *gcm;
    uint8_t *buf;     /* one stored chunk, unless both ends are mapped */
    uint8_t *scratch; /* allocated once a chunk fails to open in place */
    size_t wipe;      /* most bytes either buffer held */
} worker;

/* Next chunk index for a worker, or -1 when the work is over. A signed
 * file's worker waits rather than run a window ahead of a stalled one
 * (whose chunk always completes or fails, and wakes it). */
static int64_t claim(kvs_engine *e)
{
    pthread_mutex_lock(&e->mu);
    while (!e->failed && e->next_work < e->plan.total && !kvs_engine_leaf_room(e, e->next_work))
        pthread_cond_wait(&e->cv, &e->mu);
    int64_t i = (e->failed || e->next_work >= e->plan.total) ? -1 : (int64_t)e->next_work++;
    pthread_mutex_unlock(&e->mu);
    return i;
}

static size_t stored_size(const kvs_engine *e)
{
    return e->plan.chunk_size + KVS_CHUNK_TAG_LEN;
}

/* Opening in place needs one buffer per worker. Only a chunk that fails is
 * read again, into a second buffer allocated then, so that
 * kvs_chunk_open_checked can tell truncation from damage. */
static kvs_status open_in_place(kvs_engine *e, worker *w, uint64_t i, int final, size_t len,
                                uint64_t at, kvs_error *err)
{
    kvs_source *in = e->job->in;
    if (kvs_chunk_open(w->gcm, i, final, w->buf, len, w->buf) == KVS_OK) return KVS_OK;
    if (!w->scratch && !(w->scratch = malloc(stored_size(e))))
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = in->ops->read_at(in, at, w->buf, len, err);
    if (st == KVS_OK) st = kvs_chunk_open_checked(w->gcm, i, final, w->buf, len, w->scratch, err);
    if (st != KVS_OK) return st;
    /* The chunk failed once and opened on the second read. */
    OPENSSL_cleanse(w->scratch, len - KVS_CHUNK_TAG_LEN);
    return kvs_fail(err, KVS_ERR_IO, "the input file changed while it was read");
}

/* Where chunk input is: in the source itself when it is mapped, else read
 * into the worker's buffer. */
static kvs_status chunk_input(kvs_engine *e, worker *w, uint64_t at, size_t len,
                              const uint8_t **src, kvs_error *err)
{
    kvs_source *in = e->job->in;
    if (in->caps & KVS_IO_MAPPED) {
        *src = in->ops->map(in, at, len);
        return KVS_OK;
    }
    kvs_status st = in->ops->read_at(in, at, w->buf, len, err);
    if (st == KVS_ERR_TRUNCATED)
        st = kvs_fail(err, KVS_ERR_IO, "the input file changed size while it was read");
    *src = w->buf;
    return st;
}

/* Read, seal or open, and write chunk i, whose place the plan fixes. A
 * malformed last stored chunk is reported in file order, as in ring mode. */
static kvs_status direct_chunk(kvs_engine *e, worker *w, uint64_t i, size_t *len, kvs_error *err)
{
    const kvs_chunk_plan *p = &e->plan;
    kvs_sink *out = e->job->out;
    int final = 0;
    kvs_chunk_plan_chunk(p, i, len, &final);
    if (final && !p->sealing && kvs_chunk_check_last(*len, i, err) != KVS_OK) {
        kvs_engine_fail_in_order(e, i, err);
        return err->status;
    }
    uint64_t at = kvs_chunk_plan_in_offset(p, i), to = kvs_chunk_plan_out_offset(p, i);
    size_t out_len = kvs_chunk_plan_out_len(p, *len);
    const uint8_t *src = NULL;
    uint8_t *dst = (out->caps & KVS_IO_MAPPED) ? out->ops->map(out, to, out_len) : w->buf;
    uint8_t leaf[KVS_HASH_LEN];
    int hashing = !p->sealing && e->job->roots != NULL;
    kvs_status st = chunk_input(e, w, at, *len, &src, err);
    if (st == KVS_OK && hashing) /* the stored bytes, before opening in place */
        st = kvs_engine_leaf_hash(i, src, *len, leaf, err);
    if (st != KVS_OK) return st;
    if (p->sealing)
        st = kvs_engine_seal(w->gcm, i, final, src, *len, dst, err);
    else if (src == w->buf && dst == w->buf)
        st = open_in_place(e, w, i, final, *len, at, err);
    else /* the input stays as it was: a failure is explained right away */
        st = kvs_chunk_open_checked(w->gcm, i, final, src, *len, dst, err);
    if (st == KVS_OK && p->sealing && e->job->roots) st = kvs_engine_leaf(e, i, dst, out_len, err);
    if (st == KVS_OK && dst == w->buf) st = out->ops->write_at(out, to, dst, out_len, err);
    if (st == KVS_OK && hashing) st = kvs_engine_leaf_add(e, i, leaf, err); /* now in the sink */
    return st;
}

static void report_progress(kvs_engine *e)
{
    const kvs_engine_job *job = e->job;
    if (!job->progress || !pthread_equal(pthread_self(), e->caller)) return;
    pthread_mutex_lock(&e->mu);
    uint64_t done = e->consumed;
    pthread_mutex_unlock(&e->mu);
    job->progress(done, job->progress_arg);
}

/* One worker: its own GCM context and, unless both ends are mapped, its
 * chunk buffer (and, once a chunk fails to open, a scratch buffer), wiped
 * as far as they were used. The calling thread runs one too. */
static void *direct_worker(void *arg)
{
    kvs_engine *e = arg;
    kvs_error err = {0};
    worker w = {kvs_gcm_new(e->job->key), NULL, NULL, 0};
    int mapped = (e->job->in->caps & e->job->out->caps & KVS_IO_MAPPED) != 0;
    if (!mapped) w.buf = malloc(stored_size(e));
    kvs_status st = (!w.gcm || (!mapped && !w.buf)) ? kvs_fail(&err, KVS_ERR_NOMEM, "out of memory")
                                                     : KVS_OK;
    for (int64_t i; st == KVS_OK && (i = claim(e)) >= 0;) {
        size_t len = 0;
        st = direct_chunk(e, &w, (uint64_t)i, &len, &err);
        size_t used = len + (e->plan.sealing ? KVS_CHUNK_TAG_LEN : 0);
        if (used > w.wipe) w.wipe = used;
        pthread_mutex_lock(&e->mu);
        kvs_engine_chunk_done(e, (uint64_t)i, st, st == KVS_OK ? kvs_chunk_plan_out_len(&e->plan, len) : 0,
                              &err);
        if (st == KVS_OK) e->consumed += len;
        pthread_cond_broadcast(&e->cv); /* a worker in fail_in_order waits for this */
        pthread_mutex_unlock(&e->mu);
        if (st == KVS_OK) report_progress(e);
    }
    if (st != KVS_OK) kvs_engine_fail(e, &err); /* e.g. out of memory before any chunk */
    if (w.buf) OPENSSL_cleanse(w.buf, w.wipe);
    if (w.scratch) OPENSSL_cleanse(w.scratch, w.wipe);
    free(w.buf);
    free(w.scratch);
    kvs_gcm_free(w.gcm);
    return NULL;
}

kvs_status kvs_engine_run_direct(kvs_engine *e, kvs_error *err)
{
    pthread_t workers[KVS_ENGINE_MAX_THREADS];
    unsigned started = 0;
    unsigned threads = kvs_engine_threads(e->job->threads, 0);
    if (threads > e->plan.total) threads = (unsigned)e->plan.total; /* small inputs: fewer threads */
    e->caller = pthread_self();
    while (started + 1 < threads) {
        if (pthread_create(&workers[started], NULL, direct_worker, e) != 0) break;
        started++; /* fewer threads than asked only costs speed */
    }
    direct_worker(e);
    for (unsigned i = 0; i < started; i++) pthread_join(workers[i], NULL);
    return e->failed ? kvs_error_copy(err, &e->err) : KVS_OK;
}
