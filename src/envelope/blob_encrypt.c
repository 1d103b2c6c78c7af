/* Encryption into a block blob (kvs_blob_encrypt): a file or pipe through
 * the engine into the blob sink, committed only when every block is staged. */
#include "blob/rest_store.h"
#include "blob/sink.h"
#include "envelope/blob_ops.h"
#include "stream/io_fd.h"
#include "stream/pipeline.h"

kvs_blob_tuning kvs_blob_tuning_of(const kvs_blob_config *cfg)
{
    kvs_blob_tuning t = {cfg ? cfg->parallel : 0, NULL};
    return t;
}

kvs_status kvs_blob_encrypt_store(kvs_blob_store *store, const kvs_blob_tuning *t, int in_fd,
                                  int overwrite, const kvs_encrypt_options *opts,
                                  kvs_provider *const *recipients, size_t n_recipients,
                                  kvs_error *err)
{
    kvs_fd_source in;
    kvs_blob_sink out;
    kvs_engine_result res;
    kvs_blob_sink_config c = {t ? t->parallel : 0, overwrite, t ? t->layout : NULL};
    kvs_fd_source_init(&in, in_fd, 1); /* a file that changes size is refused */
    kvs_blob_sink_init(&out, store, &c);
    kvs_status st = kvs_encrypt_source(&in.base, &out.base, opts, recipients, n_recipients, &res, err);
    kvs_blob_sink_close(&out);
    return st;
}

kvs_status kvs_blob_encrypt(int in_fd, const char *url, const kvs_blob_config *cfg,
                            const kvs_output_options *out_opts, const kvs_encrypt_options *opts,
                            kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    kvs_blob_tuning t = kvs_blob_tuning_of(cfg);
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_encrypt_store(store, &t, in_fd, out_opts && out_opts->overwrite, opts, recipients,
                                n_recipients, err);
    store->ops->free(store);
    return st;
}
