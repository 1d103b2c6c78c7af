/* Internal: the chunk engine. It moves one payload from a source to a sink
 * (stream/io.h), sealing or opening every chunk with parallel workers, in
 * one of two modes chosen from the source's and the sink's capabilities:
 *
 * Direct (stream/direct.c), when the source's size is known and both ends
 * are positional: the size fixes every chunk's offset, length and final
 * flag up front, so each of N workers (the calling thread is one) reads,
 * seals or opens in place, and writes its own chunks: no hand-off between
 * threads. Memory: N * (chunk_size + 16) bytes, plus one chunk for a worker
 * whose chunk fails to open (it reads the chunk again to tell truncation
 * from damage); none at all when both ends are mapped memory.
 *
 * Ring (stream/ring.c), otherwise (pipes, terminals, sockets): the calling
 * thread reads chunks in order into a ring of slots; N workers seal or open
 * them in place; output goes to its offset (positional sinks) or, through
 * one writer thread, in order. Memory: (2 * threads + 2) * (chunk_size + 16)
 * bytes plus one chunk per opening worker.
 *
 * Either way, memory does not depend on the payload's size. */
#ifndef KVS_STREAM_ENGINE_H
#define KVS_STREAM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "format/signed.h"
#include "stream/chunk_plan.h"
#include "stream/io.h"

/* Signed files: leaves are kept for chunks at most this far past the
 * lowest one whose leaf is missing (kvs_roots_new's window); workers do not
 * run further ahead of a stalled one. */
#define KVS_ENGINE_ROOTS_WINDOW 512

typedef struct kvs_engine_job {
    /* chunk_size, sealing, in_base (where chunk 0 starts in the source) and
     * max_chunks; the engine sets out_base to header_len and sizes it. */
    kvs_chunk_plan plan;
    const uint8_t *key;     /* the payload key */
    kvs_source *in;
    kvs_sink *out;
    const uint8_t *header;  /* written at sink offset 0 first; may be NULL */
    size_t header_len;      /* with header: its length, else 0 */
    unsigned threads;       /* 0 = online CPUs, less the ring's busy threads */
    void (*progress)(uint64_t bytes_done, void *arg); /* optional, calling thread */
    void *progress_arg;

    /* Signed files (FORMAT.md "Signed files"); all optional. */
    /* Hash every stored chunk into a leaf in the workers and accumulate the
     * segment roots here (sealing: to sign; opening: to verify). */
    kvs_roots *roots;
    /* Opening with the trailer read first: its roots. A segment whose root
     * differs fails the transfer (KVS_ERR_AUTH) at its first chunk, and only
     * chunks of verified segments count as released: a sequential sink gets
     * a chunk only once its segment verified, and a failed transfer keeps
     * only verified segments. */
    const uint8_t *expect_roots;
    uint32_t expect_m;
    /* Opening whose roots can only be checked at the end (a stream's trailer
     * comes last): a failed transfer keeps no output at all. */
    int release_at_end;
    /* Opening a stream of a signed file: the trailer follows the final
     * chunk, found by the streaming rule (stream/ring.c) and handed to
     * tail_check before the sink commits. */
    int find_tail;
    /* Sealing: the bytes after the final chunk (the trailer): tail_len gives
     * their length for `chunks` chunks up front, tail makes them (a new
     * buffer, free()) once every chunk is sealed. */
    uint64_t (*tail_len)(void *arg, uint64_t chunks);
    kvs_status (*tail)(void *arg, uint64_t chunks, uint8_t **bytes, size_t *len, kvs_error *err);
    /* Opening: called once every chunk opened, before the sink commits,
     * with the trailer bytes found (find_tail) or NULL. */
    kvs_status (*tail_check)(void *arg, uint64_t chunks, const uint8_t *found, size_t found_len,
                             kvs_error *err);
    void *tail_arg;
} kvs_engine_job;

typedef struct kvs_engine_result {
    uint64_t consumed; /* source bytes read after in_base (also on failure) */
    uint64_t out_len;  /* sink bytes, header included (on success) */
} kvs_engine_result;

/* Start the sink, write the header, run every chunk, then finish the source
 * and commit the sink. On a failure once the sink started, the sink is
 * aborted keeping the complete prefix: the header and the chunks before
 * the first that failed. */
kvs_status kvs_engine_transfer(const kvs_engine_job *job, kvs_engine_result *res, kvs_error *err);

#endif
