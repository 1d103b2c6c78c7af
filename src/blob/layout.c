/* The block layout of a kvseal blob (blob/layout.h): which chunks go in
 * which block, the service's block limits, and block ids. */
#include "blob/layout.h"

#include <stdio.h>
#include <string.h>

#include "core/b64url.h"
#include "core/error.h"
#include "crypto/crypto.h"

kvs_status kvs_blob_layout_init(kvs_blob_layout *l, const kvs_blob_layout_params *params,
                                uint64_t header_len, uint64_t unit, kvs_error *err)
{
    memset(l, 0, sizeof *l);
    if (params) l->p = *params;
    if (!l->p.base_block_bytes) l->p.base_block_bytes = KVS_BLOB_BASE_BLOCK_BYTES;
    if (!l->p.group_blocks) l->p.group_blocks = KVS_BLOB_GROUP_BLOCKS;
    if (!l->p.max_blocks) l->p.max_blocks = KVS_BLOB_MAX_BLOCKS;
    if (!l->p.max_block_bytes) l->p.max_block_bytes = KVS_BLOB_MAX_BLOCK_BYTES;
    l->header_len = header_len;
    l->unit = unit;
    if (unit == 0) return kvs_fail(err, KVS_ERR_INTERNAL, "blob layout: no chunk size");
    if (unit > l->p.max_block_bytes || header_len > l->p.max_block_bytes)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT,
                        "a chunk of %llu bytes does not fit in one blob block (at most %llu bytes)",
                        (unsigned long long)unit, (unsigned long long)l->p.max_block_bytes);
    if (l->p.max_blocks < 2)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "a blob needs at least 2 blocks");
    return KVS_OK;
}

/* Chunks per block in size step k (0-based): the step's target rounded up
 * to whole chunks, at least one, never past the block limit. */
static uint64_t chunks_per_block(const kvs_blob_layout *l, uint64_t k)
{
    uint64_t target = l->p.base_block_bytes * (k + 1);
    uint64_t n = (target + l->unit - 1) / l->unit;
    uint64_t most = l->p.max_block_bytes / l->unit;
    if (n > most) n = most;
    return n ? n : 1;
}

static kvs_status too_many_blocks(const kvs_blob_layout *l, kvs_error *err)
{
    return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT,
                    "the blob would need more than %lu blocks, Blob Storage's limit: "
                    "use a larger chunk size",
                    (unsigned long)l->p.max_blocks);
}

kvs_status kvs_blob_layout_chunk_block(const kvs_blob_layout *l, uint64_t chunk,
                                       kvs_blob_span *out, kvs_error *err)
{
    uint64_t g = l->p.group_blocks, first_block = 1, acc = 0;
    for (uint64_t k = 0; first_block < l->p.max_blocks; k++, first_block += g) {
        uint64_t per = chunks_per_block(l, k);
        if (chunk - acc < g * per) {
            uint64_t j = (chunk - acc) / per;
            out->index = first_block + j;
            out->first_chunk = acc + j * per;
            out->chunks = per;
            out->offset = l->header_len + out->first_chunk * l->unit;
            out->bytes = per * l->unit;
            return out->index < l->p.max_blocks ? KVS_OK : too_many_blocks(l, err);
        }
        acc += g * per;
    }
    return too_many_blocks(l, err);
}

uint64_t kvs_blob_layout_capacity(const kvs_blob_layout *l, uint64_t chunk_size)
{
    uint64_t g = l->p.group_blocks, chunks = 0;
    for (uint64_t k = 0, first = 1; first < l->p.max_blocks; k++, first += g) {
        uint64_t blocks = l->p.max_blocks - first < g ? l->p.max_blocks - first : g;
        chunks += blocks * chunks_per_block(l, k);
    }
    return chunks * chunk_size;
}

kvs_status kvs_blob_id_prefix(uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN], kvs_error *err)
{
    if (kvs_random_public(prefix, KVS_BLOB_ID_PREFIX_LEN) != KVS_OK)
        return kvs_fail(err, KVS_ERR_CRYPTO, "the random generator failed");
    return KVS_OK;
}

void kvs_blob_block_id(const uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN], uint64_t index,
                       char out[KVS_BLOB_ID_TEXT_MAX])
{
    uint8_t raw[KVS_BLOB_ID_RAW_LEN];
    memcpy(raw, prefix, KVS_BLOB_ID_PREFIX_LEN);
    for (int i = 0; i < 8; i++) raw[KVS_BLOB_ID_PREFIX_LEN + i] = (uint8_t)(index >> (56 - 8 * i));
    /* 24 bytes: 32 characters, no padding, so every id has one length. */
    (void)kvs_b64_std_encode(raw, KVS_BLOB_ID_RAW_LEN, out, KVS_BLOB_ID_TEXT_MAX);
}

int kvs_blob_block_id_parse(const char *id, uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN],
                            uint64_t *index)
{
    uint8_t raw[KVS_BLOB_ID_RAW_LEN];
    size_t got = 0;
    char again[KVS_BLOB_ID_TEXT_MAX];
    size_t n = strnlen(id, KVS_BLOB_ID_TEXT_MAX);
    if (n >= KVS_BLOB_ID_TEXT_MAX || kvs_b64_decode_lenient(id, n, raw, sizeof raw, &got) != 0 ||
        got != KVS_BLOB_ID_RAW_LEN)
        return 0;
    /* Canonical only: the lenient decoder also takes base64url. */
    (void)kvs_b64_std_encode(raw, KVS_BLOB_ID_RAW_LEN, again, sizeof again);
    if (strcmp(again, id) != 0) return 0;
    memcpy(prefix, raw, KVS_BLOB_ID_PREFIX_LEN);
    *index = 0;
    for (int i = 0; i < 8; i++) *index = *index << 8 | raw[KVS_BLOB_ID_PREFIX_LEN + i];
    return 1;
}
