/* RSA-OAEP (RFC 8017) with MGF1 over the same hash and an empty label. */
#include "crypto/crypto.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "core/secmem.h"

int kvs_oaep_hash_from_alg(const char *alg, kvs_oaep_hash *out)
{
    if (alg == NULL || out == NULL) return -1;
    if (strcmp(alg, "RSA-OAEP-256") == 0) {
        *out = KVS_OAEP_SHA256;
        return 0;
    }
    if (strcmp(alg, "RSA-OAEP") == 0) {
        *out = KVS_OAEP_SHA1;
        return 0;
    }
    return -1; /* RSA1_5 and everything else */
}

static const char *kvs_oaep_md_name(kvs_oaep_hash h)
{
    return h == KVS_OAEP_SHA1 ? "SHA1" : "SHA256";
}

static size_t kvs_oaep_md_len(kvs_oaep_hash h)
{
    return h == KVS_OAEP_SHA1 ? 20 : 32;
}

static int kvs_oaep_hash_ok(kvs_oaep_hash h)
{
    return h == KVS_OAEP_SHA256 || h == KVS_OAEP_SHA1;
}

/* Modulus length in bytes of an RSA key, or 0 for any other key. */
static size_t kvs_rsa_modulus_len(EVP_PKEY *key)
{
    if (key == NULL || !EVP_PKEY_is_a(key, "RSA")) return 0;
    int size = EVP_PKEY_get_size(key);
    return size > 0 ? (size_t)size : 0;
}

/* Set OAEP padding with one hash for both OAEP and MGF1 (label: empty). */
static int kvs_oaep_configure(EVP_PKEY_CTX *ctx, kvs_oaep_hash h)
{
    const char *md = kvs_oaep_md_name(h);
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) > 0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) > 0;
}

kvs_status kvs_rsa_oaep_encrypt(EVP_PKEY *pub, kvs_oaep_hash h, const uint8_t *in,
                                size_t in_len, uint8_t *out, size_t out_cap,
                                size_t *out_len)
{
    if (in == NULL || out == NULL || out_len == NULL || !kvs_oaep_hash_ok(h))
        return KVS_ERR_USAGE;
    size_t k = kvs_rsa_modulus_len(pub);
    size_t hlen = kvs_oaep_md_len(h);
    /* RFC 8017 7.1.1: mLen <= k - 2hLen - 2; a smaller key cannot wrap it. */
    if (k < 2 * hlen + 2 || in_len > k - 2 * hlen - 2) return KVS_ERR_KEY;
    if (out_cap < k) return KVS_ERR_USAGE;

    kvs_status st = KVS_ERR_CRYPTO;
    size_t len = out_cap;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    if (ctx == NULL) {
        st = KVS_ERR_NOMEM;
    } else if (EVP_PKEY_encrypt_init(ctx) != 1 || !kvs_oaep_configure(ctx, h)) {
        st = KVS_ERR_KEY; /* e.g. a key that refuses encryption */
    } else if (EVP_PKEY_encrypt(ctx, out, &len, in, in_len) == 1 && len == k) {
        *out_len = len;
        st = KVS_OK;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return st;
}

/* Decrypt into tmp (k bytes). Every failure is the same 0: no padding oracle. */
static int kvs_oaep_decrypt_raw(EVP_PKEY *priv, kvs_oaep_hash h, const uint8_t *in,
                                size_t in_len, uint8_t *tmp, size_t k, size_t *len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    *len = k;
    int ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 && kvs_oaep_configure(ctx, h) &&
             EVP_PKEY_decrypt(ctx, tmp, len, in, in_len) == 1 && *len <= k;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

kvs_status kvs_rsa_oaep_decrypt(EVP_PKEY *priv, kvs_oaep_hash h, const uint8_t *in,
                                size_t in_len, uint8_t *out, size_t out_cap,
                                size_t *out_len)
{
    if (in == NULL || out == NULL || out_len == NULL || !kvs_oaep_hash_ok(h))
        return KVS_ERR_USAGE;
    size_t k = kvs_rsa_modulus_len(priv);
    /* RFC 8017 7.1.2 step 1: the ciphertext is exactly k bytes. */
    if (k == 0 || in_len != k) return KVS_ERR_KEY;

    /* OpenSSL wants room for k bytes; the plaintext may be a secret. */
    uint8_t *tmp = kvs_secure_alloc(k);
    if (tmp == NULL) return KVS_ERR_NOMEM;
    size_t len = 0;
    kvs_status st = KVS_ERR_KEY;
    if (kvs_oaep_decrypt_raw(priv, h, in, in_len, tmp, k, &len) && len <= out_cap) {
        memcpy(out, tmp, len);
        *out_len = len;
        st = KVS_OK;
    }
    kvs_secure_free(tmp, k);
    /* The error queue would tell which step failed. */
    ERR_clear_error();
    return st;
}
