/* Azure Key Vault / Managed HSM key providers (include/kvseal/keyvault.h).
 *
 * Encrypt: GET the key once per version, check it, wrap locally with
 * RSA-OAEP-256 (or remote wrapkey). Decrypt: unwrapkey with the recipient's
 * versioned kid and alg, answered from the DEK cache when possible. */
#define _POSIX_C_SOURCE 200809L
#include "kvseal/keyvault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "azure/client.h"
#include "azure/kvjson.h"
#include "azure/kvurl.h"
#include "azure/retry.h"
#include "azure/sbuf.h"
#include "azure/stats.h"
#include "core/b64url.h"
#include "core/error.h"
#include "core/secmem.h"
#include "crypto/crypto.h"
#include "crypto/sign.h"
#include "keys/dek_cache.h"
#include "keys/keyvault_file.h"
#include "keys/kv_bundle.h"
#include "keys/provider.h"

typedef struct kvs_kv_prov {
    kvs_kv_client *client;
    int any;           /* decrypt-only provider for any allowed vault */
    int restricted;    /* any, limited to key (and version if given) */
    kvs_kv_keyref key; /* -r / -k key as the user gave it */
    int remote_wrap;
    EVP_PKEY *pub;     /* -r: public key of the resolved version */
    unsigned bits;
    char kid[KVS_MAX_KEY_ID_LEN + 1]; /* -r: versioned kid from the service */
    char ident[KVS_MAX_KEY_ID_LEN + 64];
} kvs_kv_prov;

static const kvs_provider_ops kvs_kv_ops;

/* ---- the key bundle ------------------------------------------------------ */

/* A wrapping recipient: an RSA key that may wrap and unwrap and may not
 * sign (key separation: a key whose users may unwrap data keys must not
 * also be able to sign files as their writer, and a signing key is never
 * a wrapping key). */
static kvs_status kvs_check_kty_ops(const cJSON *key, const char *what, kvs_error *err)
{
    const char *kty = kvs_json_str(key, "kty");
    if (kvs_kvb_is_ec(kty))
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s is an EC key (kty '%s'), a signing key: a wrapping recipient must "
                        "be an RSA key with wrapKey and unwrapKey (key separation)",
                        what, kty);
    if (kty == NULL || (strcmp(kty, "RSA") != 0 && strcmp(kty, "RSA-HSM") != 0))
        return kvs_fail(err, KVS_ERR_KEY, "%s has kty '%.16s': kvseal needs an RSA or RSA-HSM key",
                        what, kty ? kty : "(none)");
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(key, "key_ops");
    if (kvs_kvb_ops_has(ops, "sign"))
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s also allows sign (its key_ops): a wrapping key must not be a "
                        "signing key (key separation: whoever may unwrap with it could sign "
                        "files as their writer); create wrapping keys with --ops wrapKey "
                        "unwrapKey", what);
    if (!cJSON_IsArray(ops) || !kvs_kvb_ops_has(ops, "wrapKey"))
        return kvs_fail(err, KVS_ERR_KEY, "%s does not allow wrapKey (its key_ops)", what);
    if (!kvs_kvb_ops_has(ops, "unwrapKey"))
        return kvs_fail(err, KVS_ERR_KEY, "%s does not allow unwrapKey (its key_ops): files "
                        "wrapped with it could not be decrypted", what);
    return KVS_OK;
}

static kvs_status kvs_public_key(const cJSON *key, const char *what, EVP_PKEY **out,
                                 unsigned *bits, kvs_error *err)
{
    kvs_status st = kvs_kvb_rsa_public(key, what, out, err);
    if (st != KVS_OK) return st;
    int b = EVP_PKEY_get_bits(*out);
    if (b != 2048 && b != 3072 && b != 4096) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return kvs_fail(err, KVS_ERR_KEY, "%s is RSA-%d: kvseal needs 2048, 3072 or 4096 bits",
                        what, b);
    }
    *bits = (unsigned)b;
    return KVS_OK;
}

/* Fill p->kid, p->pub and p->bits from a GET key response. */
static kvs_status kvs_prov_take_bundle(kvs_kv_prov *p, const cJSON *bundle, const char *what,
                                       kvs_error *err)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(bundle, "key");
    kvs_kv_keyref got;
    if (!cJSON_IsObject(key))
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service sent no key", what);
    kvs_status st = kvs_kvb_check_kid(kvs_json_str(key, "kid"), &p->key, what, &got, err);
    if (st == KVS_OK) st = kvs_check_kty_ops(key, what, err);
    if (st == KVS_OK) st = kvs_kvb_check_attributes(bundle, what, err);
    if (st == KVS_OK) st = kvs_public_key(key, what, &p->pub, &p->bits, err);
    if (st == KVS_OK && kvs_kv_format_key_url(&got, p->kid, sizeof(p->kid)) != 0)
        st = kvs_fail(err, KVS_ERR_KEY, "%s: kid too long", what);
    return st;
}

static kvs_status kvs_prov_fetch(kvs_kv_prov *p, const char *what, kvs_error *err)
{
    cJSON *bundle = NULL;
    kvs_status st = kvs_kv_client_call(p->client, KVS_KV_OP_GET, &p->key, NULL, 0, &bundle, err);
    if (st == KVS_OK) st = kvs_prov_take_bundle(p, bundle, what, err);
    kvs_json_free_wiped(bundle);
    if (st == KVS_OK) kvs_kv_client_key_put(p->client, p->kid, p->pub);
    return st;
}

/* ---- wrap ---------------------------------------------------------------- */

static void kvs_fill_recipient(kvs_recipient *out, const char *kid)
{
    memset(out->type, 0, sizeof(out->type));
    memset(out->alg, 0, sizeof(out->alg));
    memcpy(out->type, KVS_RECIPIENT_AZURE, sizeof(KVS_RECIPIENT_AZURE));
    memcpy(out->alg, KVS_ALG_OAEP_256, sizeof(KVS_ALG_OAEP_256));
    snprintf(out->key_id, sizeof(out->key_id), "%s", kid);
}

/* {"alg":"<alg>","value":"<b64url>"} in secure memory. */
static int kvs_op_body(kvs_sbuf *b, const char *alg, const uint8_t *v, size_t n)
{
    return kvs_sbuf_puts(b, "{\"alg\":\"") || kvs_sbuf_puts(b, alg) ||
           kvs_sbuf_puts(b, "\",\"value\":\"") || kvs_sbuf_put_b64url(b, v, n) ||
           kvs_sbuf_puts(b, "\"}");
}

static kvs_status kvs_remote_wrap(kvs_kv_prov *p, const uint8_t dek[KVS_DEK_LEN],
                                  kvs_recipient *out, kvs_error *err)
{
    kvs_kv_keyref ver, got;
    kvs_sbuf body;
    cJSON *res = NULL;
    if (kvs_kv_parse_key_url(p->kid, &ver) != 0)
        return kvs_fail(err, KVS_ERR_INTERNAL, "bad stored kid");
    kvs_sbuf_init(&body, 4096);
    kvs_status st = kvs_op_body(&body, KVS_ALG_OAEP_256, dek, KVS_DEK_LEN) != 0
                        ? kvs_fail(err, KVS_ERR_NOMEM, "out of memory")
                        : kvs_kv_client_call(p->client, KVS_KV_OP_WRAP, &ver, body.p, body.len,
                                             &res, err);
    kvs_sbuf_free(&body);
    const char *v = res ? kvs_json_str(res, "value") : NULL;
    if (st == KVS_OK) st = kvs_kvb_check_kid(kvs_json_str(res, "kid"), &ver, p->kid, &got, err);
    if (st == KVS_OK &&
        (v == NULL ||
         kvs_b64_decode_lenient(v, strlen(v), out->wrapped, sizeof(out->wrapped),
                                &out->wrapped_len) != 0 ||
         out->wrapped_len != p->bits / 8))
        st = kvs_fail(err, KVS_ERR_KEY, "wrapkey on %s returned no %u-byte value", p->kid,
                      p->bits / 8);
    kvs_json_free_wiped(res);
    if (st == KVS_OK) kvs_fill_recipient(out, p->kid);
    return st;
}

static kvs_status kvs_kv_wrap(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                              kvs_error *err)
{
    kvs_kv_prov *p = impl;
    if (p->any)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "this Key Vault provider only decrypts: name a key URL to encrypt");
    if (p->remote_wrap) return kvs_remote_wrap(p, dek, out, err);
    kvs_status st = kvs_rsa_oaep_encrypt(p->pub, KVS_OAEP_SHA256, dek, KVS_DEK_LEN, out->wrapped,
                                         sizeof(out->wrapped), &out->wrapped_len);
    if (st != KVS_OK) return kvs_fail(err, st, "RSA-OAEP-256 wrap with %s failed", p->kid);
    kvs_fill_recipient(out, p->kid);
    return KVS_OK;
}

/* ---- match and unwrap ------------------------------------------------------ */

/* The recipient's kid, if it is an azure-keyvault recipient this provider
 * may unwrap (the host policy is applied by unwrap, with a clear error). */
static int kvs_kv_recipient_key(const kvs_kv_prov *p, const kvs_recipient *r,
                                kvs_kv_keyref *kid)
{
    kvs_oaep_hash h;
    if (strncmp(r->type, KVS_RECIPIENT_AZURE, sizeof(r->type)) != 0) return 0;
    if (memchr(r->alg, '\0', sizeof(r->alg)) == NULL || kvs_oaep_hash_from_alg(r->alg, &h) != 0)
        return 0;
    if (memchr(r->key_id, '\0', sizeof(r->key_id)) == NULL ||
        kvs_kv_parse_kid(r->key_id, kid) != 0)
        return 0;
    if (p->any && !p->restricted) return 1;
    return strcmp(kid->host, p->key.host) == 0 && kid->port == p->key.port &&
           strcasecmp(kid->name, p->key.name) == 0 &&
           (p->key.version[0] == '\0' || strcasecmp(kid->version, p->key.version) == 0);
}

static int kvs_kv_matches(const void *impl, const kvs_recipient *r)
{
    kvs_kv_keyref kid;
    return kvs_kv_recipient_key(impl, r, &kid);
}

/* POST unwrapkey; the result into buf, its length (checked against 32 by
 * kvs_provider_unwrap, for every provider) into *n. */
static kvs_status kvs_remote_unwrap(kvs_kv_prov *p, const kvs_recipient *r,
                                    const kvs_kv_keyref *kid, int64_t hard_deadline_ms,
                                    uint8_t *buf, size_t cap, size_t *n, kvs_error *err)
{
    kvs_sbuf body;
    cJSON *res = NULL;
    kvs_sbuf_init(&body, 4096);
    kvs_status st = kvs_op_body(&body, r->alg, r->wrapped, r->wrapped_len) != 0
                        ? kvs_fail(err, KVS_ERR_NOMEM, "out of memory")
                        : kvs_kv_client_call_until(p->client, KVS_KV_OP_UNWRAP, kid, body.p,
                                                   body.len, &res, NULL, hard_deadline_ms,
                                                   err);
    kvs_sbuf_free(&body);
    const char *v = res ? kvs_json_str(res, "value") : NULL;
    if (st == KVS_OK &&
        (v == NULL || kvs_b64_decode_lenient(v, strlen(v), buf, cap, n) != 0))
        st = kvs_fail(err, KVS_ERR_KEY, "unwrapkey on %.300s returned no value", r->key_id);
    kvs_json_free_wiped(res);
    return st;
}

static void *kvs_kv_deks_make(void)
{
    return kvs_dek_cache_new(0);
}

static void kvs_kv_deks_free(void *deks)
{
    kvs_dek_cache_free(deks);
}

kvs_dek_cache *kvs_keyvault_deks(kvs_kv_client *c)
{
    return kvs_kv_client_attachment(c, kvs_kv_deks_make, kvs_kv_deks_free);
}

/* The unwrap of both entry points: the provider callback (no deadline, for
 * a decryption now) and kvs_keyvault_unwrap_until (a file's budget). */
static kvs_status kvs_kv_unwrap_into(kvs_kv_prov *p, const kvs_recipient *r, uint8_t *dek,
                                     size_t cap, size_t *len, int64_t hard_deadline_ms,
                                     int prefetch, kvs_error *err)
{
    kvs_kv_keyref kid;
    kvs_kv_hostinfo hi;
    if (!kvs_kv_recipient_key(p, r, &kid))
        return kvs_fail(err, KVS_ERR_NO_RECIPIENT, "recipient is not for %s", p->ident);
    /* A file chooses the host: refuse hosts the user did not allow, before
     * any request (and so before any token could leave). */
    kvs_status st = kvs_kv_client_check_host(p->client, &kid, &hi, KVS_ERR_KEY_ACCESS, err);
    if (st != KVS_OK) return st;
    kvs_dek_cache *deks = kvs_keyvault_deks(p->client);
    if (deks == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    int hit = kvs_dek_cache_begin(deks, r, dek, prefetch);
    if (hit) {
        /* Unwrapped ahead for this decryption, or by a prefetch: no saving. */
        if (hit == 1 && !prefetch) kvs_kv_stat_add(KVS_STAT_DEK_HIT);
        *len = KVS_DEK_LEN;
        return KVS_OK;
    }
    st = kvs_remote_unwrap(p, r, &kid, hard_deadline_ms, dek, cap, len, err);
    /* Only a data key is cached; any other length fails as KVS_ERR_AUTH. */
    kvs_dek_cache_finish(deks, r, st == KVS_OK && *len == KVS_DEK_LEN ? dek : NULL, prefetch);
    return st;
}

static kvs_status kvs_kv_unwrap(void *impl, const kvs_recipient *r, uint8_t *dek, size_t cap,
                                size_t *len, kvs_error *err)
{
    return kvs_kv_unwrap_into(impl, r, dek, cap, len, 0, 0, err);
}

kvs_status kvs_keyvault_unwrap_until(kvs_provider *prov, const kvs_recipient *r,
                                     uint8_t dek[KVS_DEK_LEN], int64_t hard_deadline_ms,
                                     int prefetch, kvs_error *err)
{
    kvs_kv_prov *p = kvs_provider_impl(prov, &kvs_kv_ops);
    if (p == NULL) return kvs_fail(err, KVS_ERR_USAGE, "not a Key Vault provider");
    uint8_t *buf = kvs_secure_alloc(KVS_MAX_WRAPPED_LEN);
    if (buf == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of secure memory");
    size_t len = 0;
    kvs_status st =
        kvs_kv_unwrap_into(p, r, buf, KVS_MAX_WRAPPED_LEN, &len, hard_deadline_ms, prefetch, err);
    if (st == KVS_OK) st = kvs_provider_take_dek(prov, buf, len, dek, err);
    kvs_secure_free(buf, KVS_MAX_WRAPPED_LEN);
    return st;
}

static const char *kvs_kv_identify(const void *impl)
{
    const kvs_kv_prov *p = impl;
    return p->ident;
}

static void kvs_kv_destroy(void *impl)
{
    kvs_kv_prov *p = impl;
    if (p != NULL) {
        EVP_PKEY_free(p->pub);
        kvs_kv_client_release(p->client);
        free(p);
    }
}

static const kvs_provider_ops kvs_kv_ops = {
    .name = KVS_RECIPIENT_AZURE,
    .wrap = kvs_kv_wrap,
    .matches = kvs_kv_matches,
    .unwrap = kvs_kv_unwrap,
    .identify = kvs_kv_identify,
    .destroy = kvs_kv_destroy,
};

/* ---- constructors ------------------------------------------------------------ */

/* A provider holding a client reference; NULL (*st set) on failure. */
static kvs_provider *kvs_kv_prov_alloc(const kvs_keyvault_config *cfg, kvs_status *st,
                                       kvs_error *err)
{
    kvs_provider *prov = NULL;
    kvs_kv_prov *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        *st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->remote_wrap = cfg ? cfg->remote_wrap : 0;
    *st = kvs_kv_client_acquire(cfg, &p->client, err);
    if (*st == KVS_OK) *st = kvs_provider_new(&kvs_kv_ops, sizeof kvs_kv_ops, p, &prov, err);
    if (*st != KVS_OK) {
        kvs_kv_destroy(p);
        return NULL;
    }
    return prov;
}

kvs_status kvs_keyvault_provider_new(const char *key_url, const kvs_keyvault_config *cfg,
                                     kvs_provider **out, kvs_error *err)
{
    kvs_kv_keyref key;
    kvs_kv_hostinfo hi;
    char what[KVS_MAX_KEY_ID_LEN + 80];
    if (out == NULL) return kvs_fail(err, KVS_ERR_USAGE, "keyvault provider: missing out");
    *out = NULL;
    kvs_status st = kvs_kvb_parse_user_url(key_url, &key, err);
    if (st != KVS_OK) return st;
    kvs_provider *prov = kvs_kv_prov_alloc(cfg, &st, err);
    if (prov == NULL) return st;
    kvs_kv_prov *p = kvs_provider_impl(prov, &kvs_kv_ops);
    p->key = key;
    kvs_kv_format_key_url(&key, p->ident, sizeof(p->ident));
    snprintf(what, sizeof(what), "key %s", p->ident);
    st = kvs_kv_client_check_host(p->client, &key, &hi, KVS_ERR_CONFIG, err);
    if (st == KVS_OK && key.version[0] != '\0') {
        /* Known version: the public key may already be cached. */
        char kid[KVS_MAX_KEY_ID_LEN + 1];
        kvs_kv_format_key_url(&key, kid, sizeof(kid));
        p->pub = kvs_kv_client_key_get(p->client, kid);
        if (p->pub != NULL) {
            memcpy(p->kid, kid, sizeof(kid));
            p->bits = (unsigned)EVP_PKEY_get_bits(p->pub);
        }
    }
    if (st == KVS_OK && p->pub == NULL) st = kvs_prov_fetch(p, what, err);
    if (st != KVS_OK) {
        kvs_provider_free(prov);
        return st;
    }
    snprintf(p->ident, sizeof(p->ident), "%s", p->kid);
    *out = prov;
    return KVS_OK;
}

kvs_status kvs_keyvault_any_provider_new(const kvs_keyvault_config *cfg, const char *restrict_url,
                                         kvs_provider **out, kvs_error *err)
{
    kvs_kv_keyref key;
    kvs_kv_hostinfo hi;
    if (out == NULL) return kvs_fail(err, KVS_ERR_USAGE, "keyvault provider: missing out");
    *out = NULL;
    memset(&key, 0, sizeof(key));
    kvs_status st = restrict_url ? kvs_kvb_parse_user_url(restrict_url, &key, err) : KVS_OK;
    if (st != KVS_OK) return st;
    kvs_provider *prov = kvs_kv_prov_alloc(cfg, &st, err);
    if (prov == NULL) return st;
    kvs_kv_prov *p = kvs_provider_impl(prov, &kvs_kv_ops);
    p->any = 1;
    p->restricted = restrict_url != NULL;
    p->key = key;
    if (p->restricted) {
        st = kvs_kv_client_check_host(p->client, &key, &hi, KVS_ERR_CONFIG, err);
        kvs_kv_format_key_url(&key, p->ident, sizeof(p->ident));
    } else {
        snprintf(p->ident, sizeof(p->ident), "azure-keyvault (any allowed vault)");
    }
    if (st != KVS_OK) {
        kvs_provider_free(prov);
        return st;
    }
    *out = prov;
    return KVS_OK;
}

int kvs_keyvault_is_provider(const kvs_provider *p)
{
    return kvs_provider_impl(p, &kvs_kv_ops) != NULL;
}

int kvs_keyvault_provider_tracks_current(const kvs_provider *p)
{
    if (!kvs_keyvault_is_provider(p)) return 0;
    const kvs_kv_prov *kp = kvs_provider_impl(p, &kvs_kv_ops);
    return !kp->any && kp->key.version[0] == '\0';
}
