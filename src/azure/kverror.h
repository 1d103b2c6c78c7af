/* Turning Key Vault and Entra ID failures into one clear line. */
#ifndef KVS_AZURE_KVERROR_H
#define KVS_AZURE_KVERROR_H

#include <stddef.h>

#include "kvseal/status.h"

/* {"error":{"code","message","innererror":{"code"}}}, sanitised ("" if absent). */
typedef struct kvs_kv_errbody {
    char code[64];
    char inner[64];
    char message[160];
} kvs_kv_errbody;

void kvs_kv_errbody_parse(const char *body, size_t len, kvs_kv_errbody *out);

/* What the failing request was about, for the message. */
typedef struct kvs_kv_errctx {
    const char *op;       /* "get key", "wrapkey", "unwrapkey", "sign" */
    const char *key_name;
    const char *version;  /* "" or NULL: the current version */
    const char *hostport;
    int managed_hsm;
    const char *client_request_id; /* may be NULL */
    const char *request_id;        /* x-ms-request-id, may be NULL */
} kvs_kv_errctx;

/* Map a non-2xx vault response to a status and a message: 401/403 ->
 * KVS_ERR_KEY_ACCESS (403 names the least-privilege role -- for "sign" the
 * Crypto User role, which the Service Encryption User role does not
 * replace -- the access-policy permissions or the firewall); 404, 400 and disabled keys -> KVS_ERR_KEY;
 * 408/429/5xx and anything else -> KVS_ERR_NETWORK. */
kvs_status kvs_kv_http_error(kvs_error *err, long status, const kvs_kv_errbody *b,
                             const kvs_kv_errctx *ctx);

/* Entra ID / managed identity error text: error_description (first line),
 * else error, else message; sanitised into out. */
void kvs_entra_error_text(const char *body, size_t len, char *out, size_t cap);

/* Copy untrusted text as one printable-ASCII line, cut to cap - 1 bytes
 * ("..." marks a cut). */
void kvs_text_sanitize(const char *in, char *out, size_t cap);

/* " [client-request-id X, x-ms-request-id Y]" or "" into out. */
void kvs_request_ids(const char *client_id, const char *service_id, char *out, size_t cap);

#endif
