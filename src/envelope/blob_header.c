/* A block blob's header alone: unlocked (kvs_blob_unlock, restores that
 * unwrap ahead) or only parsed (kvs_blob_header_read, inspect). One or two
 * ranged Gets, no payload. */
#include <stdlib.h>

#include "blob/rest_store.h"
#include "blob/source.h"
#include "envelope/blob_ops.h"
#include "format/format.h"
#include "stream/chunk.h"

kvs_status kvs_blob_unlock_store(kvs_blob_store *store, const kvs_decrypt_options *opts,
                                 kvs_provider *const *keys, size_t n_keys,
                                 kvs_header **header_out, kvs_error *err)
{
    kvs_blob_source in;
    kvs_opened_header oh;
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_blob_source_open(&in, store, 0, 1, err);
    /* The keys it caches are for a later decryption of the same blob. */
    if (st == KVS_OK) st = kvs_open_header_source(&in.base, opts, keys, n_keys, KVS_UNLOCK_AHEAD, &oh, err);
    kvs_blob_source_close(&in);
    if (st != KVS_OK) return st;
    if (header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return KVS_OK;
}

static kvs_status read_source(void *ctx, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_source *in = ctx;
    return in->ops->read(in, buf, len, got, err);
}

kvs_status kvs_blob_header_read_store(kvs_blob_store *store, kvs_header **out,
                                      uint64_t *size_out, kvs_error *err)
{
    kvs_blob_source in;
    uint8_t *bytes = NULL;
    size_t len = 0;
    *out = NULL;
    kvs_status st = kvs_blob_source_open(&in, store, 0, 1, err);
    if (st == KVS_OK) st = kvs_header_read_stored_from(read_source, &in.base, &bytes, &len, err);
    if (st == KVS_OK)
        st = kvs_header_parse(bytes + KVS_PREFIX_LEN, len - KVS_PREFIX_LEN - KVS_TAG_LEN, out, err);
    if (st == KVS_OK && size_out) *size_out = in.base.size;
    free(bytes);
    kvs_blob_source_close(&in);
    return st;
}

kvs_status kvs_blob_unlock(const char *url, const kvs_blob_config *cfg, const kvs_decrypt_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                           kvs_error *err)
{
    kvs_blob_store *store = NULL;
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_unlock_store(store, opts, keys, n_keys, header_out, err);
    store->ops->free(store);
    return st;
}

kvs_status kvs_blob_header_read(const char *url, const kvs_blob_config *cfg, kvs_header **out,
                                uint64_t *size_out, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    *out = NULL;
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_header_read_store(store, out, size_out, err);
    store->ops->free(store);
    return st;
}
