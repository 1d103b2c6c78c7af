/* kvs_blob_list: List Blobs under a prefix (see kvseal/blob.h). */
#include "blob/rest_store.h"
#include "core/error.h"

kvs_status kvs_blob_list(const char *prefix_url, const kvs_blob_config *cfg, kvs_blob_list_fn fn,
                         void *arg, kvs_error *err)
{
    if (err) kvs_error_clear(err);
    return kvs_blob_rest_list(prefix_url, cfg, 0, fn, arg, err);
}
