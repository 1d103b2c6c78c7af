/* Signature algorithms of signed files (ES256/ES384, PS256/PS384/PS512) over
 * caller-computed digests, key checks, SPKI key ids and public keys from JWK
 * parts, through OpenSSL 3 EVP (crypto/sign.h). */
#include "crypto/sign.h"

#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/error.h"
#include "crypto/crypto.h"
#include "kvseal/sign.h"

#define KVS_RSA_SIGN_MIN_BITS 3072
#define KVS_RSA_SIGN_MAX_BITS (KVS_SIG_MAX_LEN * 8)
#define KVS_EC_FIELD_MAX 48
#define KVS_ECDSA_DER_MAX 256
#define KVS_RSA_PART_MAX 8192 /* bytes of n or e accepted at all */

static const struct {
    kvs_sig_alg alg;
    const char *name;
} kvs_sig_names[] = {
    {KVS_SIG_ES256, "ES256"}, {KVS_SIG_ES384, "ES384"}, {KVS_SIG_PS256, "PS256"},
    {KVS_SIG_PS384, "PS384"}, {KVS_SIG_PS512, "PS512"},
};

kvs_sig_alg kvs_sig_alg_parse(const char *name)
{
    if (name == NULL) return KVS_SIG_NONE;
    for (size_t i = 0; i < sizeof kvs_sig_names / sizeof kvs_sig_names[0]; i++)
        if (strcmp(name, kvs_sig_names[i].name) == 0) return kvs_sig_names[i].alg;
    return KVS_SIG_NONE;
}

const char *kvs_sig_alg_name(kvs_sig_alg alg)
{
    for (size_t i = 0; i < sizeof kvs_sig_names / sizeof kvs_sig_names[0]; i++)
        if (kvs_sig_names[i].alg == alg) return kvs_sig_names[i].name;
    return "none";
}

int kvs_sig_alg_is_ec(kvs_sig_alg alg)
{
    return alg == KVS_SIG_ES256 || alg == KVS_SIG_ES384;
}

size_t kvs_sig_digest_len(kvs_sig_alg alg)
{
    switch (alg) {
    case KVS_SIG_ES256:
    case KVS_SIG_PS256: return 32;
    case KVS_SIG_ES384:
    case KVS_SIG_PS384: return 48;
    case KVS_SIG_PS512: return 64;
    default: return 0;
    }
}

static const EVP_MD *kvs_sig_md(kvs_sig_alg alg)
{
    switch (kvs_sig_digest_len(alg)) {
    case 32: return EVP_sha256();
    case 48: return EVP_sha384();
    case 64: return EVP_sha512();
    default: return NULL;
    }
}

kvs_status kvs_sig_digest(kvs_sig_alg alg, const uint8_t *msg, size_t len,
                          uint8_t digest[KVS_SIG_DIGEST_MAX], size_t *dlen)
{
    const EVP_MD *md = kvs_sig_md(alg);
    unsigned int n = 0;
    if (md == NULL || (msg == NULL && len > 0)) return KVS_ERR_USAGE;
    static const uint8_t empty[1];
    if (EVP_Digest(msg ? msg : empty, len, digest, &n, md, NULL) != 1 ||
        n != kvs_sig_digest_len(alg)) {
        return kvs_ossl_out_of_memory() ? KVS_ERR_NOMEM : KVS_ERR_CRYPTO;
    }
    *dlen = n;
    return KVS_OK;
}

/* NID of an EC key's named curve, or NID_undef. */
static int kvs_ec_curve_nid(EVP_PKEY *key)
{
    char name[64];
    size_t len = 0;
    if (key == NULL || !EVP_PKEY_is_a(key, "EC")) return NID_undef;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                       &len) != 1) {
        ERR_clear_error();
        return NID_undef;
    }
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
    return nid;
}

static int kvs_alg_curve(kvs_sig_alg alg)
{
    return alg == KVS_SIG_ES256 ? NID_X9_62_prime256v1
           : alg == KVS_SIG_ES384 ? NID_secp384r1
                                  : NID_undef;
}

kvs_status kvs_sig_key_check(EVP_PKEY *key, kvs_sig_alg alg, kvs_error *err)
{
    const char *name = kvs_sig_alg_name(alg);
    if (key == NULL || kvs_sig_digest_len(alg) == 0)
        return kvs_fail(err, KVS_ERR_KEY, "no key or no signature algorithm");
    if (kvs_sig_alg_is_ec(alg)) {
        int nid = kvs_ec_curve_nid(key);
        if (EVP_PKEY_is_a(key, "RSA"))
            return kvs_fail(err, KVS_ERR_KEY, "%s needs an EC key, not an RSA key", name);
        if (nid != kvs_alg_curve(alg))
            return kvs_fail(err, KVS_ERR_KEY, "%s needs an EC key on %s", name,
                            alg == KVS_SIG_ES256 ? "P-256" : "P-384");
        return KVS_OK;
    }
    if (!EVP_PKEY_is_a(key, "RSA"))
        return kvs_fail(err, KVS_ERR_KEY, "%s needs an RSA key", name);
    int bits = EVP_PKEY_get_bits(key);
    if (bits < KVS_RSA_SIGN_MIN_BITS)
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s needs an RSA key of at least %d bits; this one has %d", name,
                        KVS_RSA_SIGN_MIN_BITS, bits);
    if (bits > KVS_RSA_SIGN_MAX_BITS)
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s: an RSA key of %d bits makes signatures over %d bytes", name, bits,
                        KVS_SIG_MAX_LEN);
    return KVS_OK;
}

kvs_sig_alg kvs_sig_default_alg(EVP_PKEY *key)
{
    if (key == NULL) return KVS_SIG_NONE;
    if (EVP_PKEY_is_a(key, "RSA")) return KVS_SIG_PS256;
    switch (kvs_ec_curve_nid(key)) {
    case NID_X9_62_prime256v1: return KVS_SIG_ES256;
    case NID_secp384r1: return KVS_SIG_ES384;
    default: return KVS_SIG_NONE;
    }
}

static size_t kvs_ec_field_len(kvs_sig_alg alg)
{
    return alg == KVS_SIG_ES256 ? 32 : alg == KVS_SIG_ES384 ? 48 : 0;
}

size_t kvs_sig_len(EVP_PKEY *key, kvs_sig_alg alg)
{
    if (kvs_sig_alg_is_ec(alg)) return 2 * kvs_ec_field_len(alg);
    if (kvs_sig_digest_len(alg) == 0 || key == NULL) return 0;
    int size = EVP_PKEY_get_size(key);
    return size > 0 ? (size_t)size : 0;
}

/* A context for alg over key, initialised for signing or verifying. */
static EVP_PKEY_CTX *kvs_sig_ctx(EVP_PKEY *key, kvs_sig_alg alg, int sign)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    const EVP_MD *md = kvs_sig_md(alg);
    int ok = ctx != NULL && md != NULL &&
             (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (ok && !kvs_sig_alg_is_ec(alg))
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* DER ECDSA-Sig-Value -> r || s, each left-padded to field bytes. */
static int kvs_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field, uint8_t *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    int ok = sig != NULL && p == der + der_len;
    if (ok) {
        const BIGNUM *r = NULL, *s = NULL;
        ECDSA_SIG_get0(sig, &r, &s);
        ok = BN_bn2binpad(r, out, (int)field) == (int)field &&
             BN_bn2binpad(s, out + field, (int)field) == (int)field;
    }
    ECDSA_SIG_free(sig);
    return ok;
}

/* r || s -> DER (OPENSSL_free), or NULL. */
static uint8_t *kvs_ecdsa_raw_to_der(const uint8_t *raw, size_t field, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)field, NULL);
    BIGNUM *s = BN_bin2bn(raw + field, (int)field, NULL);
    unsigned char *der = NULL;
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return NULL;
    }
    *der_len = i2d_ECDSA_SIG(sig, &der); /* sig owns r and s now */
    ECDSA_SIG_free(sig);
    if (*der_len <= 0) {
        OPENSSL_free(der);
        return NULL;
    }
    return der;
}

kvs_status kvs_sig_sign_digest(EVP_PKEY *priv, kvs_sig_alg alg, const uint8_t *digest,
                               size_t dlen, uint8_t *sig, size_t cap, size_t *sig_len,
                               kvs_error *err)
{
    kvs_status st = kvs_sig_key_check(priv, alg, err);
    if (st != KVS_OK) return st;
    size_t want = kvs_sig_len(priv, alg);
    if (dlen != kvs_sig_digest_len(alg) || want == 0 || cap < want)
        return kvs_fail(err, KVS_ERR_INTERNAL, "%s: bad digest or signature buffer",
                        kvs_sig_alg_name(alg));
    EVP_PKEY_CTX *ctx = kvs_sig_ctx(priv, alg, 1);
    if (ctx == NULL) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "setting up the signature");
    uint8_t der[KVS_ECDSA_DER_MAX];
    int ec = kvs_sig_alg_is_ec(alg);
    uint8_t *dst = ec ? der : sig;
    size_t len = ec ? sizeof der : cap;
    int ok = EVP_PKEY_sign(ctx, dst, &len, digest, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "signing");
    if (ec) {
        ok = kvs_ecdsa_der_to_raw(der, len, kvs_ec_field_len(alg), sig);
        if (!ok) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "encoding the ECDSA signature");
        len = want;
    }
    if (len != want)
        return kvs_fail(err, KVS_ERR_CRYPTO, "the signature has %zu bytes, not %zu", len, want);
    *sig_len = len;
    return KVS_OK;
}

kvs_status kvs_sig_verify_digest(EVP_PKEY *pub, kvs_sig_alg alg, const uint8_t *digest,
                                 size_t dlen, const uint8_t *sig, size_t sig_len, kvs_error *err)
{
    kvs_status st = kvs_sig_key_check(pub, alg, err);
    if (st != KVS_OK) return st;
    const char *name = kvs_sig_alg_name(alg);
    size_t want = kvs_sig_len(pub, alg);
    if (dlen != kvs_sig_digest_len(alg))
        return kvs_fail(err, KVS_ERR_INTERNAL, "%s: the digest has the wrong length", name);
    if (sig == NULL || sig_len != want)
        return kvs_fail(err, KVS_ERR_AUTH,
                        "signature verification failed: %s signatures have %zu bytes, not %zu",
                        name, want, sig_len);
    const uint8_t *check = sig;
    size_t check_len = sig_len;
    uint8_t *der = NULL;
    if (kvs_sig_alg_is_ec(alg)) {
        int der_len = 0;
        der = kvs_ecdsa_raw_to_der(sig, want / 2, &der_len);
        if (der == NULL) return kvs_fail_ossl(err, KVS_ERR_NOMEM, "decoding the signature");
        check = der;
        check_len = (size_t)der_len;
    }
    EVP_PKEY_CTX *ctx = kvs_sig_ctx(pub, alg, 0);
    int rc = ctx ? EVP_PKEY_verify(ctx, check, check_len, digest, dlen) : -1;
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    if (ctx == NULL) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "setting up the verification");
    if (rc != 1) {
        if (kvs_ossl_out_of_memory())
            return kvs_fail(err, KVS_ERR_NOMEM, "out of memory verifying a signature");
        return kvs_fail(err, KVS_ERR_AUTH, "signature verification failed (%s)", name);
    }
    return KVS_OK;
}

kvs_status kvs_spki_key_id(EVP_PKEY *key, char out[KVS_KEY_ID_LEN + 1], kvs_error *err)
{
    if (key == NULL) return kvs_fail(err, KVS_ERR_USAGE, "no key");
    EVP_PKEY *enc = key, *copy = NULL;
    if (EVP_PKEY_is_a(key, "EC")) {
        /* FORMAT.md: named curve, uncompressed point, whatever the PEM had. */
        copy = EVP_PKEY_dup(key);
        if (copy == NULL ||
            EVP_PKEY_set_utf8_string_param(copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1 ||
            EVP_PKEY_set_utf8_string_param(copy, OSSL_PKEY_PARAM_EC_ENCODING,
                                           OSSL_PKEY_EC_ENCODING_GROUP) != 1) {
            EVP_PKEY_free(copy);
            return kvs_fail_ossl(err, KVS_ERR_KEY, "encoding the EC public key");
        }
        enc = copy;
    }
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(enc, &der);
    EVP_PKEY_free(copy);
    if (der_len <= 0) return kvs_fail_ossl(err, KVS_ERR_KEY, "encoding the public key");
    uint8_t digest[32];
    kvs_status st = kvs_sha256(der, (size_t)der_len, digest);
    OPENSSL_free(der);
    if (st != KVS_OK) return kvs_fail(err, st, "hashing the public key failed");
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[digest[i] >> 4];
        out[8 + 2 * i] = hex[digest[i] & 15];
    }
    out[KVS_KEY_ID_LEN] = '\0';
    return KVS_OK;
}

/* v left-padded with zeros to width bytes; 0 if it is longer. */
static int kvs_fit(const uint8_t *v, size_t len, size_t width, uint8_t *out)
{
    if (len > width) return 0;
    memset(out, 0, width - len);
    if (len > 0) memcpy(out + (width - len), v, len);
    return 1;
}

EVP_PKEY *kvs_ec_public_from_xy(const char *crv, const uint8_t *x, size_t xlen,
                                const uint8_t *y, size_t ylen, kvs_error *err)
{
    const char *group = NULL;
    size_t field = 0;
    if (crv != NULL && strcmp(crv, "P-256") == 0) {
        group = SN_X9_62_prime256v1;
        field = 32;
    } else if (crv != NULL && strcmp(crv, "P-384") == 0) {
        group = SN_secp384r1;
        field = 48;
    } else {
        kvs_fail(err, KVS_ERR_KEY, "EC curve '%.16s' is not P-256 or P-384",
                 crv ? crv : "(none)");
        return NULL;
    }
    uint8_t point[1 + 2 * KVS_EC_FIELD_MAX];
    point[0] = 0x04;
    if (x == NULL || y == NULL || xlen == 0 || ylen == 0 || !kvs_fit(x, xlen, field, point + 1) ||
        !kvs_fit(y, ylen, field, point + 1 + field)) {
        kvs_fail(err, KVS_ERR_KEY, "the %s key's x or y has the wrong length", crv);
        return NULL;
    }
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    EVP_PKEY *key = NULL;
    int ok = bld != NULL &&
             OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                              1 + 2 * field) &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
             (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
             EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
             (check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) != NULL &&
             EVP_PKEY_public_check(check) == 1;
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    if (!ok) {
        EVP_PKEY_free(key);
        kvs_fail_ossl(err, KVS_ERR_KEY, "the EC key's point is not on its curve");
        return NULL;
    }
    return key;
}

EVP_PKEY *kvs_rsa_public_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
                                 kvs_error *err)
{
    if (n == NULL || e == NULL || nlen == 0 || elen == 0 || nlen > KVS_RSA_PART_MAX ||
        elen > KVS_RSA_PART_MAX) {
        kvs_fail(err, KVS_ERR_KEY, "the key's modulus or exponent is unusable");
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    int ok = bn && be && bld && BN_is_odd(be) && !BN_is_one(be) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
             (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
             EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    if (!ok) {
        EVP_PKEY_free(key);
        kvs_fail_ossl(err, KVS_ERR_KEY, "the key's modulus or exponent is unusable");
        return NULL;
    }
    return key;
}
