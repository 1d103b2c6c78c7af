#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/secmem.h"
#include "keys/unlock.h"

/* Failures seen while trying recipients, joined into one line. */
typedef struct attempt_log {
    kvs_status first;
    int auth_failed;
    char text[KVS_ERROR_DETAIL_MAX];
    size_t used;
} attempt_log;

static void log_failure(attempt_log *log, kvs_status st, const char *what)
{
    if (log->first == KVS_OK) log->first = st;
    int n = snprintf(log->text + log->used, sizeof log->text - log->used, "%s%s",
                     log->used ? "; " : "", what);
    if (n > 0) log->used += (size_t)n < sizeof log->text - log->used ? (size_t)n
                                                                        : sizeof log->text - log->used - 1;
}

static kvs_status try_recipient(kvs_provider *p, const kvs_recipient *r, const kvs_header *h,
                                const uint8_t *bytes, size_t len, const uint8_t *tag,
                                kvs_file_keys *keys, uint8_t *dek, attempt_log *log)
{
    kvs_error e = {0};
    kvs_status st = kvs_provider_unwrap(p, r, dek, &e);
    if (st == KVS_ERR_AUTH) log->auth_failed = 1;
    if (st != KVS_OK) {
        log_failure(log, st, kvs_error_message(&e));
        return st;
    }
    st = kvs_derive_file_keys(dek, h->salt, keys);
    if (st == KVS_OK) st = kvs_header_tag_verify(keys, bytes, len, tag);
    if (st == KVS_ERR_AUTH) {
        log->auth_failed = 1;
        log_failure(log, st, "header authentication failed");
    } else if (st != KVS_OK) {
        log_failure(log, st, "key derivation failed");
    }
    return st;
}

kvs_status kvs_unlock_header(const kvs_header *h, const uint8_t *prefix_and_json, size_t len,
                             const uint8_t tag[KVS_TAG_LEN], kvs_provider *const *providers,
                             size_t n_providers, kvs_file_keys *keys, uint8_t *dek_out,
                             int *used, kvs_error *err)
{
    attempt_log log = {KVS_OK, 0, "", 0};
    uint8_t *dek = kvs_secure_alloc(KVS_DEK_LEN);
    if (!dek) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    *used = -1;
    for (size_t p = 0; p < n_providers && *used < 0; p++) {
        for (size_t i = 0; i < h->n_recipients && *used < 0; i++) {
            if (!kvs_provider_matches(providers[p], &h->recipients[i])) continue;
            if (try_recipient(providers[p], &h->recipients[i], h, prefix_and_json, len, tag,
                              keys, dek, &log) == KVS_OK)
                *used = (int)i;
        }
    }
    if (*used >= 0 && dek_out) memcpy(dek_out, dek, KVS_DEK_LEN);
    kvs_secure_free(dek, KVS_DEK_LEN);
    if (*used >= 0) return KVS_OK;
    OPENSSL_cleanse(keys, sizeof *keys);
    if (log.auth_failed) return kvs_fail(err, KVS_ERR_AUTH, "header authentication failed");
    if (log.first == KVS_OK)
        return kvs_fail(err, KVS_ERR_NO_RECIPIENT,
                        "no usable recipient: none of the given keys matches a recipient of this file");
    return kvs_fail(err, log.first == KVS_ERR_KEY ? KVS_ERR_NO_RECIPIENT : log.first,
                    "no usable recipient: %s", log.text);
}
