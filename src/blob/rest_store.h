/* A kvs_blob_store that talks to Azure Blob Storage (or Azurite) over REST:
 * URL forms, host allow-list and plain-HTTP rules, credentials (Entra ID
 * bearer token with the storage scope, SAS, Shared Key), retries and pacing
 * through src/azure's HTTP client (BLOB.md). Internal. */
#ifndef KVS_BLOB_REST_STORE_H
#define KVS_BLOB_REST_STORE_H

#include "blob/store.h"
#include "kvseal/blob.h"

/* Open the blob named by url (which need not exist yet) with cfg (NULL: the
 * defaults). Fails with KVS_ERR_USAGE for a URL that is not a blob URL, or
 * names a host that is not allowed, or plain HTTP to a host that is not
 * loopback; KVS_ERR_CONFIG when no credential is configured. The caller
 * frees *out with out->ops->free. Nothing is sent before the first call. */
kvs_status kvs_blob_store_open(const char *url, const kvs_blob_config *cfg,
                               kvs_blob_store **out, kvs_error *err);

#define KVS_BLOB_LIST_MAX 10000000u      /* blobs under one prefix */
#define KVS_BLOB_LIST_EMPTY_PAGES_MAX 100u /* pages in a row without a blob */

/* kvs_blob_list with the page size asked of the service (maxresults, 1 to
 * 5000; 0: 5000): tests page with small pages. */
kvs_status kvs_blob_rest_list(const char *prefix_url, const kvs_blob_config *cfg,
                              unsigned page_size, kvs_blob_list_fn fn, void *arg,
                              kvs_error *err);

#endif
