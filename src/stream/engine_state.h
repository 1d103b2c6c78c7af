/* Internal: the state one engine transfer shares between its threads, and
 * the two modes that run it (stream/engine.h). */
#ifndef KVS_STREAM_ENGINE_STATE_H
#define KVS_STREAM_ENGINE_STATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "stream/engine.h"

#define KVS_ENGINE_MAX_THREADS 64

typedef struct kvs_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const kvs_engine_job *job;
    kvs_chunk_plan plan;  /* the job's, with out_base set; sized in direct mode */
    uint64_t next_work;   /* next chunk index to claim */
    uint64_t processed;   /* chunks sealed or opened successfully */
    uint64_t produced;    /* their output bytes */
    uint64_t fail_index;  /* lowest chunk that failed; UINT64_MAX if none */
    int failed;
    kvs_error err;        /* first failure */
    uint64_t consumed;    /* input bytes read (ring: reader only; direct: under mu) */
    pthread_t caller;     /* the thread that reports progress */
    /* Signed files (job->roots): under mu. */
    uint64_t chunks_known; /* the number of chunks once known, else UINT64_MAX */
    uint64_t leaves;       /* leaves added */
    uint32_t verified;     /* segments whose roots matched expect_roots */
    uint8_t *found_tail;   /* find_tail: the trailer bytes the reader split off */
    size_t found_tail_len;
} kvs_engine;

/* Hash stored chunk i (len bytes) into a leaf and add it to job->roots;
 * with expected roots, check each segment as it completes. Called by the
 * workers outside mu, once per chunk, when job->roots is set. A segment
 * that does not match fails the transfer at its first chunk. */
kvs_status kvs_engine_leaf(kvs_engine *e, uint64_t index, const uint8_t *stored, size_t len,
                           kvs_error *err);
/* The same in two steps, for a chunk opened in place: hash the stored bytes
 * first, add the leaf once the chunk's output is written (so a segment
 * counts as released only when all of it is in the sink). */
kvs_status kvs_engine_leaf_hash(uint64_t index, const uint8_t *stored, size_t len,
                                uint8_t leaf[KVS_HASH_LEN], kvs_error *err);
kvs_status kvs_engine_leaf_add(kvs_engine *e, uint64_t index, const uint8_t leaf[KVS_HASH_LEN],
                               kvs_error *err);

/* Signed files: chunk i's leaf would fit the roots' window now (mu held).
 * Always true without leaves. The ring never needs it: its slots keep it
 * closer than the window. */
int kvs_engine_leaf_room(const kvs_engine *e, uint64_t index);

/* The number of chunks is now known (the reader saw the end); mu held. */
kvs_status kvs_engine_set_chunks(kvs_engine *e, uint64_t chunks, kvs_error *err);

/* Opening with expected roots: chunk i may be released (its segment
 * verified); mu held. Always true without expected roots. */
int kvs_engine_released(const kvs_engine *e, uint64_t index);

/* Record a failure that is not one chunk's (takes mu); the first one wins. */
void kvs_engine_fail(kvs_engine *e, const kvs_error *err);

/* Record chunk index's result, out_len output bytes if it succeeded (mu
 * held). Every chunk below the lowest failed one was claimed before it and
 * runs to completion, so that index bounds the complete output prefix. */
void kvs_engine_chunk_done(kvs_engine *e, uint64_t index, kvs_status st, size_t out_len,
                           const kvs_error *err);

/* A malformed last chunk is reported only once the chunks before it
 * opened, so the first failure in file order wins, as in the streaming
 * decryptor (a full chunk followed by junk is trailing data, not a short
 * chunk). */
void kvs_engine_fail_in_order(kvs_engine *e, uint64_t index, const kvs_error *err);

/* Seal one chunk from in to out (in place when they are equal). */
kvs_status kvs_engine_seal(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                           size_t len, uint8_t *out, kvs_error *err);

/* Workers: as requested, else one per online CPU less the CPUs the ring's
 * own threads keep busy (busy_threads); 1 to KVS_ENGINE_MAX_THREADS. */
unsigned kvs_engine_threads(unsigned requested, unsigned busy_threads);

/* The modes; both return the first failure. */
kvs_status kvs_engine_run_direct(kvs_engine *e, kvs_error *err);
kvs_status kvs_engine_run_ring(kvs_engine *e, kvs_error *err);

#endif
