/* Reading a key from a PEM file into an EVP_PKEY: the file goes through
 * secure memory (it may hold a private key), encrypted private keys take a
 * passphrase (keys/pem_load.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/secmem.h"
#include "keys/pem_load.h"

#define PEM_MAX_BYTES (1024 * 1024)

/* Read a whole PEM file into secure memory (it may hold a private key). */
static kvs_status read_pem(const char *path, char **buf, size_t *len, kvs_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kvs_fail(err, KVS_ERR_CONFIG, "cannot open key %s: %s", path, strerror(errno));
    char *b = kvs_secure_alloc(PEM_MAX_BYTES + 1);
    if (!b) {
        close(fd);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    size_t got = 0;
    ssize_t r;
    while (got < PEM_MAX_BYTES && (r = read(fd, b + got, PEM_MAX_BYTES - got)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            kvs_secure_free(b, PEM_MAX_BYTES + 1);
            return kvs_fail(err, KVS_ERR_CONFIG, "cannot read key %s: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = got;
    return KVS_OK;
}

typedef struct pass_ctx {
    const char *passphrase;
    int asked;
} pass_ctx;

static int passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    pass_ctx *pc = u;
    pc->asked = 1;
    if (!pc->passphrase) return -1;
    size_t n = strlen(pc->passphrase);
    if (n > (size_t)size) return -1;
    memcpy(buf, pc->passphrase, n);
    return (int)n;
}

/* SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY"). */
static EVP_PKEY *decode_public(const char *pem, size_t len, const char *keytype)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, keytype,
                                                           EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *data = (const unsigned char *)pem;
    size_t left = len;
    if (dctx && OSSL_DECODER_from_data(dctx, &data, &left) != 1) pkey = NULL;
    OSSL_DECODER_CTX_free(dctx);
    return pkey;
}

static EVP_PKEY *decode_pem(const char *pem, size_t len, const char *passphrase,
                            const char *keytype, int *is_private, int *needed_pass)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = NULL;
    pass_ctx pc = {passphrase, 0};
    if (!bio) return NULL;
    *is_private = 0;
    if (strstr(pem, "-----BEGIN CERTIFICATE-----")) {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert) pkey = X509_get_pubkey(cert);
        X509_free(cert);
    } else if (strstr(pem, "PUBLIC KEY-----")) {
        pkey = decode_public(pem, len, keytype);
    } else if (strstr(pem, "PRIVATE KEY-----")) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, passphrase_cb, &pc);
        *is_private = 1;
    }
    *needed_pass = pc.asked;
    BIO_free(bio);
    return pkey;
}

kvs_status kvs_pem_load(const char *path, const char *passphrase, const char *keytype,
                        const char *what, EVP_PKEY **out, int *is_private, kvs_error *err)
{
    char *pem = NULL;
    size_t len = 0;
    int needed_pass = 0;
    kvs_status st = read_pem(path, &pem, &len, err);
    if (st != KVS_OK) return st;
    *out = decode_pem(pem, len, passphrase, keytype, is_private, &needed_pass);
    kvs_secure_free(pem, PEM_MAX_BYTES + 1);
    int oom = kvs_ossl_out_of_memory();
    if (*out) return KVS_OK;
    if (oom) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory loading %s", path);
    if (needed_pass && !passphrase)
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "%s is encrypted: give its passphrase with --passphrase-file or --passphrase-env",
                        path);
    if (needed_pass)
        return kvs_fail(err, KVS_ERR_CONFIG, "cannot decrypt %s: wrong passphrase?", path);
    return kvs_fail(err, KVS_ERR_CONFIG, "%s holds no PEM %s", path, what);
}

