/* Key Vault signing keys through the real client against the scripted fake
 * transport on virtual time: the signer (one GET resolving the version, the
 * sign request's URL and body, retries on 429 and 5xx, 403 naming the role,
 * answers in either base64 alphabet, wrong lengths and versions refused),
 * EC JSON Web Keys, key separation both ways, and the required-signer
 * check (versioned and versionless, one GET per version). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/client.h"
#include "azure/clock.h"
#include "azure/kverror.h"
#include "fake_clock.h"
#include "fake_transport.h"
#include "keys/signer.h"
#include "kvseal/keyvault.h"
#include "kvseal/sign.h"
#include "testutil.h"

#define WALL0 1700000000LL
#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define VAULT "https://myvault.vault.azure.net"
#define V1 "0123456789abcdef0123456789abcdef"
#define V2 "fedcba9876543210fedcba9876543210"
#define KEY_URL VAULT "/keys/sig"
#define KID1 KEY_URL "/" V1
#define KID2 KEY_URL "/" V2
#define SIGN_URL KID1 "/sign?api-version=7.4"
#define LOGIN "https://login.microsoftonline.com"
#define TOKEN_URL LOGIN "/" TENANT "/oauth2/v2.0/token"
#define CHALLENGE                                                                   \
    "WWW-Authenticate: Bearer authorization=\"" LOGIN "/" TENANT "\", "              \
    "resource=\"https://vault.azure.net\"\r\n"
#define TOKEN_JSON "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"tok-1\"}"

/* Points on their curves (generated once with python3-cryptography). */
#define P256_X "Gd83EtzzUD3KEbziN3NV2kiC9UrqVnrv6zJtF16o9i8"
#define P256_Y "QBDCy-SI96G2st2dEJgoRGY9EJH0IiNLBplW6gce5vU"
#define P384_X "GBZQ7rh6F5Q7eX_63Zo-UFOrGRcAyYmzeOo5nQW5y8-zlNc7mBG8X63fQZGZWhzM"
#define P384_Y "Mk-MFMTNvhBxDbueOWwek_z2mUjCGmPkE5zG05ww05qztw_8vC-lCd6s7AbN1_rC"
#define RSA2048_N                                                                             \
    "4ty8n6Cm1c3kQnoiVwt0rtQrMnsuUz_DK0HG0REtWYSBaYytGZWO2d7FGmBL75oEMMEf_TkA4OSZO9VfvFND_"  \
    "hMjv_KLMrCMZPbC-69GeiNxVoWbIG_Ww5Zo_rSjvD61Jx6ivPzIkQYCz7PhHG9m2qQ8K8jdqZ1I6-"         \
    "zdmjTTw-zziWvgzqMuh9lsbYMOfBViq1YMsEqml5Jz3h9R-ql3tz7lKlLuYYj3Ykb7Tj3w8XqGlnSKUt0CCZ_" \
    "kVsLcQ29g3TziPuO6cN61CzUIuVeOQ9dzaQM8jE93IaV1VGG4uinND3nSAsZjfQEyd0HKRRJd2FhkPHgmnEKuI" \
    "fHz4GtI-w"
#define RSA3072_N                                                                             \
    "t8Rr6D2bwAAlAyHw2NKzKa8cxO1hvrhKhHK5C3f5hGjGZmviH-1hic04qnmbQK2agVO_X0VrlqGwwgvjB7PC9_" \
    "qrpjvncfE8NOnTvfjDLJwZP6MNGb_cGqMXLiZ9GWlCVAKyqQYSBCKyKj55M5bdYDMFf04QLg2VgV1CezOA3JT0" \
    "HyPThZ9-vJGY0cEnIxxzLSOkyvmg-RqaUvfHkxej8jjFFhqfRoIZW8cCWs7S98xGWPf8iWB_Z-"            \
    "ocLVZYrQfeQZgFMVzsY-FGFO5-hatqIJWuBvQrWVcLSF5Fkc7S0uSTw56WgqTThsGpcgF2-"               \
    "8FoepJ1knFlRHBnPPlriTVf7nR--biNVMt7fdnIcR58XaAybuucVyGRvOttm6ddFJduPZFtZEYZuOablJyRCtE" \
    "ZrnSiCCVkzGUIg7Y1_D5yoTY1FuYgAumkG4nNeRIKD-2HMj-zrKAb5Pa6vH0NEVIdfHnOHRL4Ecn0WnnjjqDoX" \
    "DZN-Bc6qYDf-HCllWK5S8l_"

#define OPS_SIGN "[\"sign\",\"verify\"]"
#define ATTRS "\"attributes\":{\"enabled\":true}"
#define EC_BUNDLE(kid, kty, crv, x, y, ops)                                                \
    "{\"key\":{\"kid\":\"" kid "\",\"kty\":\"" kty "\",\"crv\":\"" crv "\",\"x\":\"" x     \
    "\",\"y\":\"" y "\",\"key_ops\":" ops "}," ATTRS "}"
#define RSA_BUNDLE(kid, n, ops)                                                              \
    "{\"key\":{\"kid\":\"" kid "\",\"kty\":\"RSA\",\"n\":\"" n "\",\"e\":\"AQAB\",\"key_ops\":" \
    ops "}," ATTRS "}"
#define P256_BUNDLE(kid) EC_BUNDLE(kid, "EC", "P-256", P256_X, P256_Y, OPS_SIGN)

/* SHA-256("abc"): the digest signed in these tests, and its base64url. */
static const uint8_t DIGEST[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
#define DIGEST_B64 "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
/* 64 bytes 0x00..0x3f: in base64url, and in standard base64 with padding. */
#define SIG64_B64URL "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw"
#define SIG64_STD "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
/* 63 bytes. */
#define SIG63_B64URL "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-"
#define SIGN_OK(kid, sig) "{\"kid\":\"" kid "\",\"value\":\"" sig "\"}"

static void setup(void)
{
    static const char *const scrub[] = {
        "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET_FILE", "KVSEAL_CA_FILE",
        "KVSEAL_ALLOWED_HOSTS", "KVSEAL_CREDENTIAL", "KVSEAL_CONNECT_TIMEOUT",
        "KVSEAL_HTTP_TIMEOUT", "KVSEAL_RETRY_MAX_SECONDS", "KVSEAL_THROTTLE_MAX_SECONDS",
        "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT"};
    for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) unsetenv(scrub[i]);
    setenv("AZURE_CLIENT_ID", "app1", 1);
    setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
    fake_clock_install(WALL0);
    fake_transport_install();
}

static void teardown(void)
{
    fake_transport_uninstall();
    fake_clock_uninstall();
}

static kvs_keyvault_config base_cfg(void)
{
    kvs_keyvault_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "env-secret";
    return cfg;
}

static void assert_contains(const char *hay, const char *needle)
{
    ck_assert_msg(strstr(hay, needle) != NULL, "'%s' not in '%s'", needle, hay);
}

/* First contact with the vault: probe (401 + challenge), then a token. */
static void script_first_contact(const char *url_prefix)
{
    fake_respond("GET", url_prefix, 401, CHALLENGE, "{}");
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
}

/* A signer for url whose GET answers bundle; must succeed. */
static kvs_signer *signer_from(const char *url, const char *bundle, const char *alg)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_signer *s = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    script_first_contact(url);
    fake_respond("GET", url, 200, NULL, bundle);
    kvs_status st = kvs_keyvault_signer_new(url, &cfg, alg, &s, &err);
    ck_assert_msg(st == KVS_OK, "signer: %s", kvs_error_message(&err));
    ck_assert_ptr_nonnull(s);
    return s;
}

/* A signer for url whose GET answers bundle; must fail with want. */
static void signer_refused(const char *url, const char *bundle, const char *alg, kvs_status want,
                           const char *needle)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_signer *s = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    script_first_contact(url);
    fake_respond("GET", url, 200, NULL, bundle);
    kvs_status st = kvs_keyvault_signer_new(url, &cfg, alg, &s, &err);
    ck_assert_msg(st == want, "status %d, want %d: %s", st, want, kvs_error_message(&err));
    ck_assert_ptr_null(s);
    assert_contains(kvs_error_message(&err), needle);
}

static kvs_status sign_digest(kvs_signer *s, uint8_t sig[KVS_SIG_MAX_LEN], size_t *n,
                              kvs_error *err)
{
    kvs_error_clear(err);
    return s->ops->sign(s->impl, DIGEST, sizeof(DIGEST), sig, n, err);
}

static size_t count_requests(const char *method, const char *url_prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_request_count(); i++) {
        fake_request q = fake_request_at(i);
        if (strcmp(q.method, method) == 0 && strncmp(q.url, url_prefix, strlen(url_prefix)) == 0)
            n++;
    }
    return n;
}

/* ---- the signer ------------------------------------------------------------------ */

START_TEST(test_versionless_signer_resolves_once_and_signs_that_version)
{
    kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
    ck_assert_str_eq(kvs_signer_type(s), "azure-keyvault");
    ck_assert_str_eq(kvs_signer_id(s), KID1);
    ck_assert_str_eq(kvs_signer_alg(s), "ES256");
    ck_assert_uint_eq(s->sig_len, 64);
    ck_assert_ptr_nonnull(s->pub);

    for (int i = 0; i < 2; i++) fake_respond("POST", SIGN_URL, 200, NULL, SIGN_OK(KID1, SIG64_B64URL));
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 0;
    kvs_error err;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_OK);
        ck_assert_uint_eq(n, 64);
        for (size_t j = 0; j < 64; j++) ck_assert_uint_eq(sig[j], j);
    }
    ck_assert_uint_eq(fake_mismatches(), 0);
    /* One GET (plus the unauthenticated probe), then the signs with the
     * version it resolved: never the versionless URL again. */
    ck_assert_uint_eq(count_requests("GET", KEY_URL), 2);
    ck_assert_uint_eq(count_requests("POST", SIGN_URL), 2);
    fake_request q = fake_request_at(fake_request_count() - 1);
    ck_assert_str_eq(q.url, SIGN_URL);
    ck_assert(q.bearer && q.body);
    ck_assert_str_eq(q.sign_body, "{\"alg\":\"ES256\",\"value\":\"" DIGEST_B64 "\"}");
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_versioned_signer_p384_es384)
{
    const char *kid = VAULT "/keys/sig/" V2;
    kvs_signer *s = signer_from(kid, EC_BUNDLE(KID2, "EC-HSM", "P-384", P384_X, P384_Y, OPS_SIGN),
                                NULL);
    ck_assert_str_eq(kvs_signer_id(s), KID2);
    ck_assert_str_eq(kvs_signer_alg(s), "ES384");
    ck_assert_uint_eq(s->sig_len, 96);
    ck_assert_uint_eq(count_requests("GET", KID2), 2);
    /* A 32-byte digest is not ES384's: refused before any request. */
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 0, before = fake_request_count();
    kvs_error err;
    ck_assert_int_ne(sign_digest(s, sig, &n, &err), KVS_OK);
    ck_assert_uint_eq(fake_request_count(), before);
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_rsa_signer_ps256_default_and_ps512_asked)
{
    kvs_signer *s = signer_from(KEY_URL, RSA_BUNDLE(KID1, RSA3072_N, OPS_SIGN), NULL);
    ck_assert_str_eq(kvs_signer_alg(s), "PS256");
    ck_assert_uint_eq(s->sig_len, 384);
    kvs_signer_free(s);
    teardown();
    setup();
    s = signer_from(KEY_URL, RSA_BUNDLE(KID1, RSA3072_N, OPS_SIGN), "PS512");
    ck_assert_str_eq(kvs_signer_alg(s), "PS512");
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_sign_403_rbac_names_the_crypto_user_role)
{
    kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
    fake_respond("POST", SIGN_URL, 403, NULL,
                 "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not authorized to "
                 "perform action on resource.\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}");
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 99;
    kvs_error err;
    ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_ERR_KEY_ACCESS);
    ck_assert_uint_eq(n, 0);
    assert_contains(kvs_error_message(&err), "sign on key 'sig' version '" V1 "'");
    assert_contains(kvs_error_message(&err), "\"Key Vault Crypto User\"");
    assert_contains(kvs_error_message(&err), "Key Vault Crypto Service Encryption User");
    assert_contains(kvs_error_message(&err), "ForbiddenByRbac");
    ck_assert_uint_eq(count_requests("POST", SIGN_URL), 1); /* 403 is not retried */
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_sign_403_messages_hsm_and_access_policy)
{
    kvs_kv_errbody b;
    kvs_error err;
    kvs_kv_errctx x = {"sign", "sig", V1, "myhsm.managedhsm.azure.net", 1, NULL, NULL};
    static const char body[] =
        "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}";
    kvs_kv_errbody_parse(body, strlen(body), &b);
    ck_assert_str_eq(b.inner, "ForbiddenByRbac");
    ck_assert_int_eq(kvs_kv_http_error(&err, 403, &b, &x), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "\"Managed HSM Crypto User\"");
    snprintf(b.inner, sizeof(b.inner), "AccessDenied");
    ck_assert_int_eq(kvs_kv_http_error(&err, 403, &b, &x), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "key permissions get and sign");
    /* unwrapkey keeps its own role */
    kvs_kv_errctx u = {"unwrapkey", "k", V1, "myvault.vault.azure.net", 0, NULL, NULL};
    snprintf(b.inner, sizeof(b.inner), "ForbiddenByRbac");
    ck_assert_int_eq(kvs_kv_http_error(&err, 403, &b, &u), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "Key Vault Crypto Service Encryption User");
    ck_assert_ptr_null(strstr(kvs_error_message(&err), "\"Key Vault Crypto User\""));
}
END_TEST

START_TEST(test_sign_429_then_success_makes_one_signature)
{
    kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
    fake_respond("POST", SIGN_URL, 429, "Retry-After: 2\r\n",
                 "{\"error\":{\"code\":\"Throttled\",\"message\":\"too many\"}}");
    fake_respond("POST", SIGN_URL, 429, NULL,
                 "{\"error\":{\"code\":\"Throttled\",\"message\":\"too many\"}}");
    fake_respond("POST", SIGN_URL, 200, NULL, SIGN_OK(KID1, SIG64_B64URL));
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 0;
    kvs_error err;
    int64_t t0 = kvs_mono_ms();
    ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_OK);
    ck_assert_uint_eq(n, 64);
    ck_assert_uint_eq(count_requests("POST", SIGN_URL), 3);
    ck_assert_int_ge(kvs_mono_ms() - t0, 2000); /* Retry-After was honoured */
    ck_assert_uint_eq(fake_pending(), 0);
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_sign_5xx_retried)
{
    kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
    fake_respond("POST", SIGN_URL, 503, NULL, "{}");
    fake_respond("POST", SIGN_URL, 500, NULL, "{}");
    fake_reply drop = {"POST", SIGN_URL, 0, KVS_NET_DROPPED, NULL, NULL, 0, 1};
    fake_queue(drop);
    fake_respond("POST", SIGN_URL, 200, NULL, SIGN_OK(KID1, SIG64_B64URL));
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 0;
    kvs_error err;
    ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_OK);
    ck_assert_uint_eq(count_requests("POST", SIGN_URL), 4);
    ck_assert_uint_eq(fake_mismatches(), 0);
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_sign_answer_in_standard_base64_accepted)
{
    kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
    fake_respond("POST", SIGN_URL, 200, NULL, SIGN_OK(KID1, SIG64_STD));
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t n = 0;
    kvs_error err;
    ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_OK);
    ck_assert_uint_eq(n, 64);
    ck_assert_uint_eq(sig[62], 62);
    ck_assert_uint_eq(sig[63], 63);
    kvs_signer_free(s);
}
END_TEST

START_TEST(test_sign_bad_answers_refused)
{
    static const char *const answers[] = {
        SIGN_OK(KID1, SIG63_B64URL),                         /* 63 bytes for ES256 */
        SIGN_OK(KID1, SIG64_B64URL "AAAA"),                  /* 67 bytes */
        SIGN_OK(KID2, SIG64_B64URL),                         /* another version */
        SIGN_OK(VAULT "/keys/other/" V1, SIG64_B64URL),      /* another key */
        "{\"kid\":\"" KID1 "\"}",                            /* no value */
        SIGN_OK(KID1, "***"),                                /* not base64 */
        "{\"value\":\"" SIG64_B64URL "\"}",                  /* no kid */
    };
    static const char *const needles[] = {"63-byte", "67-byte", "another key", "another key",
                                          "no usable signature", "no usable signature",
                                          "no versioned kid"};
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        setup();
        kvs_signer *s = signer_from(KEY_URL, P256_BUNDLE(KID1), NULL);
        fake_respond("POST", SIGN_URL, 200, NULL, answers[i]);
        uint8_t sig[KVS_SIG_MAX_LEN];
        size_t n = 99;
        kvs_error err;
        ck_assert_int_eq(sign_digest(s, sig, &n, &err), KVS_ERR_KEY);
        ck_assert_uint_eq(n, 0);
        assert_contains(kvs_error_message(&err), needles[i]);
        kvs_signer_free(s);
        teardown();
    }
}
END_TEST

/* ---- the signing key's bundle ---------------------------------------------------- */

START_TEST(test_signer_refuses_unfit_keys)
{
    static const struct {
        const char *bundle, *alg, *needle;
        kvs_status st;
    } cases[] = {
        /* key separation: a key that may wrap or unwrap is no signer */
        {EC_BUNDLE(KID1, "EC", "P-256", P256_X, P256_Y, "[\"sign\",\"verify\",\"unwrapKey\"]"),
         NULL, "a signing key must not also wrap data keys", KVS_ERR_KEY},
        {RSA_BUNDLE(KID1, RSA3072_N, "[\"sign\",\"verify\",\"wrapKey\",\"unwrapKey\"]"), NULL,
         "a signing key must not also wrap data keys", KVS_ERR_KEY},
        {RSA_BUNDLE(KID1, RSA3072_N, "[\"wrapKey\",\"unwrapKey\"]"), NULL, "does not allow sign",
         KVS_ERR_KEY},
        {EC_BUNDLE(KID1, "EC", "P-256", P256_X, P256_Y, "[\"verify\"]"), NULL,
         "does not allow sign", KVS_ERR_KEY},
        {RSA_BUNDLE(KID1, RSA2048_N, OPS_SIGN), NULL, "RSA-2048", KVS_ERR_KEY},
        {EC_BUNDLE(KID1, "EC", "P-521", P256_X, P256_Y, OPS_SIGN), NULL, "P-521", KVS_ERR_KEY},
        {EC_BUNDLE(KID1, "EC", "P-256", P256_Y, P256_X, OPS_SIGN), NULL, "EC public key",
         KVS_ERR_KEY}, /* x and y swapped: not on the curve */
        {EC_BUNDLE(KID1, "EC", "P-256", P256_X, "", OPS_SIGN), NULL, "no usable x and y",
         KVS_ERR_KEY},
        {EC_BUNDLE(KID1, "EC", "P-384", P256_X, P256_Y, OPS_SIGN), NULL, "EC public key",
         KVS_ERR_KEY}, /* P-256 coordinates named P-384 */
        {"{\"key\":{\"kid\":\"" KID1 "\",\"kty\":\"oct\",\"key_ops\":" OPS_SIGN "}}", NULL,
         "kty 'oct'", KVS_ERR_KEY},
        {"{\"key\":{\"kid\":\"" KID1 "\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X
         "\",\"y\":\"" P256_Y "\",\"key_ops\":" OPS_SIGN "},\"attributes\":{\"enabled\":false}}",
         NULL, "is disabled", KVS_ERR_KEY},
        {"{\"key\":{\"kid\":\"" KID1 "\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" P256_X
         "\",\"y\":\"" P256_Y "\",\"key_ops\":" OPS_SIGN "},\"attributes\":{\"exp\":1000}}",
         NULL, "expired", KVS_ERR_KEY},
        {P256_BUNDLE(KEY_URL), NULL, "no versioned kid", KVS_ERR_KEY},
        {P256_BUNDLE(VAULT "/keys/other/" V1), NULL, "another key", KVS_ERR_KEY},
        {"{\"attributes\":{}}", NULL, "sent no key", KVS_ERR_KEY},
        /* the alg must fit the key */
        {P256_BUNDLE(KID1), "ES384", "cannot make ES384 signatures", KVS_ERR_KEY},
        {P256_BUNDLE(KID1), "PS256", "cannot make PS256 signatures", KVS_ERR_KEY},
        {RSA_BUNDLE(KID1, RSA3072_N, OPS_SIGN), "ES256", "cannot make ES256", KVS_ERR_KEY},
    };
    int i = _i;
    signer_refused(KEY_URL, cases[i].bundle, cases[i].alg, cases[i].st, cases[i].needle);
}
END_TEST
#define UNFIT_CASES 18

START_TEST(test_signer_usage_errors_make_no_request)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_signer *s = NULL;
    kvs_error err;
    ck_assert_int_eq(kvs_keyvault_signer_new(KEY_URL, &cfg, "RS256", &s, &err), KVS_ERR_USAGE);
    assert_contains(kvs_error_message(&err), "RS256");
    ck_assert_int_eq(kvs_keyvault_signer_new("http://myvault.vault.azure.net/keys/sig", &cfg, NULL,
                                             &s, &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_keyvault_signer_new(VAULT "/secrets/sig", &cfg, NULL, &s, &err),
                     KVS_ERR_USAGE);
    /* a host outside the cloud and the allow-list: configuration error */
    ck_assert_int_eq(kvs_keyvault_signer_new("https://evil.example/keys/sig", &cfg, NULL, &s,
                                             &err),
                     KVS_ERR_CONFIG);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(fake_request_count(), 0);
}
END_TEST

/* ---- recipients: the converse of key separation ------------------------------------ */

START_TEST(test_recipient_refuses_signing_keys)
{
    static const char *const bundles[] = {
        RSA_BUNDLE(KID1, RSA3072_N, "[\"sign\",\"verify\",\"wrapKey\",\"unwrapKey\"]"),
        P256_BUNDLE(KID1),
    };
    static const char *const needles[] = {"a wrapping key must not be a signing key",
                                          "is an EC key (kty 'EC'), a signing key"};
    for (size_t i = 0; i < 2; i++) {
        setup();
        kvs_keyvault_config cfg = base_cfg();
        kvs_provider *p = NULL;
        kvs_error err;
        script_first_contact(KEY_URL);
        fake_respond("GET", KEY_URL, 200, NULL, bundles[i]);
        ck_assert_int_eq(kvs_keyvault_provider_new(KEY_URL, &cfg, &p, &err), KVS_ERR_KEY);
        ck_assert_ptr_null(p);
        assert_contains(kvs_error_message(&err), needles[i]);
        teardown();
    }
    /* a wrapping key (no sign) is still a recipient */
    setup();
    kvs_keyvault_config cfg = base_cfg();
    kvs_provider *p = NULL;
    kvs_error err;
    script_first_contact(KEY_URL);
    fake_respond("GET", KEY_URL, 200, NULL,
                 RSA_BUNDLE(KID1, RSA3072_N, "[\"wrapKey\",\"unwrapKey\"]"));
    ck_assert_int_eq(kvs_keyvault_provider_new(KEY_URL, &cfg, &p, &err), KVS_OK);
    kvs_provider_free(p);
}
END_TEST

/* ---- the required-signer check ----------------------------------------------------- */

static kvs_signer_check *check_of(const char *url)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_signer_check *c = NULL;
    kvs_error err;
    ck_assert_int_eq(kvs_signer_check_keyvault(url, &cfg, &c, &err), KVS_OK);
    ck_assert_uint_eq(fake_request_count(), 0); /* nothing fetched before a file needs it */
    return c;
}

static kvs_status resolve(kvs_signer_check *c, const char *type, const char *id, EVP_PKEY **pub,
                          kvs_error *err)
{
    kvs_header_signer fs;
    memset(&fs, 0, sizeof(fs));
    snprintf(fs.type, sizeof(fs.type), "%s", type);
    snprintf(fs.id, sizeof(fs.id), "%s", id);
    snprintf(fs.alg, sizeof(fs.alg), "ES256");
    kvs_error_clear(err);
    *pub = NULL;
    return c->ops->resolve(c->impl, &fs, pub, err);
}

START_TEST(test_check_versionless_any_version_one_get_each)
{
    kvs_signer_check *c = check_of(KEY_URL);
    ck_assert_str_eq(kvs_signer_check_name(c), KEY_URL);
    EVP_PKEY *pub = NULL;
    kvs_error err;
    script_first_contact(KID1);
    fake_respond("GET", KID1 "?", 200, NULL, P256_BUNDLE(KID1));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_OK);
    ck_assert_ptr_nonnull(pub);
    ck_assert_int_eq(EVP_PKEY_get_bits(pub), 256);
    EVP_PKEY_free(pub);
    /* the same version again: cached, no request; the name's case does not matter */
    size_t before = fake_request_count();
    ck_assert_int_eq(resolve(c, "azure-keyvault", VAULT "/keys/SIG/" V1, &pub, &err), KVS_OK);
    EVP_PKEY_free(pub);
    ck_assert_uint_eq(fake_request_count(), before);
    /* another version of the same key: one GET of exactly that version */
    fake_respond("GET", KID2 "?", 200, NULL,
                 EC_BUNDLE(KID2, "EC", "P-384", P384_X, P384_Y, OPS_SIGN));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID2, &pub, &err), KVS_OK);
    ck_assert_int_eq(EVP_PKEY_get_bits(pub), 384);
    EVP_PKEY_free(pub);
    ck_assert_uint_eq(fake_request_count(), before + 1);
    ck_assert_uint_eq(fake_mismatches(), 0);
    kvs_signer_check_free(c);
}
END_TEST

START_TEST(test_check_versioned_refuses_other_versions_and_keys)
{
    kvs_signer_check *c = check_of(KID1);
    EVP_PKEY *pub = NULL;
    kvs_error err;
    static const char *const others[][2] = {
        {"azure-keyvault", KID2},
        {"azure-keyvault", VAULT "/keys/other/" V1},
        {"azure-keyvault", "https://othervault.vault.azure.net/keys/sig/" V1},
        {"azure-keyvault", "https://myvault.vault.azure.net:8443/keys/sig/" V1},
        {"key", "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
        {"azure-keyvault", KEY_URL}, /* not a versioned kid */
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        ck_assert_int_eq(resolve(c, others[i][0], others[i][1], &pub, &err), KVS_ERR_SIGNER);
        ck_assert_ptr_null(pub);
        assert_contains(kvs_error_message(&err), others[i][1]);
        assert_contains(kvs_error_message(&err), KID1);
        assert_contains(kvs_error_message(&err), "that version only");
    }
    ck_assert_int_eq(resolve(c, "", "", &pub, &err), KVS_ERR_SIGNER);
    assert_contains(kvs_error_message(&err), "not signed");
    ck_assert_uint_eq(fake_request_count(), 0);
    /* the required version itself */
    script_first_contact(KID1);
    fake_respond("GET", KID1 "?", 200, NULL, P256_BUNDLE(KID1));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_OK);
    EVP_PKEY_free(pub);
    kvs_signer_check_free(c);
}
END_TEST

START_TEST(test_check_fetch_failures)
{
    kvs_signer_check *c = check_of(KEY_URL);
    EVP_PKEY *pub = NULL;
    kvs_error err;
    /* the vault answers for another version: refused */
    script_first_contact(KID1);
    fake_respond("GET", KID1 "?", 200, NULL, P256_BUNDLE(KID2));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_ERR_KEY);
    assert_contains(kvs_error_message(&err), "another key");
    /* a key that cannot sign (RSA-2048) is not a signer's */
    fake_respond("GET", KID1 "?", 200, NULL, RSA_BUNDLE(KID1, RSA2048_N, OPS_SIGN));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_ERR_KEY);
    /* 404 */
    fake_respond("GET", KID1 "?", 404, NULL,
                 "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"not found\"}}");
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_ERR_KEY);
    ck_assert_ptr_null(pub);
    /* nothing failed was cached: a later good answer is taken */
    fake_respond("GET", KID1 "?", 200, NULL, P256_BUNDLE(KID1));
    ck_assert_int_eq(resolve(c, "azure-keyvault", KID1, &pub, &err), KVS_OK);
    EVP_PKEY_free(pub);
    ck_assert_uint_eq(fake_mismatches(), 0);
    kvs_signer_check_free(c);
}
END_TEST

START_TEST(test_check_usage_errors)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_signer_check *c = NULL;
    kvs_error err;
    ck_assert_int_eq(kvs_signer_check_keyvault("https://myvault.vault.azure.net/keys/", &cfg, &c,
                                               &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_signer_check_keyvault("https://evil.example/keys/sig", &cfg, &c, &err),
                     KVS_ERR_CONFIG);
    assert_contains(kvs_error_message(&err), "evil.example");
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(fake_request_count(), 0);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("azure_sign");
    TCase *tc = tcase_create("signer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_versionless_signer_resolves_once_and_signs_that_version);
    tcase_add_test(tc, test_versioned_signer_p384_es384);
    tcase_add_test(tc, test_rsa_signer_ps256_default_and_ps512_asked);
    tcase_add_test(tc, test_sign_403_rbac_names_the_crypto_user_role);
    tcase_add_test(tc, test_sign_403_messages_hsm_and_access_policy);
    tcase_add_test(tc, test_sign_429_then_success_makes_one_signature);
    tcase_add_test(tc, test_sign_5xx_retried);
    tcase_add_test(tc, test_sign_answer_in_standard_base64_accepted);
    tcase_add_test(tc, test_signer_usage_errors_make_no_request);
    suite_add_tcase(s, tc);

    /* These set up and tear down per case themselves. */
    tc = tcase_create("answers and keys");
    tcase_add_test(tc, test_sign_bad_answers_refused);
    tcase_add_test(tc, test_recipient_refuses_signing_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("unfit keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_signer_refuses_unfit_keys, 0, UNFIT_CASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_check_versionless_any_version_one_get_each);
    tcase_add_test(tc, test_check_versioned_refuses_other_versions_and_keys);
    tcase_add_test(tc, test_check_fetch_failures);
    tcase_add_test(tc, test_check_usage_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(sign_suite());
}
