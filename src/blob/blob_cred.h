/* Which credential a blob store uses, and its secret held in secure memory:
 * an Entra ID source from src/azure's credential chain (tokens for the
 * storage scope), a SAS token (AZURE_STORAGE_SAS_TOKEN or cfg->sas_file) or
 * a Shared Key (AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, or
 * AZURE_STORAGE_CONNECTION_STRING). No secret ever reaches a message. */
#ifndef KVS_BLOB_CRED_H
#define KVS_BLOB_CRED_H

#include <stddef.h>
#include <stdint.h>

#include "azure/cred.h"
#include "blob/blob_url.h"
#include "core/secfile.h"
#include "kvseal/blob.h"

typedef enum kvs_blob_cred_kind {
    KVS_BLOB_CRED_NONE = 0,
    KVS_BLOB_CRED_ENTRA,
    KVS_BLOB_CRED_SAS,
    KVS_BLOB_CRED_SHARED_KEY
} kvs_blob_cred_kind;

typedef struct kvs_blob_cred {
    kvs_blob_cred_kind kind;
    kvs_cred *entra;            /* KVS_BLOB_CRED_ENTRA */
    kvs_secret_buf sas;         /* the token without a leading '?' */
    uint8_t *key;               /* decoded account key, kvs_secure_alloc'd */
    size_t key_len;
    size_t key_cap;
    char account[KVS_BLOB_ACCOUNT_MAX + 1];
} kvs_blob_cred;

/* Resolve cfg->credential for the blob at u. NULL or "auto": the first
 * configured of an Entra ID source (entra_name, KVSEAL_CREDENTIAL's choice
 * for the chain; only for https URLs: a bearer token never goes over plain
 * http), a SAS token, a Shared Key (BLOB.md's order). "entra" over http is
 * KVS_ERR_USAGE. A Shared Key must name u's account. */
kvs_status kvs_blob_cred_resolve(const kvs_blob_config *cfg, const kvs_blob_url *u,
                                 const char *entra_name, kvs_blob_cred *out, kvs_error *err);

/* Parse a connection string's AccountName and AccountKey (the other fields,
 * BlobEndpoint, DefaultEndpointsProtocol, EndpointSuffix, are checked for
 * syntax only: the URL names the endpoint). Test hook and resolver step. */
kvs_status kvs_blob_cred_from_connection_string(const char *cs, kvs_blob_cred *out,
                                                kvs_error *err);

/* Wipe and release. */
void kvs_blob_cred_free(kvs_blob_cred *c);

#endif
