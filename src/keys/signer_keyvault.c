/* Key Vault / Managed HSM signing keys (include/kvseal/sign.h): the signer,
 * which resolves its key version once and signs each statement's digest
 * with the service's `sign` on exactly that version, and the required-signer
 * check, which accepts a file signed by that key (any version for a
 * versionless URL, that version for a versioned one) and returns the
 * version's public key, fetched once per version (verification is local).
 *
 * Matching a file's signer kid against the required URL: the host (as the
 * kid grammar lowercases it) and port must be equal; the key name is
 * compared without regard to case, as Key Vault treats key names (and as
 * `-k URL` matches recipients); the version, when required, likewise (the
 * service writes versions in lowercase).
 *
 * Key separation: a signer's key must allow `sign` and must not allow
 * `wrapKey` or `unwrapKey` (keys/keyvault.c refuses the converse). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure/client.h"
#include "azure/kvjson.h"
#include "azure/kvurl.h"
#include "azure/sbuf.h"
#include "core/b64url.h"
#include "core/error.h"
#include "crypto/sign.h"
#include "keys/kv_bundle.h"
#include "keys/signer.h"
#include "kvseal/sign.h"

/* Public keys of signing keys are cached under this prefix, apart from
 * recipients' keys (which were checked for wrapping, not for signing). */
#define KVS_SIGN_CACHE_PREFIX "sign:"
#define KVS_WHAT_MAX (KVS_MAX_KEY_ID_LEN + 32)

typedef struct kvs_kv_signer {
    kvs_kv_client *client;
    kvs_kv_keyref ver;                /* the resolved version */
    char kid[KVS_MAX_KEY_ID_LEN + 1]; /* its versioned kid */
    kvs_sig_alg alg;
    size_t sig_len;                   /* every signature's length */
} kvs_kv_signer;

typedef struct kvs_kv_check {
    kvs_kv_client *client;
    kvs_kv_keyref key; /* version "" = any version of the key */
    char url[KVS_MAX_KEY_ID_LEN + 1];
} kvs_kv_check;

/* The cache key of a version's public key: "sign:" + the kid with name and
 * version in lowercase (the service does not tell cases apart); NULL if too
 * long (then it is not cached). */
static const char *kvs_cache_key(const kvs_kv_keyref *kid, char *buf, size_t cap)
{
    kvs_kv_keyref k = *kid;
    char url[KVS_MAX_KEY_ID_LEN + 1];
    for (char *p = k.name; *p; p++) *p = (char)tolower((unsigned char)*p);
    for (char *p = k.version; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (kvs_kv_format_key_url(&k, url, sizeof(url)) != 0) return NULL;
    int n = snprintf(buf, cap, KVS_SIGN_CACHE_PREFIX "%s", url);
    return n > 0 && (size_t)n < cap && (size_t)n <= KVS_MAX_KEY_ID_LEN ? buf : NULL;
}

static void kvs_cache_put(kvs_kv_client *c, const kvs_kv_keyref *kid, EVP_PKEY *pub)
{
    char ck[KVS_MAX_KEY_ID_LEN + 8];
    const char *k = kvs_cache_key(kid, ck, sizeof(ck));
    if (k != NULL) kvs_kv_client_key_put(c, k, pub);
}

static EVP_PKEY *kvs_cache_get(kvs_kv_client *c, const kvs_kv_keyref *kid)
{
    char ck[KVS_MAX_KEY_ID_LEN + 8];
    const char *k = kvs_cache_key(kid, ck, sizeof(ck));
    return k != NULL ? kvs_kv_client_key_get(c, k) : NULL;
}

/* The public key of a bundle's JWK that can sign: EC P-256/P-384, or RSA
 * of at least 3072 bits. */
static kvs_status kvs_signing_public(const cJSON *key, const char *what, EVP_PKEY **pub,
                                     kvs_error *err)
{
    const char *kty = kvs_json_str(key, "kty");
    *pub = NULL;
    if (kvs_kvb_is_ec(kty)) return kvs_kvb_ec_public(key, what, pub, err);
    if (kty == NULL || (strcmp(kty, "RSA") != 0 && strcmp(kty, "RSA-HSM") != 0))
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s has kty '%.16s': a signing key must be EC (P-256, P-384) or RSA "
                        "(at least 3072 bits)",
                        what, kty ? kty : "(none)");
    kvs_status st = kvs_kvb_rsa_public(key, what, pub, err);
    if (st != KVS_OK) return st;
    int bits = EVP_PKEY_get_bits(*pub);
    if (bits < 3072) {
        EVP_PKEY_free(*pub);
        *pub = NULL;
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s is RSA-%d: a signing key must be RSA of at least 3072 bits or EC "
                        "(P-256, P-384)",
                        what, bits);
    }
    return KVS_OK;
}

/* key_ops of a signer's key: sign, and neither wrapKey nor unwrapKey. */
static kvs_status kvs_signing_ops(const cJSON *key, const char *what, kvs_error *err)
{
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(key, "key_ops");
    if (!cJSON_IsArray(ops) || !kvs_kvb_ops_has(ops, "sign"))
        return kvs_fail(err, KVS_ERR_KEY, "%s does not allow sign (its key_ops)", what);
    const char *wrap = kvs_kvb_ops_has(ops, "wrapKey")     ? "wrapKey"
                       : kvs_kvb_ops_has(ops, "unwrapKey") ? "unwrapKey"
                                                           : NULL;
    if (wrap != NULL)
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s also allows %s (its key_ops): a signing key must not also wrap data "
                        "keys (key separation: whoever may wrap or unwrap with it could forge "
                        "the writer's signature); create signing keys with --ops sign verify",
                        what, wrap);
    return KVS_OK;
}

/* ---- the signer ------------------------------------------------------------ */

static kvs_status kvs_kvs_sign(void *impl, const uint8_t *digest, size_t dlen, uint8_t *sig,
                               size_t *sig_len, kvs_error *err)
{
    kvs_kv_signer *s = impl;
    kvs_kv_keyref got;
    kvs_sbuf body;
    cJSON *res = NULL;
    size_t n = 0;
    *sig_len = 0;
    if (dlen != kvs_sig_digest_len(s->alg))
        return kvs_fail(err, KVS_ERR_INTERNAL, "sign with %s: a %zu-byte digest for %s", s->kid,
                        dlen, kvs_sig_alg_name(s->alg));
    kvs_sbuf_init(&body, 512);
    kvs_status st =
        kvs_sbuf_puts(&body, "{\"alg\":\"") || kvs_sbuf_puts(&body, kvs_sig_alg_name(s->alg)) ||
                kvs_sbuf_puts(&body, "\",\"value\":\"") ||
                kvs_sbuf_put_b64url(&body, digest, dlen) || kvs_sbuf_puts(&body, "\"}")
            ? kvs_fail(err, KVS_ERR_NOMEM, "out of memory")
            : kvs_kv_client_call(s->client, KVS_KV_OP_SIGN, &s->ver, body.p, body.len, &res,
                                 err);
    kvs_sbuf_free(&body);
    /* The answer must be for exactly the version the header names. */
    if (st == KVS_OK) st = kvs_kvb_check_kid(kvs_json_str(res, "kid"), &s->ver, s->kid, &got, err);
    const char *v = st == KVS_OK ? kvs_json_str(res, "value") : NULL;
    if (st == KVS_OK &&
        (v == NULL || kvs_b64_decode_lenient(v, strlen(v), sig, KVS_SIG_MAX_LEN, &n) != 0))
        st = kvs_fail(err, KVS_ERR_KEY, "sign on %s returned no usable signature", s->kid);
    if (st == KVS_OK && n != s->sig_len)
        st = kvs_fail(err, KVS_ERR_KEY,
                      "sign on %s returned a %zu-byte signature; %s signatures of this key are "
                      "%zu bytes",
                      s->kid, n, kvs_sig_alg_name(s->alg), s->sig_len);
    kvs_json_free_wiped(res);
    if (st == KVS_OK) *sig_len = n;
    return st;
}

static void kvs_kvs_destroy(void *impl)
{
    kvs_kv_signer *s = impl;
    if (s == NULL) return;
    kvs_kv_client_release(s->client);
    free(s);
}

static const kvs_signer_ops kvs_kv_signer_ops = {
    .sign = kvs_kvs_sign,
    .destroy = kvs_kvs_destroy,
};

/* Check a GET answer for a signer and take its version and public key. */
static kvs_status kvs_kvs_take_bundle(kvs_kv_signer *s, const kvs_kv_keyref *asked,
                                      const cJSON *bundle, const char *what, EVP_PKEY **pub,
                                      kvs_error *err)
{
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(bundle, "key");
    if (!cJSON_IsObject(key))
        return kvs_fail(err, KVS_ERR_KEY, "%s: the service sent no key", what);
    kvs_status st = kvs_kvb_check_kid(kvs_json_str(key, "kid"), asked, what, &s->ver, err);
    if (st == KVS_OK) st = kvs_kvb_check_attributes(bundle, what, err);
    if (st == KVS_OK) st = kvs_signing_ops(key, what, err);
    if (st == KVS_OK) st = kvs_signing_public(key, what, pub, err);
    if (st == KVS_OK && kvs_kv_format_key_url(&s->ver, s->kid, sizeof(s->kid)) != 0)
        st = kvs_fail(err, KVS_ERR_KEY, "%s: kid too long", what);
    return st;
}

/* alg as asked (NULL: the key's default), checked against the key. */
static kvs_status kvs_kvs_alg(const char *alg, EVP_PKEY *pub, const char *what,
                              kvs_sig_alg *out, kvs_error *err)
{
    *out = alg != NULL ? kvs_sig_alg_parse(alg) : kvs_sig_default_alg(pub);
    if (*out == KVS_SIG_NONE)
        return alg != NULL ? kvs_fail(err, KVS_ERR_USAGE,
                                      "unknown signature algorithm '%.16s' (ES256, ES384, PS256, "
                                      "PS384, PS512)",
                                      alg)
                           : kvs_fail(err, KVS_ERR_KEY, "%s cannot sign", what);
    kvs_error e;
    kvs_error_clear(&e);
    if (kvs_sig_key_check(pub, *out, &e) != KVS_OK)
        return kvs_fail(err, KVS_ERR_KEY, "%s cannot make %s signatures: %s", what,
                        kvs_sig_alg_name(*out), kvs_error_message(&e));
    return KVS_OK;
}

kvs_status kvs_keyvault_signer_new(const char *key_url, const kvs_keyvault_config *cfg,
                                   const char *alg, kvs_signer **out, kvs_error *err)
{
    kvs_kv_keyref asked;
    kvs_kv_hostinfo hi;
    char what[KVS_WHAT_MAX];
    cJSON *bundle = NULL;
    EVP_PKEY *pub = NULL;
    if (out == NULL) return kvs_fail(err, KVS_ERR_USAGE, "keyvault signer: missing out");
    *out = NULL;
    if (alg != NULL && kvs_sig_alg_parse(alg) == KVS_SIG_NONE)
        return kvs_fail(err, KVS_ERR_USAGE,
                        "unknown signature algorithm '%.16s' (ES256, ES384, PS256, PS384, PS512)",
                        alg);
    kvs_status st = kvs_kvb_parse_user_url(key_url, &asked, err);
    if (st != KVS_OK) return st;
    kvs_kv_signer *s = calloc(1, sizeof(*s));
    if (s == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    snprintf(what, sizeof(what), "signing key ");
    kvs_kv_format_key_url(&asked, what + strlen(what), sizeof(what) - strlen(what));
    st = kvs_kv_client_acquire(cfg, &s->client, err);
    if (st == KVS_OK) st = kvs_kv_client_check_host(s->client, &asked, &hi, KVS_ERR_CONFIG, err);
    /* One GET: the current version for a versionless URL (every signature
     * of this signer is then made with that version), and for either the
     * key's state, type and key_ops. */
    if (st == KVS_OK)
        st = kvs_kv_client_call(s->client, KVS_KV_OP_GET, &asked, NULL, 0, &bundle, err);
    if (st == KVS_OK) st = kvs_kvs_take_bundle(s, &asked, bundle, what, &pub, err);
    kvs_json_free_wiped(bundle);
    if (st == KVS_OK) st = kvs_kvs_alg(alg, pub, what, &s->alg, err);
    if (st != KVS_OK) {
        EVP_PKEY_free(pub);
        kvs_kvs_destroy(s);
        return st;
    }
    s->sig_len = kvs_sig_len(pub, s->alg);
    kvs_cache_put(s->client, &s->ver, pub);
    return kvs_signer_make(&kvs_kv_signer_ops, s, KVS_SIGNER_KEYVAULT, s->kid, s->alg, pub, out,
                           err);
}

/* ---- the required-signer check ------------------------------------------------ */

static kvs_status kvs_kvc_not_required(const kvs_kv_check *c, const kvs_header_signer *fs,
                                       kvs_error *err)
{
    return kvs_fail(err, KVS_ERR_SIGNER,
                    "the file is signed by %.32s key %.300s, but the required signer is %.300s%s",
                    fs->type, fs->id, c->url,
                    c->key.version[0] ? " (that version only)" : " (any version)");
}

/* GET exactly the file's version and take its public key. */
static kvs_status kvs_kvc_fetch(kvs_kv_check *c, const kvs_kv_keyref *kid, const char *kidtext,
                                EVP_PKEY **pub, kvs_error *err)
{
    char what[KVS_WHAT_MAX];
    kvs_kv_keyref got;
    cJSON *bundle = NULL;
    snprintf(what, sizeof(what), "signing key %s", kidtext);
    kvs_status st = kvs_kv_client_call(c->client, KVS_KV_OP_GET, kid, NULL, 0, &bundle, err);
    const cJSON *key = st == KVS_OK ? cJSON_GetObjectItemCaseSensitive(bundle, "key") : NULL;
    if (st == KVS_OK && !cJSON_IsObject(key))
        st = kvs_fail(err, KVS_ERR_KEY, "%s: the service sent no key", what);
    if (st == KVS_OK) st = kvs_kvb_check_kid(kvs_json_str(key, "kid"), kid, what, &got, err);
    /* Verification needs only the public part: an expired key or one whose
     * key_ops changed since still verifies what it signed. */
    if (st == KVS_OK) st = kvs_signing_public(key, what, pub, err);
    kvs_json_free_wiped(bundle);
    return st;
}

static kvs_status kvs_kvc_resolve(void *impl, const kvs_header_signer *fs, EVP_PKEY **pub,
                                  kvs_error *err)
{
    kvs_kv_check *c = impl;
    kvs_kv_keyref kid;
    char kidtext[KVS_MAX_KEY_ID_LEN + 1];
    *pub = NULL;
    if (fs->type[0] == '\0')
        return kvs_fail(err, KVS_ERR_SIGNER, "the file is not signed, but the required signer "
                        "is %.300s", c->url);
    if (strncmp(fs->type, KVS_SIGNER_KEYVAULT, sizeof(fs->type)) != 0 ||
        memchr(fs->id, '\0', sizeof(fs->id)) == NULL || kvs_kv_parse_kid(fs->id, &kid) != 0)
        return kvs_kvc_not_required(c, fs, err);
    if (strcmp(kid.host, c->key.host) != 0 || kid.port != c->key.port ||
        strcasecmp(kid.name, c->key.name) != 0 ||
        (c->key.version[0] != '\0' && strcasecmp(kid.version, c->key.version) != 0))
        return kvs_kvc_not_required(c, fs, err);
    if (kvs_kv_format_key_url(&kid, kidtext, sizeof(kidtext)) != 0)
        return kvs_fail(err, KVS_ERR_SIGNER, "the file's signer kid is too long");
    *pub = kvs_cache_get(c->client, &kid);
    if (*pub != NULL) return KVS_OK;
    kvs_status st = kvs_kvc_fetch(c, &kid, kidtext, pub, err);
    if (st == KVS_OK) kvs_cache_put(c->client, &kid, *pub);
    return st;
}

static void kvs_kvc_destroy(void *impl)
{
    kvs_kv_check *c = impl;
    if (c == NULL) return;
    kvs_kv_client_release(c->client);
    free(c);
}

static const kvs_signer_check_ops kvs_kv_check_ops = {
    .resolve = kvs_kvc_resolve,
    .destroy = kvs_kvc_destroy,
};

kvs_status kvs_signer_check_keyvault(const char *key_url, const kvs_keyvault_config *cfg,
                                     kvs_signer_check **out, kvs_error *err)
{
    kvs_kv_hostinfo hi;
    if (out == NULL) return kvs_fail(err, KVS_ERR_USAGE, "keyvault signer check: missing out");
    *out = NULL;
    kvs_kv_check *c = calloc(1, sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = kvs_kvb_parse_user_url(key_url, &c->key, err);
    if (st == KVS_OK) st = kvs_kv_client_acquire(cfg, &c->client, err);
    /* No request yet: the key is fetched per version when a file names one. */
    if (st == KVS_OK) st = kvs_kv_client_check_host(c->client, &c->key, &hi, KVS_ERR_CONFIG, err);
    if (st == KVS_OK && kvs_kv_format_key_url(&c->key, c->url, sizeof(c->url)) != 0)
        st = kvs_fail(err, KVS_ERR_USAGE, "key URL too long");
    if (st != KVS_OK) {
        kvs_kvc_destroy(c);
        return st;
    }
    return kvs_signer_check_make(&kvs_kv_check_ops, c, c->url, out, err);
}
