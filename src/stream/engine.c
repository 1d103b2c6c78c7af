/* One payload transfer (stream/engine.h): pick the mode from the source's
 * and the sink's capabilities, then header, chunks, finish and commit, or
 * abort keeping the complete prefix. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kvseal/header.h"
#include "stream/engine_state.h"

/* Direct mode needs the input's size to place every chunk, and both ends
 * positional to let each worker read and write its own. */
static int direct_mode(const kvs_engine_job *job)
{
    const kvs_source *in = job->in;
    return in->size != KVS_IO_SIZE_UNKNOWN && in->size >= job->plan.in_base &&
           (in->caps & KVS_IO_POSITIONAL) && (job->out->caps & KVS_IO_POSITIONAL);
}

static kvs_status start_sink(const kvs_engine *e, int direct, kvs_error *err)
{
    kvs_sink *out = e->job->out;
    int gated = e->job->expect_roots != NULL || e->job->release_at_end;
    kvs_sink_shape shape = {e->job->header_len, e->plan.chunk_size,
                            kvs_chunk_plan_out_unit(&e->plan), KVS_IO_SIZE_UNKNOWN, gated};
    if (direct) shape.total = e->plan.out_base + kvs_chunk_plan_out_total(&e->plan);
    if (direct && e->job->tail_len) shape.total += e->job->tail_len(e->job->tail_arg, e->plan.total);
    return out->ops->start ? out->ops->start(out, &shape, err) : KVS_OK;
}

static kvs_status write_header(const kvs_engine_job *job, kvs_error *err)
{
    kvs_sink *out = job->out;
    if (job->header_len == 0) return KVS_OK;
    if (out->caps & KVS_IO_POSITIONAL) return out->ops->write_at(out, 0, job->header, job->header_len, err);
    return out->ops->write(out, job->header, job->header_len, err);
}

/* What a failed transfer leaves complete: the header and the chunks before
 * the first that failed, or, if none failed, every chunk that was done
 * (all claimed chunks ran to completion). */
static uint64_t complete_prefix(const kvs_engine *e)
{
    const kvs_engine_job *job = e->job;
    uint64_t chunks = e->fail_index;
    if (job->release_at_end) return e->plan.out_base; /* nothing verified before the end */
    if (job->expect_roots) { /* only segments whose roots matched */
        uint64_t verified = (uint64_t)e->verified * KVS_SEGMENT_CHUNKS;
        if (verified < chunks) chunks = verified;
    }
    if (chunks != UINT64_MAX) return kvs_chunk_plan_prefix_end(&e->plan, chunks);
    return e->plan.out_base + e->produced;
}

/* Bytes after the final chunk, at the sink's end: a mapped sink is written
 * in place, a positional one at its offset, a sequential one next. */
static kvs_status put_tail(kvs_engine *e, const uint8_t *bytes, size_t len, kvs_error *err)
{
    kvs_sink *out = e->job->out;
    uint64_t at = e->plan.out_base + e->produced;
    kvs_status st = KVS_OK;
    if (out->ops->write_tail) st = out->ops->write_tail(out, at, bytes, len, err);
    else if (out->caps & KVS_IO_MAPPED) memcpy(out->ops->map(out, at, len), bytes, len);
    else if (out->caps & KVS_IO_POSITIONAL) st = out->ops->write_at(out, at, bytes, len, err);
    else st = out->ops->write(out, bytes, len, err);
    if (st == KVS_OK) e->produced += len;
    return st;
}

/* Signed files, once every chunk went through: sealing appends the trailer,
 * opening checks it (and the roots and signature) before anything commits. */
static kvs_status end_of_payload(kvs_engine *e, kvs_error *err)
{
    const kvs_engine_job *job = e->job;
    uint64_t chunks = e->processed;
    if (job->tail) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        kvs_status st = job->tail(job->tail_arg, chunks, &bytes, &len, err);
        if (st == KVS_OK) st = put_tail(e, bytes, len, err);
        free(bytes);
        return st;
    }
    if (job->tail_check) return job->tail_check(job->tail_arg, chunks, e->found_tail, e->found_tail_len, err);
    return KVS_OK;
}

static kvs_status run_chunks(kvs_engine *e, int direct, kvs_error *err)
{
    kvs_source *in = e->job->in;
    kvs_sink *out = e->job->out;
    if (in->ops->expect) in->ops->expect(in, e->plan.chunk_size + KVS_CHUNK_TAG_LEN);
    kvs_status st = direct ? kvs_engine_run_direct(e, err) : kvs_engine_run_ring(e, err);
    if (st == KVS_OK) st = end_of_payload(e, err);
    if (st == KVS_OK && in->ops->finish) st = in->ops->finish(in, e->plan.in_base + e->consumed, err);
    if (st == KVS_OK && out->ops->commit)
        st = out->ops->commit(out, e->plan.out_base + e->produced, err);
    return st;
}

kvs_status kvs_engine_transfer(const kvs_engine_job *job, kvs_engine_result *res, kvs_error *err)
{
    kvs_engine e;
    memset(&e, 0, sizeof e);
    memset(res, 0, sizeof *res);
    e.job = job;
    e.plan = job->plan;
    e.plan.out_base = job->header_len;
    e.fail_index = UINT64_MAX;
    e.chunks_known = UINT64_MAX;
    int direct = direct_mode(job) && !job->find_tail;
    kvs_status st = direct ? kvs_chunk_plan_sized(&e.plan, job->in->size - job->plan.in_base, err)
                           : KVS_OK;
    if (st == KVS_OK && direct) e.chunks_known = e.plan.total;
    if (st == KVS_OK) st = start_sink(&e, direct, err);
    if (st != KVS_OK) return st; /* nothing was written */
    pthread_mutex_init(&e.mu, NULL);
    pthread_cond_init(&e.cv, NULL);
    st = write_header(job, err);
    int header_written = st == KVS_OK;
    if (header_written) st = run_chunks(&e, direct, err);
    if (st != KVS_OK && job->out->ops->abort)
        job->out->ops->abort(job->out, header_written ? complete_prefix(&e) : 0);
    res->consumed = e.consumed;
    if (st == KVS_OK) res->out_len = e.plan.out_base + e.produced;
    free(e.found_tail);
    pthread_cond_destroy(&e.cv);
    pthread_mutex_destroy(&e.mu);
    return st;
}
