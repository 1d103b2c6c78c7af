/* HKDF-SHA256, HMAC-SHA256 and SHA-256 through OpenSSL 3 providers. The
 * algorithm objects are fetched on first use and shared (they are read-only
 * and thread-safe after fetching). A fetch that failed (out of memory) is
 * tried again on the next call, so a long-running process recovers. */
#include "crypto/crypto.h"

#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#define KVS_SHA256_LEN 32

static pthread_mutex_t kvs_kdf_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_KDF *kvs_hkdf_alg;
static EVP_MAC *kvs_hmac_alg;
static EVP_MD *kvs_sha256_alg;

/* Non-zero once all three are fetched; the lock orders the pointers' writes
 * before their reads in every caller. */
static int kvs_kdf_ready(void)
{
    pthread_mutex_lock(&kvs_kdf_lock);
    if (!kvs_hkdf_alg) kvs_hkdf_alg = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kvs_hmac_alg) kvs_hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!kvs_sha256_alg) kvs_sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    int ready = kvs_hkdf_alg && kvs_hmac_alg && kvs_sha256_alg;
    pthread_mutex_unlock(&kvs_kdf_lock);
    if (!ready) ERR_clear_error();
    return ready;
}

/* OSSL_PARAM wants non-const pointers for inputs it only reads. */
static void *kvs_unconst(const void *p)
{
    static const uint8_t empty[1];
    return (void *)(uintptr_t)(p != NULL ? p : empty);
}

kvs_status kvs_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                           size_t salt_len, const uint8_t *info, size_t info_len,
                           uint8_t *out, size_t out_len)
{
    if ((ikm == NULL && ikm_len > 0) || (salt == NULL && salt_len > 0) ||
        (info == NULL && info_len > 0) || out == NULL || out_len == 0 ||
        out_len > (size_t)255 * KVS_SHA256_LEN)
        return KVS_ERR_USAGE;
    if (!kvs_kdf_ready()) return KVS_ERR_CRYPTO;

    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, kvs_unconst(ikm), ikm_len);
    /* An absent salt means HashLen zero bytes (RFC 5869), which is OpenSSL's default. */
    if (salt_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                        kvs_unconst(salt), salt_len);
    if (info_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                        kvs_unconst(info), info_len);
    params[i] = OSSL_PARAM_construct_end();

    kvs_status st = KVS_ERR_CRYPTO;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kvs_hkdf_alg);
    if (kctx == NULL)
        st = KVS_ERR_NOMEM;
    else if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
        st = KVS_OK;
    EVP_KDF_CTX_free(kctx); /* clears its copy of ikm */
    if (st != KVS_OK) {
        OPENSSL_cleanse(out, out_len);
        ERR_clear_error();
    }
    return st;
}

kvs_status kvs_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                           size_t data_len, uint8_t out[32])
{
    if ((key == NULL && key_len > 0) || (data == NULL && data_len > 0) || out == NULL)
        return KVS_ERR_USAGE;
    if (!kvs_kdf_ready()) return KVS_ERR_CRYPTO;

    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    kvs_status st = KVS_ERR_CRYPTO;
    size_t out_len = 0;
    EVP_MAC_CTX *mctx = EVP_MAC_CTX_new(kvs_hmac_alg);
    if (mctx == NULL) {
        st = KVS_ERR_NOMEM;
    } else if (EVP_MAC_init(mctx, kvs_unconst(key), key_len, params) == 1 &&
               EVP_MAC_update(mctx, kvs_unconst(data), data_len) == 1 &&
               EVP_MAC_final(mctx, out, &out_len, KVS_SHA256_LEN) == 1 &&
               out_len == KVS_SHA256_LEN) {
        st = KVS_OK;
    }
    EVP_MAC_CTX_free(mctx);
    if (st != KVS_OK) {
        OPENSSL_cleanse(out, KVS_SHA256_LEN);
        ERR_clear_error();
    }
    return st;
}

kvs_status kvs_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    if ((data == NULL && len > 0) || out == NULL) return KVS_ERR_USAGE;
    if (!kvs_kdf_ready()) return KVS_ERR_CRYPTO;
    unsigned int out_len = 0;
    if (EVP_Digest(kvs_unconst(data), len, out, &out_len, kvs_sha256_alg, NULL) != 1 ||
        out_len != KVS_SHA256_LEN) {
        ERR_clear_error();
        return KVS_ERR_CRYPTO;
    }
    return KVS_OK;
}
