/* Internal: the metadata a kvseal blob is committed with (BLOB.md): a
 * convenience for listing tools, not authenticated, never trusted. */
#ifndef KVS_BLOB_META_H
#define KVS_BLOB_META_H

#include <stddef.h>
#include <stdint.h>

#include "blob/store.h"

/* The metadata: kvseal_format, kvseal_keys (the recipients' key ids, as many as
 * fit), kvseal_size (the plaintext size), from the stored header and the
 * file's size. *out holds malloc'd strings freed by kvs_blob_meta_free. */
typedef struct kvs_blob_meta_set {
    kvs_blob_meta items[3];
    size_t n;
    char *keys, *size;
} kvs_blob_meta_set;

/* payload_end: the file's size less a signed file's trailer. */
kvs_status kvs_blob_meta_build(const uint8_t *stored_header, size_t header_len, uint64_t payload_end,
                               kvs_blob_meta_set *out, kvs_error *err);
void kvs_blob_meta_free(kvs_blob_meta_set *m);

#endif
