/* Internal: how a kvseal file is cut into the blocks of a block blob
 * (BLOB.md "Layout"): block 0 is exactly the stored header (magic,
 * header_len, header, header_tag); block b >= 1 holds whole stored chunks,
 * in order. The cut depends only on the header's length, the chunk size and
 * the block index, so chunks written in any order, by any thread, find
 * their block without knowing the file's length.
 *
 * Blocks grow with their index so that an input of unknown length (a pipe)
 * still fits Blob Storage's 50,000 committed blocks: blocks 1 to G hold
 * about base bytes each, the next G about 2 * base, then 3 * base, ...
 * (each rounded up to whole chunks; at least one chunk). With the service
 * defaults (base 8 MiB, G = 2048) a blob reaches more than 4 TiB of
 * plaintext for every chunk size, and no block exceeds ~200 MiB plus a
 * chunk. */
#ifndef KVS_BLOB_LAYOUT_H
#define KVS_BLOB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "blob/store.h"
#include "kvseal/status.h"

#define KVS_BLOB_MAX_BLOCKS 50000u                       /* committed, per blob */
#define KVS_BLOB_MAX_BLOCK_BYTES (4000ull * 1024 * 1024) /* 4000 MiB */
#define KVS_BLOB_BASE_BLOCK_BYTES (8u * 1024 * 1024)
#define KVS_BLOB_GROUP_BLOCKS 2048u
#define KVS_BLOB_ID_PREFIX_LEN 16 /* random bytes per upload */
#define KVS_BLOB_ID_RAW_LEN 24    /* prefix || block index (8 bytes, big-endian) */

/* The numbers the layout follows. Zero fields mean the service's values;
 * tests lower them to make many small blocks or to reach a limit. */
typedef struct kvs_blob_layout_params {
    uint64_t base_block_bytes; /* target size of blocks 1..G */
    uint32_t group_blocks;     /* G: blocks per size step */
    uint32_t max_blocks;       /* committed blocks, block 0 included */
    uint64_t max_block_bytes;  /* largest block */
} kvs_blob_layout_params;

typedef struct kvs_blob_layout {
    kvs_blob_layout_params p; /* defaults filled in */
    uint64_t header_len;      /* block 0's size: the whole stored header */
    uint64_t unit;            /* stored bytes of a full chunk */
} kvs_blob_layout;

/* Where one block lies. */
typedef struct kvs_blob_span {
    uint64_t index;       /* block index (>= 1 for chunk blocks) */
    uint64_t first_chunk; /* first chunk in it */
    uint64_t chunks;      /* chunks it holds when full */
    uint64_t offset;      /* its first byte in the file */
    uint64_t bytes;       /* its size when full: chunks * unit */
} kvs_blob_span;

/* Check the geometry against the limits: KVS_ERR_RESOURCE_LIMIT when a
 * chunk or the header cannot fit in one block. params may be NULL. */
kvs_status kvs_blob_layout_init(kvs_blob_layout *l, const kvs_blob_layout_params *params,
                                uint64_t header_len, uint64_t unit, kvs_error *err);

/* The block that holds chunk i: KVS_ERR_RESOURCE_LIMIT (with the limit in
 * the message) when it would be past the last block the service allows. */
kvs_status kvs_blob_layout_chunk_block(const kvs_blob_layout *l, uint64_t chunk,
                                       kvs_blob_span *out, kvs_error *err);

/* Plaintext bytes (chunk_size each) that the allowed blocks can hold. */
uint64_t kvs_blob_layout_capacity(const kvs_blob_layout *l, uint64_t chunk_size);

/* A fresh random id prefix for one upload (CSPRNG): two uploads of one name
 * can never commit each other's blocks. */
kvs_status kvs_blob_id_prefix(uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN], kvs_error *err);

/* Block index's id: canonical base64 of prefix || u64(index), 32
 * characters for every block of a blob. */
void kvs_blob_block_id(const uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN], uint64_t index,
                       char out[KVS_BLOB_ID_TEXT_MAX]);

/* The inverse of kvs_blob_block_id: 1, with the id's upload prefix and block
 * index, if id is a canonical kvseal block id; else 0. */
int kvs_blob_block_id_parse(const char *id, uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN],
                            uint64_t *index);

#endif
