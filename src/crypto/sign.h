/* Internal: signature algorithms of signed files (FORMAT.md "Signed files"):
 * ES256/ES384 (ECDSA, signatures as raw r || s) and PS256/PS384/PS512
 * (RSASSA-PSS, MGF1 with the same hash, salt length = hash length), over a
 * digest computed by the caller, through OpenSSL 3 EVP. */
#ifndef KVS_CRYPTO_SIGN_H
#define KVS_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "kvseal/status.h"

typedef enum kvs_sig_alg {
    KVS_SIG_NONE = 0,
    KVS_SIG_ES256,
    KVS_SIG_ES384,
    KVS_SIG_PS256,
    KVS_SIG_PS384,
    KVS_SIG_PS512
} kvs_sig_alg;

#define KVS_SIG_DIGEST_MAX 64

/* "ES256" ... "PS512" (exact, case-sensitive); KVS_SIG_NONE otherwise. */
kvs_sig_alg kvs_sig_alg_parse(const char *name);
const char *kvs_sig_alg_name(kvs_sig_alg alg);
int kvs_sig_alg_is_ec(kvs_sig_alg alg);
/* Bytes of alg's hash: 32, 48 or 64. */
size_t kvs_sig_digest_len(kvs_sig_alg alg);

/* digest = alg's hash of msg; *dlen receives kvs_sig_digest_len(alg). */
kvs_status kvs_sig_digest(kvs_sig_alg alg, const uint8_t *msg, size_t len,
                          uint8_t digest[KVS_SIG_DIGEST_MAX], size_t *dlen);

/* The key can make or check alg's signatures: EC on P-256 for ES256, P-384
 * for ES384; RSA of at least 3072 bits for PS*. KVS_ERR_KEY naming why. */
kvs_status kvs_sig_key_check(EVP_PKEY *key, kvs_sig_alg alg, kvs_error *err);

/* The default alg for a key: ES256 (P-256), ES384 (P-384), PS256 (RSA);
 * KVS_SIG_NONE for any other key. */
kvs_sig_alg kvs_sig_default_alg(EVP_PKEY *key);

/* Length of every signature the key makes with alg: 64 (ES256), 96
 * (ES384), the modulus bytes (PS*). */
size_t kvs_sig_len(EVP_PKEY *key, kvs_sig_alg alg);

/* Sign a digest with a private key; sig receives kvs_sig_len bytes (ES*:
 * r || s, each left-padded to the curve's size). cap >= that length. */
kvs_status kvs_sig_sign_digest(EVP_PKEY *priv, kvs_sig_alg alg, const uint8_t *digest,
                               size_t dlen, uint8_t *sig, size_t cap, size_t *sig_len,
                               kvs_error *err);

/* Verify; KVS_ERR_AUTH if the signature does not verify or has the wrong
 * length (ES*: r or s zero or not below the order counts as not verifying). */
kvs_status kvs_sig_verify_digest(EVP_PKEY *pub, kvs_sig_alg alg, const uint8_t *digest,
                                 size_t dlen, const uint8_t *sig, size_t sig_len, kvs_error *err);

/* "sha256:" + lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (EC:
 * named curve, uncompressed point). out has room for 72 bytes. */
#define KVS_KEY_ID_LEN 71
kvs_status kvs_spki_key_id(EVP_PKEY *key, char out[KVS_KEY_ID_LEN + 1], kvs_error *err);

/* Public keys from a JWK's parts (Key Vault's GET key): EC crv "P-256" /
 * "P-384" with big-endian x and y (left-padded to the field size as needed);
 * RSA n and e. NULL (with err) when invalid (a point not on the curve). */
EVP_PKEY *kvs_ec_public_from_xy(const char *crv, const uint8_t *x, size_t xlen,
                                const uint8_t *y, size_t ylen, kvs_error *err);
EVP_PKEY *kvs_rsa_public_from_ne(const uint8_t *n, size_t nlen, const uint8_t *e,
                                 size_t elen, kvs_error *err);

#endif
