/* Range decryption of a block blob (kvs_blob_decrypt_range): the file
 * range code (envelope/range.c) over the blob source, without read-ahead,
 * so only the header, the covering chunks and the final chunk are fetched. */
#include "blob/rest_store.h"
#include "blob/source.h"
#include "envelope/blob_ops.h"
#include "envelope/range.h"

kvs_status kvs_blob_decrypt_range_store(kvs_blob_store *store, uint64_t offset, uint64_t length,
                                        int out_fd, const kvs_decrypt_options *opts,
                                        kvs_provider *const *keys, size_t n_keys,
                                        kvs_error *err)
{
    kvs_blob_source in;
    kvs_status st = kvs_blob_source_open(&in, store, 0, 1, err);
    if (st == KVS_OK)
        st = kvs_decrypt_range_source(&in.base, offset, length, out_fd, opts, keys, n_keys, err);
    kvs_blob_source_close(&in);
    return st;
}

kvs_status kvs_blob_decrypt_range(const char *url, const kvs_blob_config *cfg, uint64_t offset,
                                  uint64_t length, int out_fd, const kvs_decrypt_options *opts,
                                  kvs_provider *const *keys, size_t n_keys, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_decrypt_range_store(store, offset, length, out_fd, opts, keys, n_keys, err);
    store->ops->free(store);
    return st;
}
