/* Placeholder for the REST store's constructor until blob/rest_store.c is
 * merged (the integrator deletes this file then). */
#include "blob/rest_store.h"
#include "core/error.h"

kvs_status kvs_blob_store_open(const char *url, const kvs_blob_config *cfg,
                               kvs_blob_store **out, kvs_error *err)
{
    (void)url;
    (void)cfg;
    *out = NULL;
    return kvs_fail(err, KVS_ERR_CONFIG, "Blob Storage client not built");
}
