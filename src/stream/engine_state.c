/* Failure bookkeeping and sizing shared by the engine's two modes. */
#include <unistd.h>

#include "core/error.h"
#include "stream/chunk.h"
#include "stream/engine_state.h"

void kvs_engine_fail(kvs_engine *e, const kvs_error *err)
{
    pthread_mutex_lock(&e->mu);
    if (!e->failed) {
        e->failed = 1;
        e->err = *err;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void kvs_engine_chunk_done(kvs_engine *e, uint64_t index, kvs_status st, size_t out_len,
                           const kvs_error *err)
{
    if (st == KVS_OK) {
        e->processed++;
        e->produced += out_len;
        return;
    }
    if (index < e->fail_index) e->fail_index = index;
    if (!e->failed) {
        e->failed = 1;
        e->err = *err;
    }
}

void kvs_engine_fail_in_order(kvs_engine *e, uint64_t index, const kvs_error *err)
{
    pthread_mutex_lock(&e->mu);
    while (!e->failed && e->processed < index) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    kvs_engine_fail(e, err);
}

kvs_status kvs_engine_seal(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                           size_t len, uint8_t *out, kvs_error *err)
{
    kvs_status st = kvs_chunk_seal(gcm, index, final, in, len, out);
    return st == KVS_OK ? KVS_OK : kvs_fail(err, st, "chunk encryption failed");
}

/* On 2 CPUs, pipe input with 2 workers instead of 1 took 1.60 s instead of
 * 1.07 s for 2 GiB (median of 5): the reader, the upstream writer and the
 * workers preempted each other while holding the pipe lock. */
unsigned kvs_engine_threads(unsigned requested, unsigned busy_threads)
{
    long n = requested ? (long)requested : sysconf(_SC_NPROCESSORS_ONLN) - (long)busy_threads;
    if (n < 1) n = 1;
    return n > KVS_ENGINE_MAX_THREADS ? KVS_ENGINE_MAX_THREADS : (unsigned)n;
}

/* Record a failure at chunk `first` (mu held): the first failure wins, the
 * lowest index bounds the output kept. */
static void fail_at_locked(kvs_engine *e, uint64_t first, const kvs_error *err)
{
    if (first < e->fail_index) e->fail_index = first;
    if (!e->failed) {
        e->failed = 1;
        e->err = *err;
    }
}

/* Compare the roots of newly complete segments with the trailer's (mu held). */
static kvs_status check_segments(kvs_engine *e, kvs_error *err)
{
    const kvs_engine_job *job = e->job;
    if (!job->expect_roots) return KVS_OK;
    uint32_t complete = kvs_roots_count(job->roots);
    for (; e->verified < complete; e->verified++) {
        uint32_t j = e->verified;
        if (kvs_segment_root_check(job->expect_roots, job->expect_m, j, kvs_roots_get(job->roots, j),
                                   err) != KVS_OK) {
            fail_at_locked(e, (uint64_t)j * KVS_SEGMENT_CHUNKS, err);
            return KVS_ERR_AUTH;
        }
    }
    kvs_sink *out = job->out;
    if (out->ops->released) { /* a signal may keep verified segments only */
        uint64_t chunks = (uint64_t)e->verified * KVS_SEGMENT_CHUNKS;
        if (e->chunks_known != UINT64_MAX && chunks > e->chunks_known) chunks = e->chunks_known;
        out->ops->released(out, kvs_chunk_plan_prefix_end(&e->plan, chunks));
    }
    return KVS_OK;
}

/* Every leaf is in: close the last segment and check what remains (mu held). */
static kvs_status finish_roots(kvs_engine *e, kvs_error *err)
{
    kvs_status st = kvs_roots_finish(e->job->roots, e->chunks_known);
    if (st != KVS_OK) {
        kvs_fail(err, st, "segment roots could not be completed");
        fail_at_locked(e, 0, err);
        return st;
    }
    return check_segments(e, err);
}

kvs_status kvs_engine_leaf_hash(uint64_t index, const uint8_t *stored, size_t len,
                                uint8_t leaf[KVS_HASH_LEN], kvs_error *err)
{
    if (kvs_leaf_hash(index, stored, len, leaf) != KVS_OK)
        return kvs_fail(err, KVS_ERR_CRYPTO, "SHA-256 of a chunk failed");
    return KVS_OK;
}

kvs_status kvs_engine_leaf(kvs_engine *e, uint64_t index, const uint8_t *stored, size_t len,
                           kvs_error *err)
{
    uint8_t leaf[KVS_HASH_LEN];
    kvs_status st = kvs_engine_leaf_hash(index, stored, len, leaf, err);
    return st == KVS_OK ? kvs_engine_leaf_add(e, index, leaf, err) : st;
}

kvs_status kvs_engine_leaf_add(kvs_engine *e, uint64_t index, const uint8_t leaf[KVS_HASH_LEN],
                               kvs_error *err)
{
    uint32_t complete = 0;
    pthread_mutex_lock(&e->mu);
    kvs_status st = kvs_roots_add(e->job->roots, index, leaf, &complete);
    if (st != KVS_OK) {
        kvs_fail(err, st, "segment roots: chunk %llu arrived out of bounds", (unsigned long long)index);
        fail_at_locked(e, index, err);
    } else if (++e->leaves == e->chunks_known) {
        st = finish_roots(e, err);
    } else {
        st = check_segments(e, err);
    }
    pthread_cond_broadcast(&e->cv); /* an ordered writer waits for verified segments */
    pthread_mutex_unlock(&e->mu);
    return st;
}

int kvs_engine_leaf_room(const kvs_engine *e, uint64_t index)
{
    if (!e->job->roots) return 1;
    /* every leaf below the complete segments is in: the lowest missing one
     * is at least there */
    uint64_t floor = (uint64_t)kvs_roots_count(e->job->roots) * KVS_SEGMENT_CHUNKS;
    return index < floor + KVS_ENGINE_ROOTS_WINDOW - KVS_SEGMENT_CHUNKS;
}

kvs_status kvs_engine_set_chunks(kvs_engine *e, uint64_t chunks, kvs_error *err)
{
    e->chunks_known = chunks;
    if (!e->job->roots || e->leaves != chunks) return KVS_OK;
    return finish_roots(e, err);
}

int kvs_engine_released(const kvs_engine *e, uint64_t index)
{
    if (!e->job->expect_roots) return 1;
    return index < (uint64_t)e->verified * KVS_SEGMENT_CHUNKS;
}
