/* Shared Key authorization for Blob Storage: the string to sign (x-ms-version
 * 2015-02-21 and later rules) and its HMAC-SHA256 signature. */
#ifndef KVS_BLOB_SHARED_KEY_H
#define KVS_BLOB_SHARED_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "azure/sbuf.h"
#include "kvseal/status.h"

/* The string to sign for a request: method, the header lines exactly as sent
 * ("Name: value", NULL-terminated; standard headers picked by name, x-ms-*
 * canonicalized and sorted the service's way), and the canonicalized
 * resource "/account" + wire_path (still percent-encoded, as in the URL)
 * plus the query's parameters sorted, lowercased and decoded. query is the
 * URL's query without '?' (NULL or "": none). Returns 0, or -1 when out of
 * memory or on a malformed query or header. */
int kvs_blob_sk_string_to_sign(const char *account, const char *method,
                               const char *const *headers, const char *wire_path,
                               const char *query, kvs_sbuf *out);

/* "Authorization: SharedKey account:signature" into line (cap >= 128). */
kvs_status kvs_blob_sk_header(const uint8_t *key, size_t key_len, const char *account,
                              const kvs_sbuf *string_to_sign, char *line, size_t cap,
                              kvs_error *err);

#endif
