/* Turning Key Vault and Entra ID failures into one clear line. */
#include "azure/kverror.h"

#include <stdio.h>
#include <string.h>

#include "azure/kvjson.h"
#include "core/error.h"

#define KVS_ROLE_VAULT "Key Vault Crypto Service Encryption User"
#define KVS_ROLE_MHSM "Managed HSM Crypto Service Encryption User"
/* sign is not in the Service Encryption User roles (wrap/unwrap only). */
#define KVS_ROLE_SIGN_VAULT "Key Vault Crypto User"
#define KVS_ROLE_SIGN_MHSM "Managed HSM Crypto User"

void kvs_text_sanitize(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) return;
    out[0] = '\0';
    if (in == NULL) return;
    for (; in[0] != '\0' && in[0] != '\r' && in[0] != '\n'; in++) {
        if (n + 1 >= cap) {
            if (cap > 4) memcpy(out + cap - 4, "...", 3);
            n = cap - 1;
            break;
        }
        unsigned char c = (unsigned char)in[0];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
}

void kvs_kv_errbody_parse(const char *body, size_t len, kvs_kv_errbody *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *j = kvs_json_parse(body, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(e)) {
        kvs_text_sanitize(kvs_json_str(e, "code"), out->code, sizeof(out->code));
        kvs_text_sanitize(kvs_json_str(e, "message"), out->message, sizeof(out->message));
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "innererror");
        if (cJSON_IsObject(in))
            kvs_text_sanitize(kvs_json_str(in, "code"), out->inner, sizeof(out->inner));
    }
    kvs_json_free_wiped(j);
}

void kvs_request_ids(const char *client_id, const char *service_id, char *out, size_t cap)
{
    char c[64], s[96];
    kvs_text_sanitize(client_id, c, sizeof(c));
    kvs_text_sanitize(service_id, s, sizeof(s));
    if (c[0] && s[0])
        snprintf(out, cap, " [client-request-id %s, x-ms-request-id %s]", c, s);
    else if (c[0] || s[0])
        snprintf(out, cap, " [%s %s]", c[0] ? "client-request-id" : "x-ms-request-id",
                 c[0] ? c : s);
    else if (cap)
        out[0] = '\0';
}

/* "key 'name' version 'v'" or "key 'name' (current version)". */
static void kvs_key_desc(const kvs_kv_errctx *x, char *out, size_t cap)
{
    if (x->version && x->version[0])
        snprintf(out, cap, "key '%s' version '%s' in %s", x->key_name, x->version, x->hostport);
    else
        snprintf(out, cap, "key '%s' in %s", x->key_name, x->hostport);
}

/* "403 Forbidden/ForbiddenByRbac: \"message\"" */
static void kvs_service_says(long status, const kvs_kv_errbody *b, char *out, size_t cap)
{
    int n = snprintf(out, cap, "HTTP %ld", status);
    if (n < 0 || (size_t)n >= cap) return;
    if (b->code[0])
        n += snprintf(out + n, cap - (size_t)n, " %s%s%s", b->code, b->inner[0] ? "/" : "",
                      b->inner);
    if (n >= 0 && (size_t)n < cap && b->message[0])
        snprintf(out + n, cap - (size_t)n, ": \"%s\"", b->message);
}

static int kvs_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20)) i++;
        if (i == n) return 1;
    }
    return 0;
}

static kvs_status kvs_kv_403(kvs_error *err, const kvs_kv_errbody *b, const kvs_kv_errctx *x,
                             const char *key, const char *says, const char *ids)
{
    if (kvs_contains_ci(b->message, "disabled") || strcmp(b->inner, "KeyDisabled") == 0)
        return kvs_fail(err, KVS_ERR_KEY, "%s is disabled (%s)%s", key, says, ids);
    if (strcmp(b->inner, "ForbiddenByFirewall") == 0)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "%s refused: the vault's firewall (network rules) rejects this "
                        "client's address (%s)%s", x->op, says, ids);
    int sign = strcmp(x->op, "sign") == 0;
    if (strcmp(b->inner, "AccessDenied") == 0)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "%s on %s denied: the vault's access policy must grant this identity "
                        "the key permissions %s (%s)%s",
                        x->op, key, sign ? "get and sign" : "get, wrapKey and unwrapKey", says,
                        ids);
    if (sign)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "sign on %s denied: signing needs the role \"%s\" on the signing key "
                        "(\"%s\" allows only get, wrapKey and unwrapKey) (%s)%s",
                        key, x->managed_hsm ? KVS_ROLE_SIGN_MHSM : KVS_ROLE_SIGN_VAULT,
                        x->managed_hsm ? KVS_ROLE_MHSM : KVS_ROLE_VAULT, says, ids);
    return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                    "%s on %s denied: assign this identity the role \"%s\" on the key "
                    "(least privilege) (%s)%s",
                    x->op, key, x->managed_hsm ? KVS_ROLE_MHSM : KVS_ROLE_VAULT, says, ids);
}

kvs_status kvs_kv_http_error(kvs_error *err, long status, const kvs_kv_errbody *b,
                             const kvs_kv_errctx *x)
{
    char key[512], says[300], ids[200];
    kvs_key_desc(x, key, sizeof(key));
    kvs_service_says(status, b, says, sizeof(says));
    kvs_request_ids(x->client_request_id, x->request_id, ids, sizeof(ids));

    switch (status) {
    case 401:
        return kvs_fail(err, KVS_ERR_KEY_ACCESS, "%s on %s: not authenticated (%s)%s", x->op,
                        key, says, ids);
    case 403:
        return kvs_kv_403(err, b, x, key, says, ids);
    case 404:
        return kvs_fail(err, KVS_ERR_KEY, "%s not found (%s)%s", key, says, ids);
    case 400:
    case 409:
        return kvs_fail(err, KVS_ERR_KEY, "%s on %s refused by the service (%s)%s", x->op, key,
                        says, ids);
    case 429:
        return kvs_fail(err, KVS_ERR_NETWORK,
                        "%s on %s: still throttled (%s) when the retry budget ran out%s", x->op,
                        key, says, ids);
    default:
        break;
    }
    if (status == 408 || status >= 500)
        return kvs_fail(err, KVS_ERR_NETWORK, "%s on %s failed after retries (%s)%s", x->op,
                        key, says, ids);
    return kvs_fail(err, KVS_ERR_NETWORK, "%s on %s: unexpected answer (%s)%s", x->op, key,
                    says, ids);
}

void kvs_entra_error_text(const char *body, size_t len, char *out, size_t cap)
{
    cJSON *j = kvs_json_parse(body, len);
    const char *t = kvs_json_str(j, "error_description");
    if (t == NULL) t = kvs_json_str(j, "message");
    if (t == NULL) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        t = cJSON_IsString(e) ? e->valuestring : kvs_json_str(e, "message");
    }
    kvs_text_sanitize(t ? t : "(no error description)", out, cap);
    kvs_json_free_wiped(j);
}
