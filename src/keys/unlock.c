/* Opening a header: try recipients, verify the header tag, and bound the
 * Key Vault work one file may cause (keys/unlock.h). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "azure/retry.h"
#include "core/error.h"
#include "core/secmem.h"
#include "keys/keyvault_file.h"
#include "keys/unlock.h"
#include "kvseal/keyvault.h"

/* Failures seen while trying recipients, joined into one line. */
#define KVS_LOG_MAX 8

typedef struct attempt_log {
    kvs_status first;
    int auth_failed;
    kvs_status transient;   /* first KVS_CAT_TRANSIENT failure, or KVS_OK */
    char transient_host[256]; /* the service that failed it */
    size_t n;          /* failures noted (the first KVS_LOG_MAX kept) */
    char entry[KVS_LOG_MAX][KVS_ERROR_DETAIL_MAX];
} attempt_log;

static void log_failure(attempt_log *log, kvs_status st, size_t idx, const char *what)
{
    if (log->first == KVS_OK) log->first = st;
    if (log->n < KVS_LOG_MAX)
        snprintf(log->entry[log->n], sizeof log->entry[0], "recipient %zu: %s", idx, what);
    log->n++;
}

/* Name the service of a transient failure: the host of a kid URL, else the
 * provider's identity (a third-party provider's key ids need not be URLs). */
static void log_transient(attempt_log *log, kvs_status st, const kvs_provider *p,
                          const kvs_recipient *r)
{
    if (log->transient != KVS_OK || kvs_status_category(st) != KVS_CAT_TRANSIENT) return;
    log->transient = st;
    const char *id = r->key_id;
    size_t n = strnlen(id, sizeof r->key_id);
    if (n > 8 && strncmp(id, "https://", 8) == 0) {
        size_t host = strcspn(id + 8, "/");
        snprintf(log->transient_host, sizeof log->transient_host, "%.*s", (int)host, id + 8);
    } else {
        snprintf(log->transient_host, sizeof log->transient_host, "%s",
                 kvs_provider_identify(p));
    }
}

static size_t log_kept(const attempt_log *log)
{
    return log->n < KVS_LOG_MAX ? log->n : KVS_LOG_MAX;
}

/* Every failure must stay visible on the one line (disaster recovery: which
 * vaults failed, and why): when they do not fit, request ids are cut first,
 * then each entry to a fair share of the room ("..." marks a cut). */
static void log_join(const attempt_log *log, char *out, size_t cap)
{
    char e[KVS_LOG_MAX][KVS_ERROR_DETAIL_MAX];
    size_t k = log_kept(log), len[KVS_LOG_MAX], total = 0;
    for (size_t i = 0; i < k; i++) {
        memcpy(e[i], log->entry[i], sizeof e[i]);
        total += strlen(e[i]) + 2;
    }
    for (size_t i = 0; i < k && total > cap; i++) {
        char *ids = strstr(e[i], " [client-request-id");
        if (!ids) ids = strstr(e[i], " [x-ms-request-id");
        if (ids) *ids = '\0';
    }
    size_t room = cap > 2 * k + 1 ? cap - 2 * k - 1 : 0, left = k, done[KVS_LOG_MAX] = {0};
    for (size_t i = 0; i < k; i++) len[i] = strlen(e[i]);
    for (size_t round = 0; round < k; round++) { /* shortest first: leftovers go on */
        size_t j = k;
        for (size_t i = 0; i < k; i++)
            if (!done[i] && (j == k || len[i] < len[j])) j = i;
        size_t share = room / left;
        if (len[j] > share && share >= 4) memcpy(e[j] + share - 3, "...", 4);
        else if (len[j] > share) e[j][share] = '\0';
        len[j] = strlen(e[j]);
        room -= len[j];
        left--;
        done[j] = 1;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < k && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? "; " : "", e[i]);
        if (n > 0) used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
}

/* Key Vault work one file may cause: a hostile file chooses its recipients
 * (keys/keyvault_file.h). The clock starts at the file's first remote try. */
typedef struct remote_budget {
    int started;
    kvs_kv_file_limits lim;
    int64_t deadline_ms;
    unsigned tried;
} remote_budget;

static kvs_status unwrap_bounded(kvs_provider *p, const kvs_recipient *r, uint8_t *dek,
                                 remote_budget *rb, kvs_unlock_when when, kvs_error *e)
{
    if (!kvs_keyvault_is_provider(p)) return kvs_provider_unwrap(p, r, dek, e);
    if (!rb->started) {
        kvs_status st = kvs_kv_file_limits_get(&rb->lim, e);
        if (st != KVS_OK) return st;
        rb->started = 1;
        rb->deadline_ms = kvs_mono_ms() + rb->lim.budget_ms;
    }
    if (rb->tried >= rb->lim.max_remote)
        return kvs_fail(e, KVS_ERR_NO_RECIPIENT,
                        "not tried: at most %u Key Vault recipients are tried per file "
                        "(KVSEAL_MAX_REMOTE_RECIPIENTS)", rb->lim.max_remote);
    rb->tried++;
    return kvs_keyvault_unwrap_until(p, r, dek, rb->deadline_ms, when == KVS_UNLOCK_AHEAD, e);
}

static kvs_status try_recipient(kvs_provider *p, const kvs_recipient *r, size_t idx,
                                const kvs_header *h,
                                const uint8_t *bytes, size_t len, const uint8_t *tag,
                                kvs_file_keys *keys, uint8_t *dek, attempt_log *log,
                                remote_budget *rb, kvs_unlock_when when)
{
    kvs_error e = {0};
    kvs_status st = unwrap_bounded(p, r, dek, rb, when, &e);
    if (st == KVS_ERR_AUTH) log->auth_failed = 1;
    if (st != KVS_OK) {
        log_transient(log, st, p, r);
        log_failure(log, st, idx, kvs_error_message(&e));
        return st;
    }
    st = kvs_derive_file_keys(dek, h->salt, keys);
    if (st == KVS_OK) st = kvs_header_tag_verify(keys, bytes, len, tag);
    if (st == KVS_ERR_AUTH) {
        log->auth_failed = 1;
        log_failure(log, st, idx, "header authentication failed");
    } else if (st != KVS_OK) {
        log_failure(log, st, idx, "key derivation failed");
    }
    return st;
}

kvs_status kvs_unlock_header(const kvs_header *h, const uint8_t *prefix_and_json, size_t len,
                             const uint8_t tag[KVS_TAG_LEN], kvs_provider *const *providers,
                             size_t n_providers, kvs_file_keys *keys, uint8_t *dek_out,
                             int *used, kvs_error *err)
{
    return kvs_unlock_header_ex(h, prefix_and_json, len, tag, providers, n_providers, keys,
                                dek_out, used, KVS_UNLOCK_NOW, err, NULL);
}

kvs_status kvs_unlock_header_ex(const kvs_header *h, const uint8_t *prefix_and_json, size_t len,
                                const uint8_t tag[KVS_TAG_LEN], kvs_provider *const *providers,
                                size_t n_providers, kvs_file_keys *keys, uint8_t *dek_out,
                                int *used, kvs_unlock_when when, kvs_error *err,
                                kvs_error *notes)
{
    attempt_log log;
    remote_budget rb;
    memset(&log, 0, sizeof log);
    memset(&rb, 0, sizeof rb);
    uint8_t *dek = kvs_secure_alloc(KVS_DEK_LEN);
    if (!dek) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    *used = -1;
    for (size_t p = 0; p < n_providers && *used < 0; p++) {
        for (size_t i = 0; i < h->n_recipients && *used < 0; i++) {
            if (!kvs_provider_matches(providers[p], &h->recipients[i])) continue;
            if (try_recipient(providers[p], &h->recipients[i], i, h, prefix_and_json, len, tag,
                              keys, dek, &log, &rb, when) == KVS_OK)
                *used = (int)i;
        }
    }
    if (*used >= 0 && dek_out) memcpy(dek_out, dek, KVS_DEK_LEN);
    kvs_secure_free(dek, KVS_DEK_LEN);
    if (*used >= 0 && notes) { /* what failed before the recipient that worked */
        notes->status = KVS_OK;
        log_join(&log, notes->detail, sizeof notes->detail);
    }
    if (*used >= 0) return KVS_OK;
    OPENSSL_cleanse(keys, sizeof *keys);
    if (log.auth_failed) return kvs_fail(err, KVS_ERR_AUTH, "header authentication failed");
    if (log.first == KVS_OK)
        return kvs_fail(err, KVS_ERR_NO_RECIPIENT,
                        "no usable recipient: none of the given keys matches a recipient of this file");
    /* Any transient failure makes the whole unlock transient: the key that
     * would open the file may sit behind the service that did not answer. */
    char prefix[KVS_ERROR_DETAIL_MAX / 2];
    if (log.transient != KVS_OK)
        snprintf(prefix, sizeof prefix,
                 "no usable recipient; %.160s could not be reached (retrying later may succeed): ",
                 log.transient_host);
    else
        snprintf(prefix, sizeof prefix, "no usable recipient: ");
    char text[KVS_ERROR_DETAIL_MAX];
    log_join(&log, text, sizeof text - strlen(prefix));
    kvs_status st = log.transient != KVS_OK      ? log.transient
                    : log.first == KVS_ERR_KEY ? KVS_ERR_NO_RECIPIENT
                                               : log.first;
    return kvs_fail(err, st, "%s%s", prefix, text);
}
