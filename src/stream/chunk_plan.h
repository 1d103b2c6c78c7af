/* Internal: where a payload's chunks are (FORMAT.md §6). One planner for
 * every engine mode, so the limits and final flags cannot disagree. */
#ifndef KVS_STREAM_CHUNK_PLAN_H
#define KVS_STREAM_CHUNK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/status.h"

/* Sealing reads plaintext chunks and writes stored ones; opening the reverse.
 * Offsets are in the source's and the sink's own coordinates. */
typedef struct kvs_chunk_plan {
    size_t chunk_size;   /* plaintext bytes of a full chunk */
    int sealing;
    uint64_t in_base;    /* source offset of chunk 0 */
    uint64_t out_base;   /* sink offset of chunk 0 */
    uint64_t max_chunks; /* KVS_MAX_CHUNKS; lowered only by tests */
    uint64_t in_len;     /* sized plans: input bytes from in_base */
    uint64_t total;      /* sized plans: the number of chunks */
} kvs_chunk_plan;

void kvs_chunk_plan_init(kvs_chunk_plan *p, size_t chunk_size, int sealing);

/* Input and output bytes of a full chunk. */
size_t kvs_chunk_plan_in_unit(const kvs_chunk_plan *p);
size_t kvs_chunk_plan_out_unit(const kvs_chunk_plan *p);
uint64_t kvs_chunk_plan_in_offset(const kvs_chunk_plan *p, uint64_t index);
uint64_t kvs_chunk_plan_out_offset(const kvs_chunk_plan *p, uint64_t index);
/* Output bytes of a chunk with in_len input bytes (opening: in_len >= 16). */
size_t kvs_chunk_plan_out_len(const kvs_chunk_plan *p, size_t in_len);
/* Sink offset just past the first `chunks` chunks: a verified prefix. */
uint64_t kvs_chunk_plan_prefix_end(const kvs_chunk_plan *p, uint64_t chunks);

/* The payload may hold `chunks` chunks: at most max_chunks (exactly 2^32 is
 * allowed). Too many to seal is KVS_ERR_LIMIT, in a file KVS_ERR_FORMAT. */
kvs_status kvs_chunk_plan_check_count(const kvs_chunk_plan *p, uint64_t chunks, kvs_error *err);

/* Input of unknown length, read chunk by chunk: chunk `index` was read full
 * and the next read gave next_len bytes. Returns whether chunk `index` is
 * final (next_len == 0), or a refusal if another chunk would pass the limit. */
kvs_status kvs_chunk_plan_after_full(const kvs_chunk_plan *p, uint64_t index, size_t next_len,
                                     int *final, kvs_error *err);

/* Input of known length: every chunk is placed up front (an empty input
 * still has one empty final chunk). Sets in_len and total. */
kvs_status kvs_chunk_plan_sized(kvs_chunk_plan *p, uint64_t in_len, kvs_error *err);
/* Chunk `index` of a sized plan: its input bytes and final flag. */
void kvs_chunk_plan_chunk(const kvs_chunk_plan *p, uint64_t index, size_t *len, int *final);
/* Output bytes of a sized plan when every chunk is well formed. */
uint64_t kvs_chunk_plan_out_total(const kvs_chunk_plan *p);

/* Opening: the rules for the last stored chunk, chunk `index` of `len`
 * bytes (FORMAT.md §6), checked before it is opened. */
kvs_status kvs_chunk_check_last(size_t len, uint64_t index, kvs_error *err);

/* Plaintext bytes a payload of `payload` stored bytes can give: for a last
 * chunk shorter than its tag (refused when reached) only the full chunks
 * before it. It bounds what opening writes, so it sizes and wipes outputs. */
uint64_t kvs_chunk_plaintext_span(uint64_t payload, size_t chunk_size);

#endif
