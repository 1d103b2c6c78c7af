/* Fuzz target: Key Vault and Entra ID responses (src/azure/kvjson.h,
 * kverror.h, cred.h, retry.h): token responses, error bodies, the fields of
 * key bundles and wrap/unwrap results, and Retry-After values.
 *
 * Input: a response body (also used as a header value where that applies).
 * Properties: no crash or leak; error text is one printable line within its
 * buffer; a token is accepted only as a non-empty string without spaces,
 * quotes or line breaks; lenient base64 of n/e/value stays in bounds. */
#include <stdlib.h>
#include <string.h>

#include "azure/cred.h"
#include "azure/kverror.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/b64url.h"
#include "fuzz.h"

static void check_line(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    FUZZ_CHECK(end != NULL);
    for (; s < end; s++) FUZZ_CHECK(*s >= 0x20 && *s < 0x7f);
}

static void check_token(const char *body, size_t len, const char *field)
{
    kvs_token tok;
    kvs_token_init(&tok);
    if (kvs_token_from_json(body, len, field, &tok) == 0) {
        FUZZ_CHECK(tok.text.p != NULL && tok.text.len > 0);
        FUZZ_CHECK(strlen(tok.text.p) == tok.text.len);
        FUZZ_CHECK(strpbrk(tok.text.p, " \r\n\t\"") == NULL);
        FUZZ_CHECK(tok.expires_on > 0);
    }
    kvs_token_free(&tok);
}

/* What keyvault.c reads from a key bundle and a wrap/unwrap result. */
static void check_bundle(const cJSON *j)
{
    uint8_t n[KVS_MAX_WRAPPED_LEN + 1], e[16], v[KVS_MAX_WRAPPED_LEN];
    size_t nlen = 0, elen = 0, vlen = 0;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
    const char *ns = kvs_json_str(key, "n"), *es = kvs_json_str(key, "e");
    if (ns && kvs_b64_decode_lenient(ns, strlen(ns), n, sizeof n, &nlen) == 0)
        FUZZ_CHECK(nlen <= sizeof n);
    if (es && kvs_b64_decode_lenient(es, strlen(es), e, sizeof e, &elen) == 0)
        FUZZ_CHECK(elen <= sizeof e);
    (void)kvs_json_str(key, "kid");
    (void)kvs_json_str(key, "kty");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "attributes");
    int64_t t = 0;
    int b = 0;
    if (kvs_json_i64(attrs, "exp", &t) == 0) FUZZ_CHECK(t >= 0);
    if (kvs_json_i64(attrs, "nbf", &t) == 0) FUZZ_CHECK(t >= 0);
    if (kvs_json_bool(attrs, "enabled", &b) == 0) FUZZ_CHECK(b == 0 || b == 1);
    const char *vs = kvs_json_str(j, "value");
    if (vs && kvs_b64_decode_lenient(vs, strlen(vs), v, sizeof v, &vlen) == 0)
        FUZZ_CHECK(vlen <= sizeof v);
}

static void check_errors(const char *body, size_t len)
{
    kvs_kv_errbody eb;
    kvs_kv_errbody_parse(body, len, &eb);
    check_line(eb.code, sizeof eb.code);
    check_line(eb.inner, sizeof eb.inner);
    check_line(eb.message, sizeof eb.message);

    static const long statuses[] = {400, 401, 403, 404, 408, 409, 429, 500, 503, 302, 0};
    kvs_kv_errctx x = {"unwrapkey", "key-name", "0123abcd", "myvault.vault.azure.net", 0,
                       "11111111-2222-3333-4444-555555555555", eb.code};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        kvs_error err;
        kvs_error_clear(&err);
        x.managed_hsm = (int)(i & 1);
        kvs_status st = kvs_kv_http_error(&err, statuses[i], &eb, &x);
        FUZZ_CHECK(st != KVS_OK && err.status == st);
        check_line(err.detail, sizeof err.detail);
    }

    char text[256], tiny[5];
    kvs_entra_error_text(body, len, text, sizeof text);
    check_line(text, sizeof text);
    kvs_entra_error_text(body, len, tiny, sizeof tiny);
    check_line(tiny, sizeof tiny);
}

static void check_headers(const char *s)
{
    int64_t ms = -1, epoch = 0, secs = 0;
    if (kvs_retry_after_parse(s, 1700000000, &ms) == 0)
        FUZZ_CHECK(ms >= 0 && ms <= 86400000);
    (void)kvs_retry_after_ms_parse(s, &ms);
    (void)kvs_http_date_parse(s, &epoch);
    if (kvs_parse_seconds(s, &secs) == 0) FUZZ_CHECK(secs >= 0);
    char ids[200], small[8];
    kvs_request_ids(s, s, ids, sizeof ids);
    check_line(ids, sizeof ids);
    kvs_text_sanitize(s, small, sizeof small);
    check_line(small, sizeof small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0; /* KVS_HTTP_MAX_RESPONSE */
    /* Bodies arrive in kvs_sbuf, always NUL-terminated; keep a NUL after
     * the copy (ASan still catches reads past len + 1). */
    char *body = malloc(size + 1);
    FUZZ_CHECK(body != NULL);
    memcpy(body, data, size);
    body[size] = '\0';

    cJSON *j = kvs_json_parse(body, size);
    if (j) {
        check_bundle(j);
        int64_t v = 0;
        if (kvs_json_i64(j, "expires_in", &v) == 0) FUZZ_CHECK(v >= 0);
        (void)kvs_json_i64(j, "expires_on", &v);
    }
    kvs_json_free_wiped(j);

    check_token(body, size, "access_token");
    check_token(body, size, "accessToken");
    check_errors(body, size);
    if (memchr(body, '\0', size) == NULL && size < 4096) check_headers(body);
    free(body);
    return 0;
}
