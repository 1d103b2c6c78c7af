/* AES-256-GCM over one reusable EVP context per kvs_gcm.
 *
 * The key schedule is set once; each message re-initialises only the IV,
 * which is cheap enough to run per chunk. The IV length is changed only when
 * it differs from the previous message (kvseal always uses 12 bytes). */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#define KVS_GCM_IV_MAX 128  /* OpenSSL's GCM_IV_MAX_SIZE (1024 bits) */
#define KVS_GCM_TAG_MIN 4
#define KVS_GCM_TAG_MAX 16
/* EVP takes int lengths; feed big buffers in block-aligned pieces. */
#define KVS_GCM_PIECE ((size_t)INT_MAX & ~(size_t)15)

struct kvs_gcm {
    EVP_CIPHER_CTX *ctx;
    size_t iv_len; /* IV length the context is currently set up for */
};

static pthread_mutex_t kvs_gcm_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_CIPHER *kvs_gcm_cipher;

/* Fetched on first use and shared; a failed fetch (out of memory) is tried
 * again by the next caller instead of disabling GCM for the process. */
static const EVP_CIPHER *kvs_gcm_get_cipher(void)
{
    pthread_mutex_lock(&kvs_gcm_lock);
    if (!kvs_gcm_cipher) kvs_gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    const EVP_CIPHER *c = kvs_gcm_cipher;
    pthread_mutex_unlock(&kvs_gcm_lock);
    if (!c) ERR_clear_error();
    return c;
}

kvs_gcm *kvs_gcm_new(const uint8_t key[32])
{
    const EVP_CIPHER *cipher = kvs_gcm_get_cipher();
    if (key == NULL || cipher == NULL) return NULL;
    kvs_gcm *g = calloc(1, sizeof(*g));
    if (g == NULL) return NULL;
    g->ctx = EVP_CIPHER_CTX_new();
    if (g->ctx == NULL || EVP_CipherInit_ex2(g->ctx, cipher, key, NULL, 1, NULL) != 1) {
        ERR_clear_error();
        kvs_gcm_free(g);
        return NULL;
    }
    g->iv_len = 12;
    return g;
}

void kvs_gcm_free(kvs_gcm *g)
{
    if (g == NULL) return;
    EVP_CIPHER_CTX_free(g->ctx); /* cleanses the key schedule */
    free(g);
}

static int kvs_gcm_args_ok(const kvs_gcm *g, const uint8_t *iv, size_t iv_len,
                           const uint8_t *aad, size_t aad_len, const uint8_t *in,
                           const uint8_t *out, size_t n, const uint8_t *tag, size_t tag_len)
{
    if (g == NULL || iv == NULL || tag == NULL) return 0;
    if (iv_len == 0 || iv_len > KVS_GCM_IV_MAX) return 0;
    if (tag_len < KVS_GCM_TAG_MIN || tag_len > KVS_GCM_TAG_MAX) return 0;
    if (aad == NULL && aad_len > 0) return 0;
    if ((in == NULL || out == NULL) && n > 0) return 0;
    return 1;
}

/* Start a message: set the direction and IV, keep the key. */
static int kvs_gcm_start(kvs_gcm *g, const uint8_t *iv, size_t iv_len, int enc)
{
    if (iv_len != g->iv_len) {
        if (EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) != 1)
            return 0;
        g->iv_len = iv_len;
    }
    return EVP_CipherInit_ex2(g->ctx, NULL, NULL, iv, enc, NULL) == 1;
}

static int kvs_gcm_aad(kvs_gcm *g, const uint8_t *aad, size_t aad_len)
{
    while (aad_len > 0) {
        size_t piece = aad_len < KVS_GCM_PIECE ? aad_len : KVS_GCM_PIECE;
        int outl = 0;
        if (EVP_CipherUpdate(g->ctx, NULL, &outl, aad, (int)piece) != 1) return 0;
        aad += piece;
        aad_len -= piece;
    }
    return 1;
}

/* GCM is a stream mode: every update writes exactly as many bytes as it reads. */
static int kvs_gcm_data(kvs_gcm *g, const uint8_t *in, size_t n, uint8_t *out)
{
    while (n > 0) {
        size_t piece = n < KVS_GCM_PIECE ? n : KVS_GCM_PIECE;
        int outl = 0;
        if (EVP_CipherUpdate(g->ctx, out, &outl, in, (int)piece) != 1) return 0;
        if (outl != (int)piece) return 0;
        in += piece;
        out += piece;
        n -= piece;
    }
    return 1;
}

static int kvs_gcm_final(kvs_gcm *g)
{
    uint8_t dummy[16];
    int outl = 0;
    return EVP_CipherFinal_ex(g->ctx, dummy, &outl) == 1 && outl == 0;
}

kvs_status kvs_gcm_seal(kvs_gcm *g, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                        size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                        uint8_t *tag, size_t tag_len)
{
    if (!kvs_gcm_args_ok(g, iv, iv_len, aad, aad_len, pt, ct, n, tag, tag_len))
        return KVS_ERR_USAGE;
    if (kvs_gcm_start(g, iv, iv_len, 1) && kvs_gcm_aad(g, aad, aad_len) &&
        kvs_gcm_data(g, pt, n, ct) && kvs_gcm_final(g) &&
        EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len, tag) == 1)
        return KVS_OK;
    ERR_clear_error();
    return KVS_ERR_CRYPTO;
}

kvs_status kvs_gcm_open(kvs_gcm *g, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                        size_t aad_len, const uint8_t *ct, size_t n, const uint8_t *tag,
                        size_t tag_len, uint8_t *pt)
{
    if (!kvs_gcm_args_ok(g, iv, iv_len, aad, aad_len, ct, pt, n, tag, tag_len))
        return KVS_ERR_USAGE;
    /* The ctrl wants a writable buffer; tags are public, a copy is fine. */
    uint8_t tag_copy[KVS_GCM_TAG_MAX];
    memcpy(tag_copy, tag, tag_len);

    kvs_status st = KVS_ERR_CRYPTO;
    if (kvs_gcm_start(g, iv, iv_len, 0) &&
        EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag_copy) == 1 &&
        kvs_gcm_aad(g, aad, aad_len) && kvs_gcm_data(g, ct, n, pt)) {
        st = kvs_gcm_final(g) ? KVS_OK : KVS_ERR_AUTH;
    }
    if (st != KVS_OK) {
        /* Unauthenticated plaintext must never reach the caller. */
        if (n > 0) OPENSSL_cleanse(pt, n);
        ERR_clear_error();
    }
    return st;
}
