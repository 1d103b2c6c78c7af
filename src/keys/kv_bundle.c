/* Reading Key Vault key bundles: kid, attributes, key_ops, JWK public keys
 * (keys/kv_bundle.h). */
#define _POSIX_C_SOURCE 200809L
#include "keys/kv_bundle.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/b64url.h"
#include "core/error.h"
#include "crypto/sign.h"
#include "kvseal/keys.h"

/* EC coordinates up to P-384 (48 bytes); room for a leading zero byte. */
#define KVS_EC_COORD_MAX 49

static void kvs_fmt_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "%lld", (long long)t);
}

int kvs_kvb_ops_has(const cJSON *ops, const char *op)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, ops) {
        if (cJSON_IsString(it) && strcasecmp(it->valuestring, op) == 0) return 1;
    }
    return 0;
}

kvs_status kvs_kvb_check_attributes(const cJSON *bundle, const char *what, kvs_error *err)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(bundle, "attributes");
    int enabled = 1;
    int64_t nbf, exp, now = kvs_wall_s();
    char when[32];
    if (!cJSON_IsObject(attrs)) return KVS_OK;
    if (kvs_json_bool(attrs, "enabled", &enabled) == 0 && !enabled)
        return kvs_fail(err, KVS_ERR_KEY, "%s is disabled", what);
    if (kvs_json_i64(attrs, "nbf", &nbf) == 0 && nbf > now) {
        kvs_fmt_time(nbf, when, sizeof(when));
        return kvs_fail(err, KVS_ERR_KEY, "%s is not valid before %s (nbf)", what, when);
    }
    if (kvs_json_i64(attrs, "exp", &exp) == 0 && exp <= now) {
        kvs_fmt_time(exp, when, sizeof(when));
        return kvs_fail(err, KVS_ERR_KEY, "%s expired at %s (exp)", what, when);
    }
    return KVS_OK;
}

kvs_status kvs_kvb_check_kid(const char *kid, const kvs_kv_keyref *asked, const char *what,
                             kvs_kv_keyref *out, kvs_error *err)
{
    if (kid == NULL || strlen(kid) > KVS_MAX_KEY_ID_LEN || kvs_kv_parse_kid(kid, out) != 0)
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service returned no versioned kid", what);
    if (strcmp(out->host, asked->host) != 0 || out->port != asked->port ||
        strcasecmp(out->name, asked->name) != 0 ||
        (asked->version[0] && strcasecmp(out->version, asked->version) != 0))
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service answered for another key (%.200s)",
                        what, kid);
    return KVS_OK;
}

int kvs_kvb_is_ec(const char *kty)
{
    return kty != NULL && (strcmp(kty, "EC") == 0 || strcmp(kty, "EC-HSM") == 0);
}

kvs_status kvs_kvb_parse_user_url(const char *url, kvs_kv_keyref *key, kvs_error *err)
{
    if (url == NULL || kvs_kv_parse_key_url(url, key) != 0)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "'%.200s' is not a Key Vault key URL "
                        "(https://{vault}.vault.azure.net/keys/{name}[/{version}])",
                        url ? url : "");
    return KVS_OK;
}

kvs_status kvs_kvb_rsa_public(const cJSON *key, const char *what, EVP_PKEY **out,
                              kvs_error *err)
{
    uint8_t n[KVS_MAX_WRAPPED_LEN + 1], e[16];
    size_t nlen = 0, elen = 0;
    const char *ns = kvs_json_str(key, "n"), *es = kvs_json_str(key, "e");
    if (ns == NULL || es == NULL ||
        kvs_b64_decode_lenient(ns, strlen(ns), n, sizeof(n), &nlen) != 0 ||
        kvs_b64_decode_lenient(es, strlen(es), e, sizeof(e), &elen) != 0 || nlen == 0 ||
        elen == 0)
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service sent no usable n and e", what);
    *out = kvs_rsa_public_from_ne(n, nlen, e, elen, err);
    return *out != NULL ? KVS_OK : KVS_ERR_KEY;
}

kvs_status kvs_kvb_ec_public(const cJSON *key, const char *what, EVP_PKEY **out,
                             kvs_error *err)
{
    uint8_t x[KVS_EC_COORD_MAX], y[KVS_EC_COORD_MAX];
    size_t xlen = 0, ylen = 0;
    const char *crv = kvs_json_str(key, "crv");
    const char *xs = kvs_json_str(key, "x"), *ys = kvs_json_str(key, "y");
    *out = NULL;
    if (crv == NULL || (strcmp(crv, "P-256") != 0 && strcmp(crv, "P-384") != 0))
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s is on curve '%.16s': kvseal signs with P-256 or P-384 keys", what,
                        crv ? crv : "(none)");
    if (xs == NULL || ys == NULL ||
        kvs_b64_decode_lenient(xs, strlen(xs), x, sizeof(x), &xlen) != 0 ||
        kvs_b64_decode_lenient(ys, strlen(ys), y, sizeof(y), &ylen) != 0 || xlen == 0 ||
        ylen == 0)
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service sent no usable x and y", what);
    kvs_error e;
    kvs_error_clear(&e);
    *out = kvs_ec_public_from_xy(crv, x, xlen, y, ylen, &e);
    if (*out == NULL)
        return kvs_fail(err, KVS_ERR_KEY, "%s: its EC public key (%s) is unusable: %s", what, crv,
                        kvs_error_message(&e));
    return KVS_OK;
}
