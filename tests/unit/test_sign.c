/* Signature algorithms of signed files (crypto/sign.c) and the signers built
 * on them (keys/signer.c, keys/signer_local.c): every alg signs and
 * verifies, interoperates with OpenSSL's own message-level API, refuses
 * tampering, bad lengths and bad scalars; key checks; SPKI key ids against
 * `openssl pkey -pubin -outform DER | sha256sum`; JWK public keys. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/sign.h"
#include "format/format.h"
#include "keys/signer.h"
#include "kvseal/sign.h"
#include "testutil.h"

/* Computed once with `openssl pkey -pubin -in K.pub.pem -outform DER |
 * sha256sum` (tests/keys/README.md). */
#define KEYID_P256 "sha256:7565d62d742a2f55ad6e8d077e2cd7eb028b81ccd4a41c7e36ec91f9492e7ccd"
#define KEYID_P384 "sha256:440f22ff53c0cc4d98f2ca87a19b3695df9665e049a049a31a93511910b6d55a"
#define KEYID_P256B "sha256:697f1f6de3c687692f4038093bba4d976eb359cfd4d16f827767ccaf62a7a682"

/* The group orders of P-256 and P-384 (SEC 2). */
#define ORDER_P256 "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
#define ORDER_P384                                                                         \
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196a" \
    "ccc52973"

static EVP_PKEY *pub_key(const char *file)
{
    char path[4096];
    FILE *f = fopen(kvs_test_key_path(file, path, sizeof path), "r");
    ck_assert_ptr_nonnull(f);
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(k);
    return k;
}

static const char *key_file(const char *name)
{
    static char path[8][4096];
    static int next;
    char *p = path[next++ % 8];
    return kvs_test_key_path(name, p, 4096);
}

START_TEST(alg_names)
{
    static const char *names[] = {"ES256", "ES384", "PS256", "PS384", "PS512"};
    static const size_t dlen[] = {32, 48, 32, 48, 64};
    for (int i = 0; i < 5; i++) {
        kvs_sig_alg a = kvs_sig_alg_parse(names[i]);
        ck_assert_int_ne(a, KVS_SIG_NONE);
        ck_assert_str_eq(kvs_sig_alg_name(a), names[i]);
        ck_assert_uint_eq(kvs_sig_digest_len(a), dlen[i]);
        ck_assert_int_eq(kvs_sig_alg_is_ec(a), i < 2);
    }
    ck_assert_int_eq(kvs_sig_alg_parse("es256"), KVS_SIG_NONE);
    ck_assert_int_eq(kvs_sig_alg_parse("RS256"), KVS_SIG_NONE);
    ck_assert_int_eq(kvs_sig_alg_parse("ES256 "), KVS_SIG_NONE);
    ck_assert_int_eq(kvs_sig_alg_parse(""), KVS_SIG_NONE);
    ck_assert_int_eq(kvs_sig_alg_parse(NULL), KVS_SIG_NONE);
    ck_assert_uint_eq(kvs_sig_digest_len(KVS_SIG_NONE), 0);
    /* The digests are the plain hashes of the message. */
    uint8_t d[KVS_SIG_DIGEST_MAX], want[64];
    size_t n = 0;
    ck_assert_int_eq(kvs_sig_digest(KVS_SIG_ES384, (const uint8_t *)"abc", 3, d, &n), KVS_OK);
    ck_assert_uint_eq(n, 48);
    kvs_test_unhex("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc"
                   "2358baeca134c825a7",
                   want, sizeof want);
    ck_assert_mem_eq(d, want, 48);
    ck_assert_int_eq(kvs_sig_digest(KVS_SIG_NONE, (const uint8_t *)"abc", 3, d, &n),
                     KVS_ERR_USAGE);
}
END_TEST

static const struct {
    const char *alg, *key, *other;
} sign_cases[] = {
    {"ES256", "ec-p256", "ec-p256-b"}, {"ES384", "ec-p384", NULL},
    {"PS256", "rsa3072", "rsa4096"},   {"PS384", "rsa3072", "rsa4096"},
    {"PS512", "rsa4096", "rsa3072"},
};

static const EVP_MD *md_of(kvs_sig_alg a)
{
    size_t n = kvs_sig_digest_len(a);
    return n == 32 ? EVP_sha256() : n == 48 ? EVP_sha384() : EVP_sha512();
}

/* r || s -> DER, written here (not through sign.c). */
static int raw_to_der(const uint8_t *raw, size_t len, unsigned char **der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(raw, (int)len / 2, NULL),
                   BN_bin2bn(raw + len / 2, (int)len / 2, NULL));
    int n = i2d_ECDSA_SIG(s, der);
    ECDSA_SIG_free(s);
    return n;
}

/* OpenSSL's message-level verification of a kvseal signature over msg:
 * ECDSA as DER, PSS with an explicit salt of the hash's length. */
static int openssl_verifies(EVP_PKEY *pub, kvs_sig_alg a, const uint8_t *msg, size_t mlen,
                            const uint8_t *sig, size_t slen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    int der_len = 0;
    ck_assert_int_eq(EVP_DigestVerifyInit(mctx, &pctx, md_of(a), NULL, pub), 1);
    if (!kvs_sig_alg_is_ec(a)) {
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)kvs_sig_digest_len(a)), 1);
    } else {
        der_len = raw_to_der(sig, slen, &der);
        sig = der;
        slen = (size_t)der_len;
    }
    int rc = EVP_DigestVerify(mctx, sig, slen, msg, mlen);
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    return rc == 1;
}

START_TEST(sign_verify_each_alg)
{
    kvs_sig_alg a = kvs_sig_alg_parse(sign_cases[_i].alg);
    EVP_PKEY *priv = kvs_test_pkey(sign_cases[_i].key);
    char pubname[64];
    snprintf(pubname, sizeof pubname, "%s.pub.pem", sign_cases[_i].key);
    EVP_PKEY *pub = pub_key(pubname);
    kvs_error err = {0};
    static const uint8_t msg[] = "kvseal signed statement";
    uint8_t d[KVS_SIG_DIGEST_MAX], sig[KVS_SIG_MAX_LEN + 1], sig2[KVS_SIG_MAX_LEN];
    size_t dlen = 0, slen = 0, slen2 = 0;
    ck_assert_int_eq(kvs_sig_digest(a, msg, sizeof msg, d, &dlen), KVS_OK);
    ck_assert_int_eq(kvs_sig_key_check(priv, a, &err), KVS_OK);
    ck_assert_int_eq(kvs_sig_sign_digest(priv, a, d, dlen, sig, KVS_SIG_MAX_LEN, &slen, &err),
                     KVS_OK);
    ck_assert_uint_eq(slen, kvs_sig_len(pub, a));
    ck_assert_uint_eq(slen, a == KVS_SIG_ES256 ? 64 : a == KVS_SIG_ES384 ? 96
                            : a == KVS_SIG_PS512 ? 512 : 384);
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen, &err), KVS_OK);
    ck_assert_int_eq(kvs_sig_verify_digest(priv, a, d, dlen, sig, slen, &err), KVS_OK);
    /* The bytes are what OpenSSL's own API accepts over the message. */
    ck_assert(openssl_verifies(pub, a, msg, sizeof msg, sig, slen));
    /* Randomised (ECDSA nonces, PSS salts): a second signature differs and verifies. */
    ck_assert_int_eq(kvs_sig_sign_digest(priv, a, d, dlen, sig2, KVS_SIG_MAX_LEN, &slen2, &err),
                     KVS_OK);
    ck_assert_uint_eq(slen2, slen);
    ck_assert_int_ne(memcmp(sig, sig2, slen), 0); /* not secret */
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig2, slen2, &err), KVS_OK);

    /* Tampered digest, tampered signature, wrong lengths. */
    d[0] ^= 1;
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen, &err), KVS_ERR_AUTH);
    d[0] ^= 1;
    sig[slen - 1] ^= 0x80;
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen, &err), KVS_ERR_AUTH);
    sig[slen - 1] ^= 0x80;
    sig[0] ^= 0x01;
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen, &err), KVS_ERR_AUTH);
    sig[0] ^= 0x01;
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen - 1, &err), KVS_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err.detail, "bytes"));
    sig[slen] = 0;
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen + 1, &err), KVS_ERR_AUTH);
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, 0, &err), KVS_ERR_AUTH);
    ck_assert_int_eq(kvs_sig_verify_digest(pub, a, d, dlen, sig, slen, &err), KVS_OK);
    /* A digest of another length is a caller bug, never a pass. */
    ck_assert_int_ne(kvs_sig_verify_digest(pub, a, d, dlen - 1, sig, slen, &err), KVS_OK);
    /* Another key of the same kind. */
    if (sign_cases[_i].other) {
        EVP_PKEY *other = kvs_test_pkey(sign_cases[_i].other);
        ck_assert_int_eq(kvs_sig_verify_digest(other, a, d, dlen, sig, slen, &err), KVS_ERR_AUTH);
        EVP_PKEY_free(other);
    }
    /* A signer's buffer too small is refused, not overrun. */
    ck_assert_int_ne(kvs_sig_sign_digest(priv, a, d, dlen, sig, slen - 1, &slen2, &err), KVS_OK);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
}
END_TEST

/* OpenSSL's own ECDSA signature (DER) over a message, as r || s, verifies. */
START_TEST(openssl_ecdsa_accepted)
{
    EVP_PKEY *priv = kvs_test_pkey("ec-p384");
    static const uint8_t msg[] = "made by OpenSSL";
    unsigned char der[128];
    size_t der_len = sizeof der;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestSignInit(mctx, NULL, EVP_sha384(), NULL, priv), 1);
    ck_assert_int_eq(EVP_DigestSign(mctx, der, &der_len, msg, sizeof msg), 1);
    EVP_MD_CTX_free(mctx);
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    uint8_t raw[96];
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 48), 48);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 48, 48), 48);
    ECDSA_SIG_free(s);
    uint8_t d[KVS_SIG_DIGEST_MAX];
    size_t dlen = 0;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_sig_digest(KVS_SIG_ES384, msg, sizeof msg, d, &dlen), KVS_OK);
    ck_assert_int_eq(kvs_sig_verify_digest(priv, KVS_SIG_ES384, d, dlen, raw, 96, &err), KVS_OK);
    /* s swapped with r is something else. */
    uint8_t swapped[96];
    memcpy(swapped, raw + 48, 48);
    memcpy(swapped + 48, raw, 48);
    ck_assert_int_eq(kvs_sig_verify_digest(priv, KVS_SIG_ES384, d, dlen, swapped, 96, &err),
                     KVS_ERR_AUTH);
    EVP_PKEY_free(priv);
}
END_TEST

/* r or s zero, equal to the order or all ones: each refused. */
START_TEST(ecdsa_bad_scalars)
{
    const char *keys[] = {"ec-p256", "ec-p384"};
    const char *orders[] = {ORDER_P256, ORDER_P384};
    kvs_sig_alg algs[] = {KVS_SIG_ES256, KVS_SIG_ES384};
    for (int k = 0; k < 2; k++) {
        EVP_PKEY *priv = kvs_test_pkey(keys[k]);
        kvs_error err = {0};
        uint8_t d[KVS_SIG_DIGEST_MAX], sig[96], bad[96], order[48];
        size_t dlen = 0, slen = 0, f = k == 0 ? 32 : 48;
        ck_assert_int_eq(kvs_test_unhex(orders[k], order, sizeof order), (long)f);
        ck_assert_int_eq(kvs_sig_digest(algs[k], (const uint8_t *)"m", 1, d, &dlen), KVS_OK);
        ck_assert_int_eq(kvs_sig_sign_digest(priv, algs[k], d, dlen, sig, sizeof sig, &slen, &err),
                         KVS_OK);
        ck_assert_uint_eq(slen, 2 * f);
        for (int half = 0; half < 2; half++) {
            for (int v = 0; v < 3; v++) {
                memcpy(bad, sig, slen);
                uint8_t *x = bad + half * f;
                if (v == 0) memset(x, 0, f);
                if (v == 1) memcpy(x, order, f);
                if (v == 2) memset(x, 0xff, f);
                ck_assert_int_eq(kvs_sig_verify_digest(priv, algs[k], d, dlen, bad, slen, &err),
                                 KVS_ERR_AUTH);
            }
        }
        memset(bad, 0, slen);
        ck_assert_int_eq(kvs_sig_verify_digest(priv, algs[k], d, dlen, bad, slen, &err),
                         KVS_ERR_AUTH);
        ck_assert_int_eq(kvs_sig_verify_digest(priv, algs[k], d, dlen, sig, slen, &err), KVS_OK);
        EVP_PKEY_free(priv);
    }
}
END_TEST

START_TEST(key_checks)
{
    EVP_PKEY *p256 = kvs_test_pkey("ec-p256"), *p384 = kvs_test_pkey("ec-p384");
    EVP_PKEY *r2048 = kvs_test_pkey("rsa2048-a"), *r3072 = kvs_test_pkey("rsa3072");
    EVP_PKEY *k1 = kvs_test_pkey("ec-secp256k1");
    kvs_error err = {0};
    ck_assert_int_eq(kvs_sig_default_alg(p256), KVS_SIG_ES256);
    ck_assert_int_eq(kvs_sig_default_alg(p384), KVS_SIG_ES384);
    ck_assert_int_eq(kvs_sig_default_alg(r3072), KVS_SIG_PS256);
    ck_assert_int_eq(kvs_sig_default_alg(k1), KVS_SIG_NONE);
    ck_assert_int_eq(kvs_sig_default_alg(NULL), KVS_SIG_NONE);
    /* Wrong curve for alg, wrong kind, too small. */
    ck_assert_int_eq(kvs_sig_key_check(p384, KVS_SIG_ES256, &err), KVS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err.detail, "P-256"));
    ck_assert_int_eq(kvs_sig_key_check(p256, KVS_SIG_ES384, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(k1, KVS_SIG_ES256, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(r3072, KVS_SIG_ES256, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(p256, KVS_SIG_PS256, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(r2048, KVS_SIG_PS256, &err), KVS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err.detail, "3072"));
    ck_assert_int_eq(kvs_sig_key_check(r3072, KVS_SIG_NONE, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(NULL, KVS_SIG_ES256, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_key_check(r3072, KVS_SIG_PS512, &err), KVS_OK);
    ck_assert_uint_eq(kvs_sig_len(p384, KVS_SIG_ES384), 96);
    ck_assert_uint_eq(kvs_sig_len(r3072, KVS_SIG_PS384), 384);
    ck_assert_uint_eq(kvs_sig_len(r3072, KVS_SIG_NONE), 0);
    /* Signing with a key that does not fit refuses too. */
    uint8_t d[32] = {0}, sig[KVS_SIG_MAX_LEN];
    size_t slen = 0;
    ck_assert_int_eq(kvs_sig_sign_digest(r2048, KVS_SIG_PS256, d, 32, sig, sizeof sig, &slen, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_sign_digest(p384, KVS_SIG_ES256, d, 32, sig, sizeof sig, &slen, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_sig_verify_digest(p384, KVS_SIG_ES256, d, 32, sig, 64, &err), KVS_ERR_KEY);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(r2048);
    EVP_PKEY_free(r3072);
    EVP_PKEY_free(k1);
}
END_TEST

START_TEST(spki_key_ids)
{
    char id[KVS_KEY_ID_LEN + 1];
    kvs_error err = {0};
    static const struct {
        const char *file, *id;
    } ids[] = {
        {"ec-p256.pub.pem", KEYID_P256},
        {"ec-p384.pub.pem", KEYID_P384},
        {"ec-p256-b.pub.pem", KEYID_P256B},
        /* A compressed point names the same key: the id is over the uncompressed form. */
        {"ec-p256-compressed.pub.pem", KEYID_P256},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        EVP_PKEY *k = pub_key(ids[i].file);
        ck_assert_int_eq(kvs_spki_key_id(k, id, &err), KVS_OK);
        ck_assert_str_eq(id, ids[i].id);
        EVP_PKEY_free(k);
    }
    EVP_PKEY *priv = kvs_test_pkey("ec-p256");
    ck_assert_int_eq(kvs_spki_key_id(priv, id, &err), KVS_OK);
    ck_assert_str_eq(id, KEYID_P256);
    EVP_PKEY_free(priv);
    /* RSA: the same id as the local RSA recipient's. */
    kvs_provider *p = kvs_test_key("rsa3072");
    EVP_PKEY *r = kvs_test_pkey("rsa3072");
    ck_assert_int_eq(kvs_spki_key_id(r, id, &err), KVS_OK);
    ck_assert_str_eq(id, kvs_rsa_provider_key_id(p));
    EVP_PKEY_free(r);
    kvs_provider_free(p);
}
END_TEST

static size_t ec_coord(EVP_PKEY *k, const char *param, uint8_t *out, size_t field)
{
    BIGNUM *bn = NULL;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    ck_assert_int_eq(BN_bn2binpad(bn, out, (int)field), (int)field);
    BN_free(bn);
    return field;
}

START_TEST(jwk_ec_roundtrip)
{
    const char *files[] = {"ec-p256.pub.pem", "ec-p384.pub.pem"};
    const char *crvs[] = {"P-256", "P-384"};
    const char *ids[] = {KEYID_P256, KEYID_P384};
    size_t fields[] = {32, 48};
    for (int i = 0; i < 2; i++) {
        EVP_PKEY *k = pub_key(files[i]);
        uint8_t x[49], y[49];
        size_t f = fields[i];
        ec_coord(k, OSSL_PKEY_PARAM_EC_PUB_X, x, f);
        ec_coord(k, OSSL_PKEY_PARAM_EC_PUB_Y, y, f);
        kvs_error err = {0};
        EVP_PKEY *back = kvs_ec_public_from_xy(crvs[i], x, f, y, f, &err);
        ck_assert_ptr_nonnull(back);
        char id[KVS_KEY_ID_LEN + 1];
        ck_assert_int_eq(kvs_spki_key_id(back, id, &err), KVS_OK);
        ck_assert_str_eq(id, ids[i]);
        EVP_PKEY_free(back);
        /* The other curve's name, a point off the curve, an over-long x. */
        ck_assert_ptr_null(kvs_ec_public_from_xy(crvs[1 - i], x, f, y, f, &err));
        ck_assert_int_eq(err.status, KVS_ERR_KEY);
        y[f - 1] ^= 1;
        ck_assert_ptr_null(kvs_ec_public_from_xy(crvs[i], x, f, y, f, &err));
        ck_assert_int_eq(err.status, KVS_ERR_KEY);
        y[f - 1] ^= 1;
        uint8_t longx[49] = {0};
        memcpy(longx + 1, x, f);
        ck_assert_ptr_null(kvs_ec_public_from_xy(crvs[i], longx, f + 1, y, f, &err));
        ck_assert_int_eq(err.status, KVS_ERR_KEY);
        ck_assert_ptr_null(kvs_ec_public_from_xy(crvs[i], x, 0, y, f, &err));
        EVP_PKEY_free(k);
    }
    kvs_error err = {0};
    uint8_t z[32] = {0};
    ck_assert_ptr_null(kvs_ec_public_from_xy("P-521", z, 32, z, 32, &err));
    ck_assert_int_eq(err.status, KVS_ERR_KEY);
    ck_assert_ptr_null(kvs_ec_public_from_xy(NULL, z, 32, z, 32, &err));
    /* The point at "infinity" as zeros is not a key. */
    ck_assert_ptr_null(kvs_ec_public_from_xy("P-256", z, 32, z, 32, &err));
}
END_TEST

/* A coordinate with a leading zero byte, given minimal (31 bytes), is
 * left-padded: keys are generated until one has such an x (1 in 256). */
START_TEST(jwk_ec_short_coordinate)
{
    for (int tries = 0; tries < 8192; tries++) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        ck_assert_ptr_nonnull(k);
        uint8_t x[32], y[32];
        ec_coord(k, OSSL_PKEY_PARAM_EC_PUB_X, x, 32);
        ec_coord(k, OSSL_PKEY_PARAM_EC_PUB_Y, y, 32);
        if (x[0] != 0) {
            EVP_PKEY_free(k);
            continue;
        }
        kvs_error err = {0};
        char id1[KVS_KEY_ID_LEN + 1], id2[KVS_KEY_ID_LEN + 1];
        EVP_PKEY *back = kvs_ec_public_from_xy("P-256", x + 1, 31, y, 32, &err);
        ck_assert_ptr_nonnull(back);
        ck_assert_int_eq(kvs_spki_key_id(k, id1, &err), KVS_OK);
        ck_assert_int_eq(kvs_spki_key_id(back, id2, &err), KVS_OK);
        ck_assert_str_eq(id1, id2);
        EVP_PKEY_free(back);
        EVP_PKEY_free(k);
        return;
    }
    ck_abort_msg("no P-256 key with a leading zero x in 8192 tries");
}
END_TEST

START_TEST(jwk_rsa)
{
    EVP_PKEY *k = kvs_test_pkey("rsa3072");
    BIGNUM *n = NULL, *e = NULL;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    uint8_t nb[384], eb[8];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    kvs_error err = {0};
    EVP_PKEY *back = kvs_rsa_public_from_ne(nb, (size_t)nl, eb, (size_t)el, &err);
    ck_assert_ptr_nonnull(back);
    char id1[KVS_KEY_ID_LEN + 1], id2[KVS_KEY_ID_LEN + 1];
    ck_assert_int_eq(kvs_spki_key_id(k, id1, &err), KVS_OK);
    ck_assert_int_eq(kvs_spki_key_id(back, id2, &err), KVS_OK);
    ck_assert_str_eq(id1, id2);
    /* It verifies what the private key signs. */
    uint8_t d[32] = {7}, sig[KVS_SIG_MAX_LEN];
    size_t slen = 0;
    ck_assert_int_eq(kvs_sig_sign_digest(k, KVS_SIG_PS256, d, 32, sig, sizeof sig, &slen, &err),
                     KVS_OK);
    ck_assert_int_eq(kvs_sig_verify_digest(back, KVS_SIG_PS256, d, 32, sig, slen, &err), KVS_OK);
    EVP_PKEY_free(back);
    uint8_t even[1] = {4}, one[1] = {1};
    ck_assert_ptr_null(kvs_rsa_public_from_ne(nb, (size_t)nl, even, 1, &err));
    ck_assert_int_eq(err.status, KVS_ERR_KEY);
    ck_assert_ptr_null(kvs_rsa_public_from_ne(nb, (size_t)nl, one, 1, &err));
    ck_assert_ptr_null(kvs_rsa_public_from_ne(nb, 0, eb, (size_t)el, &err));
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(k);
}
END_TEST

/* ---- signers --------------------------------------------------------------- */

static kvs_header *header_signed_by(const kvs_signer *s)
{
    kvs_header *h = kvs_header_new();
    snprintf(h->signer.type, sizeof h->signer.type, "%s", kvs_signer_type(s));
    snprintf(h->signer.id, sizeof h->signer.id, "%s", kvs_signer_id(s));
    snprintf(h->signer.alg, sizeof h->signer.alg, "%s", kvs_signer_alg(s));
    return h;
}

START_TEST(local_signer_signs_and_check_verifies)
{
    static const struct {
        const char *key, *alg, *want_alg, *pub;
        size_t sig_len;
    } cases[] = {
        {"ec-p256.pem", NULL, "ES256", "ec-p256.pub.pem", 64},
        {"ec-p384.pem", NULL, "ES384", "ec-p384.pub.pem", 96},
        {"ec-p384.pem", "ES384", "ES384", "ec-p384.pem", 96},
        {"rsa3072.pem", NULL, "PS256", "rsa3072.pub.pem", 384},
        {"rsa3072.pem", "PS384", "PS384", "rsa3072.pub.pem", 384},
        {"rsa4096.pem", "PS512", "PS512", "rsa4096.pub.pem", 512},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kvs_signer *s = NULL;
        kvs_signer_check *c = NULL;
        kvs_error err = {0};
        ck_assert_int_eq(kvs_local_signer_new(key_file(cases[i].key), cases[i].alg, &s, &err),
                         KVS_OK);
        ck_assert_str_eq(kvs_signer_type(s), "key");
        ck_assert_str_eq(kvs_signer_alg(s), cases[i].want_alg);
        ck_assert_uint_eq(kvs_signer_signatures(s), 0);
        static const uint8_t m[] = "the statement M";
        uint8_t sig[KVS_SIG_MAX_LEN];
        size_t slen = 0;
        ck_assert_int_eq(kvs_signer_sign_statement(s, m, sizeof m, sig, &slen, &err), KVS_OK);
        ck_assert_uint_eq(slen, cases[i].sig_len);
        ck_assert_uint_eq(kvs_signer_signatures(s), 1);

        ck_assert_int_eq(kvs_signer_check_pem(key_file(cases[i].pub), &c, &err), KVS_OK);
        ck_assert_str_eq(kvs_signer_check_name(c), kvs_signer_id(s));
        kvs_header *h = header_signed_by(s);
        EVP_PKEY *pub = NULL;
        ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_OK);
        ck_assert_ptr_nonnull(pub);
        ck_assert_int_eq(kvs_signature_verify(pub, h, m, sizeof m, sig, slen, &err), KVS_OK);
        ck_assert_int_eq(kvs_signature_verify(pub, h, m, sizeof m - 1, sig, slen, &err),
                         KVS_ERR_AUTH);
        sig[3] ^= 4;
        ck_assert_int_eq(kvs_signature_verify(pub, h, m, sizeof m, sig, slen, &err),
                         KVS_ERR_AUTH);
        ck_assert_ptr_nonnull(strstr(err.detail, kvs_signer_id(s)));
        EVP_PKEY_free(pub);
        kvs_header_free(h);
        kvs_signer_check_free(c);
        kvs_signer_free(s);
    }
    kvs_signer_free(NULL);
    kvs_signer_check_free(NULL);
}
END_TEST

START_TEST(local_signer_ids)
{
    kvs_signer *s = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pem"), NULL, &s, &err), KVS_OK);
    ck_assert_str_eq(kvs_signer_id(s), KEYID_P256);
    kvs_signer_free(s);
    kvs_signer_check *c = NULL;
    const char *same[] = {"ec-p256.pub.pem", "ec-p256.pem", "ec-p256-compressed.pub.pem"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(kvs_signer_check_pem(key_file(same[i]), &c, &err), KVS_OK);
        ck_assert_str_eq(kvs_signer_check_name(c), KEYID_P256);
        kvs_signer_check_free(c);
    }
}
END_TEST

START_TEST(local_signer_refusals)
{
    kvs_signer *s = NULL;
    kvs_error err = {0};
    /* RSA below 3072 bits: refused, saying why. */
    ck_assert_int_eq(kvs_local_signer_new(key_file("rsa2048-a.pem"), NULL, &s, &err),
                     KVS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err.detail, "3072"));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pem"), "ES384", &s, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pem"), "PS256", &s, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_local_signer_new(key_file("rsa3072.pem"), "ES256", &s, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pem"), "es256", &s, &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-secp256k1.pem"), NULL, &s, &err),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pub.pem"), NULL, &s, &err),
                     KVS_ERR_KEY);
    ck_assert_ptr_nonnull(strstr(err.detail, "public key"));
    ck_assert_int_eq(kvs_local_signer_new(key_file("no-such-key.pem"), NULL, &s, &err),
                     KVS_ERR_CONFIG);
    ck_assert_int_eq(kvs_local_signer_new(key_file("README.md"), NULL, &s, &err),
                     KVS_ERR_CONFIG);
    ck_assert_ptr_null(s);

    kvs_signer_check *c = NULL;
    ck_assert_int_eq(kvs_signer_check_pem(key_file("rsa2048-a.pub.pem"), &c, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_signer_check_pem(key_file("ec-secp256k1.pem"), &c, &err), KVS_ERR_KEY);
    ck_assert_int_eq(kvs_signer_check_pem(key_file("no-such-key.pem"), &c, &err), KVS_ERR_CONFIG);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(local_signer_passphrase)
{
    kvs_signer *s = NULL;
    kvs_error err = {0};
    unsetenv("KVSEAL_PASSPHRASE_FILE");
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256-enc.pem"), NULL, &s, &err),
                     KVS_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.detail, "encrypted"));
    /* rsa2048-enc.pass holds the same test passphrase, one line. */
    setenv("KVSEAL_PASSPHRASE_FILE", key_file("rsa2048-enc.pass"), 1);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256-enc.pem"), NULL, &s, &err), KVS_OK);
    ck_assert_str_eq(kvs_signer_id(s), KEYID_P256);
    kvs_signer_free(s);
    s = NULL;
    setenv("KVSEAL_PASSPHRASE_FILE", key_file("ec-p256.pub.pem"), 1); /* a wrong one */
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256-enc.pem"), NULL, &s, &err),
                     KVS_ERR_CONFIG);
    setenv("KVSEAL_PASSPHRASE_FILE", key_file("no-such.pass"), 1);
    ck_assert_int_eq(kvs_local_signer_new(key_file("ec-p256.pem"), NULL, &s, &err),
                     KVS_ERR_CONFIG);
    unsetenv("KVSEAL_PASSPHRASE_FILE");
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(required_signer_resolve)
{
    kvs_signer_check *c = NULL;
    kvs_error err = {0};
    EVP_PKEY *pub = NULL;
    ck_assert_int_eq(kvs_signer_check_pem(key_file("ec-p256.pub.pem"), &c, &err), KVS_OK);
    kvs_header *h = kvs_header_new();
    /* Unsigned. */
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_ERR_SIGNER);
    ck_assert_ptr_nonnull(strstr(err.detail, "not signed"));
    ck_assert_ptr_nonnull(strstr(err.detail, KEYID_P256));
    ck_assert_ptr_null(pub);
    /* Another local key. */
    snprintf(h->signer.type, sizeof h->signer.type, "key");
    snprintf(h->signer.id, sizeof h->signer.id, "%s", KEYID_P256B);
    snprintf(h->signer.alg, sizeof h->signer.alg, "ES256");
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_ERR_SIGNER);
    ck_assert_ptr_nonnull(strstr(err.detail, KEYID_P256B));
    ck_assert_ptr_nonnull(strstr(err.detail, KEYID_P256));
    ck_assert_ptr_null(pub);
    /* A Key Vault signer, even one whose id looked like ours. */
    snprintf(h->signer.type, sizeof h->signer.type, "azure-keyvault");
    snprintf(h->signer.id, sizeof h->signer.id, "%s", KEYID_P256);
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_ERR_SIGNER);
    /* Our key, but an alg it cannot make: a forgery. */
    snprintf(h->signer.type, sizeof h->signer.type, "key");
    snprintf(h->signer.alg, sizeof h->signer.alg, "ES384");
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_ERR_AUTH);
    ck_assert_ptr_null(pub);
    snprintf(h->signer.alg, sizeof h->signer.alg, "PS256");
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_ERR_AUTH);
    snprintf(h->signer.alg, sizeof h->signer.alg, "ES256");
    ck_assert_int_eq(kvs_signer_check_resolve(c, h, &pub, &err), KVS_OK);
    ck_assert_ptr_nonnull(pub);
    EVP_PKEY_free(pub);
    kvs_header_free(h);
    kvs_signer_check_free(c);
}
END_TEST

/* A signer whose sign op misbehaves never yields a signature. */
typedef struct fake_impl {
    int mode; /* 0: garbage of the right length, 1: short */
    int *destroyed;
} fake_impl;

static kvs_status fake_sign(void *impl, const uint8_t *digest, size_t dlen, uint8_t *sig,
                            size_t *sig_len, kvs_error *err)
{
    fake_impl *f = impl;
    (void)digest;
    (void)dlen;
    (void)err;
    memset(sig, 0x11, 64);
    *sig_len = f->mode == 0 ? 64 : 63;
    return KVS_OK;
}

static void fake_destroy(void *impl)
{
    fake_impl *f = impl;
    (*f->destroyed)++;
    free(f);
}

static const kvs_signer_ops fake_ops = {.sign = fake_sign, .destroy = fake_destroy};

static fake_impl *fake(int mode, int *destroyed)
{
    fake_impl *f = calloc(1, sizeof *f);
    f->mode = mode;
    f->destroyed = destroyed;
    return f;
}

START_TEST(faulty_signer_caught)
{
    int destroyed = 0;
    kvs_signer *s = NULL;
    kvs_error err = {0};
    uint8_t sig[KVS_SIG_MAX_LEN];
    size_t slen = 0;
    for (int mode = 0; mode < 2; mode++) {
        ck_assert_int_eq(kvs_signer_make(&fake_ops, fake(mode, &destroyed), KVS_SIGNER_KEYVAULT,
                                         "https://v.vault.azure.net/keys/s/1", KVS_SIG_ES256,
                                         kvs_test_pkey("ec-p256"), &s, &err),
                         KVS_OK);
        ck_assert_int_eq(kvs_signer_sign_statement(s, (const uint8_t *)"M", 1, sig, &slen, &err),
                         KVS_ERR_KEY);
        ck_assert_uint_eq(kvs_signer_signatures(s), 1);
        kvs_signer_free(s);
    }
    ck_assert_int_eq(destroyed, 2);
    /* Construction failures release what they were given. */
    ck_assert_int_eq(kvs_signer_make(&fake_ops, fake(0, &destroyed), KVS_SIGNER_KEY, KEYID_P256,
                                     KVS_SIG_PS256, kvs_test_pkey("rsa2048-a"), &s, &err),
                     KVS_ERR_KEY);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(kvs_signer_make(&fake_ops, fake(0, &destroyed), "rsa", KEYID_P256,
                                     KVS_SIG_ES256, kvs_test_pkey("ec-p256"), &s, &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_signer_make(&fake_ops, fake(0, &destroyed), KVS_SIGNER_KEY, "",
                                     KVS_SIG_ES256, kvs_test_pkey("ec-p256"), &s, &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(destroyed, 5);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("sign");
    TCase *tc = tcase_create("sign");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, alg_names);
    tcase_add_loop_test(tc, sign_verify_each_alg, 0,
                        (int)(sizeof sign_cases / sizeof sign_cases[0]));
    tcase_add_test(tc, openssl_ecdsa_accepted);
    tcase_add_test(tc, ecdsa_bad_scalars);
    tcase_add_test(tc, key_checks);
    tcase_add_test(tc, spki_key_ids);
    tcase_add_test(tc, jwk_ec_roundtrip);
    tcase_add_test(tc, jwk_ec_short_coordinate);
    tcase_add_test(tc, jwk_rsa);
    tcase_add_test(tc, local_signer_signs_and_check_verifies);
    tcase_add_test(tc, local_signer_ids);
    tcase_add_test(tc, local_signer_refusals);
    tcase_add_test(tc, local_signer_passphrase);
    tcase_add_test(tc, required_signer_resolve);
    tcase_add_test(tc, faulty_signer_caught);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(sign_suite());
}
