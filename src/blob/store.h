/* One block blob, as the engine's blob sink and source use it (BLOB.md).
 *
 * This is the seam between the engine side (blob/sink.c, blob/source.c: block
 * layout, staging in parallel, commit, ranged reads) and the service side
 * (blob/rest_store.c: URLs, credentials, REST calls, retries). Unit tests put
 * an in-memory fake (tests/lib/fake_store.c) under the engine side.
 *
 * Every operation is thread-safe: several threads stage blocks or read
 * ranges of one store at once. Errors carry a one-line message without any
 * secret (no SAS token, no key, no bearer token). Internal, not in include/. */
#ifndef KVS_BLOB_STORE_H
#define KVS_BLOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/status.h"

/* Base64 text of a block id (at most 64 bytes decoded) plus its NUL. */
#define KVS_BLOB_ID_TEXT_MAX 89
#define KVS_BLOB_ETAG_MAX 128

typedef struct kvs_blob_props {
    uint64_t size;                /* Content-Length of the committed blob */
    char etag[KVS_BLOB_ETAG_MAX]; /* as the service sent it, quotes included */
} kvs_blob_props;

/* A block of a block list: staged ("Latest") or reused ("Committed"). */
typedef struct kvs_blob_block {
    char id[KVS_BLOB_ID_TEXT_MAX]; /* base64, as sent and listed */
    uint64_t size;                 /* from Get Block List; unused on commit */
    int committed;                 /* commit: reuse this committed block */
} kvs_blob_block;

typedef struct kvs_blob_meta {
    const char *name;  /* after "x-ms-meta-": [a-z0-9_] */
    const char *value; /* printable ASCII */
} kvs_blob_meta;

typedef struct kvs_blob_commit {
    const kvs_blob_block *blocks;
    size_t n_blocks;
    const kvs_blob_meta *meta;
    size_t n_meta;
    const char *if_match;  /* NULL, or the ETag the blob must still have (412:
                              KVS_ERR_IO, "the blob changed") */
    int if_none_match_any; /* refuse to replace an existing blob (409:
                              KVS_ERR_EXISTS) */
} kvs_blob_commit;

typedef struct kvs_blob_store kvs_blob_store;

typedef struct kvs_blob_store_ops {
    /* Get Blob Properties. A missing blob or container: KVS_ERR_IO with a
     * message that says so. */
    kvs_status (*properties)(kvs_blob_store *s, kvs_blob_props *out, kvs_error *err);
    /* Exactly len bytes at off (a ranged Get, len > 0), with If-Match etag
     * when etag is not NULL: a blob that changed is KVS_ERR_IO (as a local
     * file that changed while read), bytes
     * past the end KVS_ERR_TRUNCATED. */
    kvs_status (*read_range)(kvs_blob_store *s, uint64_t off, uint8_t *buf, size_t len,
                             const char *etag, kvs_error *err);
    /* Put Block with a checksum the service verifies. Idempotent. */
    kvs_status (*put_block)(kvs_blob_store *s, const char *id, const uint8_t *data, size_t len,
                            kvs_error *err);
    /* Put Block List: the blob becomes exactly these blocks, atomically. */
    kvs_status (*put_block_list)(kvs_blob_store *s, const kvs_blob_commit *c, kvs_error *err);
    /* Get Block List (committed): the blocks in order, in a malloc'd array
     * the caller frees, and the blob's ETag. */
    kvs_status (*committed_blocks)(kvs_blob_store *s, kvs_blob_block **blocks, size_t *n,
                                   kvs_blob_props *props, kvs_error *err);
    void (*free)(kvs_blob_store *s);
} kvs_blob_store_ops;

struct kvs_blob_store {
    const kvs_blob_store_ops *ops;
};

#endif
