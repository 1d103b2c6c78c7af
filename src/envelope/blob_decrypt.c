/* Decryption of a whole block blob (kvs_blob_decrypt): the blob source
 * through the engine to a file, a pipe, or nowhere (verify only). */
#include "blob/rest_store.h"
#include "blob/source.h"
#include "envelope/blob_ops.h"
#include "stream/io_fd.h"
#include "stream/pipeline.h"

kvs_status kvs_blob_decrypt_store(kvs_blob_store *store, const kvs_blob_tuning *t, int out_fd,
                                  const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                  size_t n_keys, kvs_header **header_out, kvs_error *err)
{
    kvs_blob_source in;
    kvs_fd_sink file;
    kvs_sink discard;
    kvs_engine_result res;
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_blob_source_open(&in, store, KVS_BLOB_READAHEAD_DEFAULT,
                                         t ? t->parallel : 0, err);
    if (st == KVS_OK) {
        kvs_fd_sink_init(&file, out_fd);
        kvs_discard_sink_init(&discard);
        kvs_sink *out = out_fd < 0 ? &discard : &file.base; /* the API's "verify only" */
        st = kvs_decrypt_source(&in.base, out, opts, keys, n_keys, header_out, &res, err);
    }
    kvs_blob_source_close(&in);
    return st;
}

kvs_status kvs_blob_decrypt(const char *url, const kvs_blob_config *cfg, int out_fd,
                            const kvs_decrypt_options *opts, kvs_provider *const *keys,
                            size_t n_keys, kvs_header **header_out, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    kvs_blob_tuning t = kvs_blob_tuning_of(cfg);
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_decrypt_store(store, &t, out_fd, opts, keys, n_keys, header_out, err);
    store->ops->free(store);
    return st;
}
