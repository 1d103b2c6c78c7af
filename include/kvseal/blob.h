/* Azure block blobs as input and output (docs/BLOB.md): a blob holds exactly
 * the bytes of a kvseal file. */
#ifndef KVSEAL_BLOB_H
#define KVSEAL_BLOB_H

#include <stddef.h>

#include "kvseal/envelope.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to reach Blob Storage. Zero-initialise, then set what differs from the
 * defaults. Strings are borrowed for the call they are passed to. */
typedef struct kvs_blob_config {
    /* NULL or "auto": the first that is configured of an Entra ID bearer
     * token, a SAS token, Shared Key (BLOB.md's order); or exactly one of
     * "entra", "sas", "shared-key". */
    const char *credential;
    /* A file holding the SAS token (owner-only mode), or NULL: the
     * environment's AZURE_STORAGE_SAS_TOKEN. Never the token itself. */
    const char *sas_file;
    /* Requests in flight at once for one blob (staged blocks or ranged
     * reads); 0: the default, 4. */
    unsigned parallel;
} kvs_blob_config;

/* Whether text names a blob (an http:// or https:// URL) rather than a local
 * path. Syntax only: whether the URL is acceptable (host, scheme,
 * credentials) is decided when it is used. */
KVS_API KVS_NONNULL(1) int kvs_is_blob_url(const char *text);

#ifdef __cplusplus
}
#endif

#endif
