/* Local RSA key provider: PEM public keys, certificates and private keys
 * (FORMAT.md §5, recipient type "rsa"). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/secmem.h"
#include "crypto/crypto.h"
#include "crypto/sign.h"
#include "keys/pem_load.h"
#include "kvseal/keys.h"

#define KEY_ID_LEN KVS_KEY_ID_LEN /* "sha256:" + 64 hex */

/* Immutable once loaded, and every operation uses its own EVP_PKEY_CTX over
 * the shared EVP_PKEY (which OpenSSL allows), so one provider serves many
 * threads at once (restores unwrap ahead in parallel). */
typedef struct rsa_key {
    EVP_PKEY *pkey;
    int has_private;
    char alg[16];
    char key_id[KEY_ID_LEN + 1];
    char ident[KEY_ID_LEN + 16];
} rsa_key;

static const kvs_provider_ops rsa_ops;

/* The key behind p, or NULL if p is not a local RSA provider. */
static rsa_key *as_rsa(const kvs_provider *p)
{
    return kvs_provider_impl(p, &rsa_ops);
}

static kvs_status rsa_wrap(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                           kvs_error *err)
{
    rsa_key *k = impl;
    kvs_oaep_hash h;
    if (kvs_oaep_hash_from_alg(k->alg, &h) != 0)
        return kvs_fail(err, KVS_ERR_INTERNAL, "unsupported wrap algorithm");
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "%s", KVS_RECIPIENT_RSA);
    snprintf(out->alg, sizeof out->alg, "%s", k->alg);
    snprintf(out->key_id, sizeof out->key_id, "%s", k->key_id);
    kvs_status st = kvs_rsa_oaep_encrypt(k->pkey, h, dek, KVS_DEK_LEN, out->wrapped,
                                         sizeof out->wrapped, &out->wrapped_len);
    if (st != KVS_OK) return kvs_fail(err, st, "RSA-OAEP wrap with %s failed", k->key_id);
    return KVS_OK;
}

static int rsa_matches(const void *impl, const kvs_recipient *r)
{
    const rsa_key *k = impl;
    return strcmp(r->type, KVS_RECIPIENT_RSA) == 0 && strcmp(r->key_id, k->key_id) == 0;
}

/* The 32-byte check on the result is kvs_provider_unwrap's, for every provider. */
static kvs_status rsa_unwrap(void *impl, const kvs_recipient *r, uint8_t *out, size_t out_cap,
                             size_t *out_len, kvs_error *err)
{
    rsa_key *k = impl;
    kvs_oaep_hash h;
    if (!k->has_private)
        return kvs_fail(err, KVS_ERR_KEY, "%s is a public key and cannot decrypt", k->key_id);
    if (kvs_oaep_hash_from_alg(r->alg, &h) != 0)
        return kvs_fail(err, KVS_ERR_FORMAT, "recipient uses a refused alg");
    kvs_status st = kvs_rsa_oaep_decrypt(k->pkey, h, r->wrapped, r->wrapped_len, out, out_cap,
                                         out_len);
    if (st != KVS_OK)
        return kvs_fail(err, KVS_ERR_KEY, "RSA key %s could not unwrap the data key", k->key_id);
    return KVS_OK;
}

static const char *rsa_identify(const void *impl)
{
    const rsa_key *k = impl;
    return k->ident;
}

static void rsa_destroy(void *impl)
{
    rsa_key *k = impl;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static const kvs_provider_ops rsa_ops = {
    .name = KVS_RECIPIENT_RSA,
    .wrap = rsa_wrap,
    .matches = rsa_matches,
    .unwrap = rsa_unwrap,
    .identify = rsa_identify,
    .destroy = rsa_destroy,
};

static kvs_status check_rsa_key(EVP_PKEY *pkey, const char *path, kvs_error *err)
{
    if (!EVP_PKEY_is_a(pkey, "RSA"))
        return kvs_fail(err, KVS_ERR_CONFIG, "%s is not an RSA key", path);
    if (EVP_PKEY_get_bits(pkey) < 2048)
        return kvs_fail(err, KVS_ERR_CONFIG, "%s is a %d-bit RSA key; at least 2048 bits are required",
                        path, EVP_PKEY_get_bits(pkey));
    return KVS_OK;
}

kvs_status kvs_rsa_provider_from_pem(const char *path, const char *passphrase, const char *alg,
                                     kvs_provider **out, kvs_error *err)
{
    kvs_oaep_hash h;
    *out = NULL;
    if (!alg) alg = KVS_ALG_OAEP_256;
    if (!path || kvs_oaep_hash_from_alg(alg, &h) != 0)
        return kvs_fail(err, KVS_ERR_USAGE, "RSA key: bad path or algorithm");
    rsa_key *k = calloc(1, sizeof *k);
    if (!k) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    snprintf(k->alg, sizeof k->alg, "%s", alg);
    kvs_status st = kvs_pem_load(path, passphrase, "RSA", "RSA key or certificate", &k->pkey,
                                 &k->has_private, err);
    if (st == KVS_OK) st = check_rsa_key(k->pkey, path, err);
    if (st == KVS_OK) st = kvs_spki_key_id(k->pkey, k->key_id, err); /* FORMAT.md §5 */
    if (st == KVS_OK) {
        snprintf(k->ident, sizeof k->ident, "rsa %s", k->key_id);
        st = kvs_provider_new(&rsa_ops, sizeof rsa_ops, k, out, err);
    }
    if (st != KVS_OK) rsa_destroy(k);
    return st;
}

const char *kvs_rsa_provider_key_id(const kvs_provider *p)
{
    const rsa_key *k = as_rsa(p);
    return k ? k->key_id : NULL;
}

/* Write a memory BIO's contents to a new file created with the given mode. */
static kvs_status write_new_file(const char *path, BIO *bio, mode_t mode, kvs_error *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return kvs_fail(err, errno == EEXIST ? KVS_ERR_EXISTS : KVS_ERR_IO, "cannot create %s: %s",
                        path, strerror(errno));
    size_t done = 0;
    while (len > 0 && done < (size_t)len) {
        ssize_t w = write(fd, data + done, (size_t)len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) break;
        done += (size_t)w;
    }
    int ok = len > 0 && done == (size_t)len && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        unlink(path);
        return kvs_fail(err, KVS_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return KVS_OK;
}

kvs_status kvs_rsa_keygen(unsigned bits, const char *path, const char *passphrase,
                          kvs_error *err)
{
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return kvs_fail(err, KVS_ERR_USAGE, "RSA key size must be 2048, 3072 or 4096 bits");
    EVP_PKEY *pkey = EVP_RSA_gen(bits);
    if (!pkey) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "RSA key generation");
    BIO *bio = BIO_new(BIO_s_secmem());
    if (!bio) bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL;
    if (ok && passphrase)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                           (void *)passphrase) == 1;
    else if (ok)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    EVP_PKEY_free(pkey);
    kvs_status st = ok ? write_new_file(path, bio, 0600, err)
                       : kvs_fail_ossl(err, KVS_ERR_CRYPTO, "encoding the private key");
    if (bio) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (data && len > 0) OPENSSL_cleanse(data, (size_t)len);
        BIO_free(bio);
    }
    return st;
}

kvs_status kvs_rsa_provider_export_public(const kvs_provider *p, const char *path,
                                          kvs_error *err)
{
    const rsa_key *k = as_rsa(p);
    if (!k || !path) return kvs_fail(err, KVS_ERR_USAGE, "export: not an RSA provider");
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || PEM_write_bio_PUBKEY(bio, k->pkey) != 1) {
        BIO_free(bio);
        return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "encoding the public key");
    }
    kvs_status st = write_new_file(path, bio, 0644, err);
    BIO_free(bio);
    return st;
}
