/* Chunk geometry, final flags and the chunk limit (FORMAT.md §6). */
#include "stream/chunk_plan.h"

#include "core/error.h"
#include "kvseal/header.h"

void kvs_chunk_plan_init(kvs_chunk_plan *p, size_t chunk_size, int sealing)
{
    *p = (kvs_chunk_plan){.chunk_size = chunk_size, .sealing = sealing,
                          .max_chunks = KVS_MAX_CHUNKS};
}

static size_t stored_unit(const kvs_chunk_plan *p)
{
    return p->chunk_size + KVS_CHUNK_TAG_LEN;
}

size_t kvs_chunk_plan_in_unit(const kvs_chunk_plan *p)
{
    return p->sealing ? p->chunk_size : stored_unit(p);
}

size_t kvs_chunk_plan_out_unit(const kvs_chunk_plan *p)
{
    return p->sealing ? stored_unit(p) : p->chunk_size;
}

uint64_t kvs_chunk_plan_in_offset(const kvs_chunk_plan *p, uint64_t index)
{
    return p->in_base + index * kvs_chunk_plan_in_unit(p);
}

uint64_t kvs_chunk_plan_out_offset(const kvs_chunk_plan *p, uint64_t index)
{
    return p->out_base + index * kvs_chunk_plan_out_unit(p);
}

size_t kvs_chunk_plan_out_len(const kvs_chunk_plan *p, size_t in_len)
{
    return p->sealing ? in_len + KVS_CHUNK_TAG_LEN : in_len - KVS_CHUNK_TAG_LEN;
}

uint64_t kvs_chunk_plan_prefix_end(const kvs_chunk_plan *p, uint64_t chunks)
{
    return kvs_chunk_plan_out_offset(p, chunks);
}

kvs_status kvs_chunk_plan_check_count(const kvs_chunk_plan *p, uint64_t chunks, kvs_error *err)
{
    if (chunks <= p->max_chunks) return KVS_OK;
    return kvs_fail(err, p->sealing ? KVS_ERR_LIMIT : KVS_ERR_FORMAT, "more than 2^32 chunks");
}

kvs_status kvs_chunk_plan_after_full(const kvs_chunk_plan *p, uint64_t index, size_t next_len,
                                     int *final, kvs_error *err)
{
    /* A full chunk followed by end of input is the final one; one followed
     * by more input means chunk index + 1 exists too. */
    *final = next_len == 0;
    return kvs_chunk_plan_check_count(p, *final ? index + 1 : index + 2, err);
}

kvs_status kvs_chunk_plan_sized(kvs_chunk_plan *p, uint64_t in_len, kvs_error *err)
{
    size_t unit = kvs_chunk_plan_in_unit(p);
    p->in_len = in_len;
    p->total = in_len == 0 ? 1 : in_len / unit + (in_len % unit != 0);
    return kvs_chunk_plan_check_count(p, p->total, err);
}

void kvs_chunk_plan_chunk(const kvs_chunk_plan *p, uint64_t index, size_t *len, int *final)
{
    size_t unit = kvs_chunk_plan_in_unit(p);
    uint64_t left = p->in_len - index * unit;
    *final = index + 1 == p->total;
    *len = left < unit ? (size_t)left : unit;
}

uint64_t kvs_chunk_plan_out_total(const kvs_chunk_plan *p)
{
    if (p->sealing) return p->in_len + p->total * KVS_CHUNK_TAG_LEN;
    return kvs_chunk_plaintext_span(p->in_len, p->chunk_size);
}

kvs_status kvs_chunk_check_last(size_t len, uint64_t index, kvs_error *err)
{
    if (len == 0 && index == 0)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its first chunk");
    if (len < KVS_CHUNK_TAG_LEN)
        return kvs_fail(err, KVS_ERR_TRUNCATED,
                        "truncated file: chunk %llu is shorter than its 16-byte tag",
                        (unsigned long long)index);
    if (len == KVS_CHUNK_TAG_LEN && index > 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed payload: empty final chunk after %llu chunks",
                        (unsigned long long)index);
    return KVS_OK;
}

uint64_t kvs_chunk_plaintext_span(uint64_t payload, size_t chunk_size)
{
    uint64_t stored = (uint64_t)chunk_size + KVS_CHUNK_TAG_LEN;
    uint64_t rest = payload % stored;
    return payload / stored * chunk_size + (rest > KVS_CHUNK_TAG_LEN ? rest - KVS_CHUNK_TAG_LEN : 0);
}
