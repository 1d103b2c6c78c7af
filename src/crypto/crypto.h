/* Thin, checked wrappers over OpenSSL 3 EVP for the primitives kvseal uses. */
#ifndef KVS_CRYPTO_H
#define KVS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "kvseal/status.h"

/* ---- AES-256-GCM ------------------------------------------------------ */

/* A cipher context keyed once with a 32-byte key, reused for many messages
 * (one per worker thread). Not thread-safe. */
typedef struct kvs_gcm kvs_gcm;

kvs_gcm *kvs_gcm_new(const uint8_t key[32]);
void kvs_gcm_free(kvs_gcm *g); /* wipes the key schedule; NULL is a no-op */

/* Encrypt n bytes (ct may equal pt) and write a tag of tag_len (4..16) bytes.
 * iv_len >= 1 (kvseal uses 12; NIST vectors use others). */
kvs_status kvs_gcm_seal(kvs_gcm *g, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                        size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                        uint8_t *tag, size_t tag_len);

/* Decrypt and verify. KVS_ERR_AUTH if the tag does not verify, in which case
 * pt is wiped. pt may equal ct. */
kvs_status kvs_gcm_open(kvs_gcm *g, const uint8_t *iv, size_t iv_len, const uint8_t *aad,
                        size_t aad_len, const uint8_t *ct, size_t n, const uint8_t *tag,
                        size_t tag_len, uint8_t *pt);

/* ---- HKDF and HMAC (SHA-256) ----------------------------------------- */

kvs_status kvs_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
                           size_t salt_len, const uint8_t *info, size_t info_len,
                           uint8_t *out, size_t out_len);

kvs_status kvs_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                           size_t data_len, uint8_t out[32]);

kvs_status kvs_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* ---- storage service digests (crypto/digest.c) ------------------------ */

/* Standard base64 with padding, NUL-terminated; cap >= 4 * ceil(n / 3) + 1.
 * Returns 0, or -1 if out is too small. */
int kvs_b64_std_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* MD5 of data, base64 (24 characters + NUL): Content-MD5. */
kvs_status kvs_md5_b64(const uint8_t *data, size_t len, char out[25]);

/* ---- RSA-OAEP -------------------------------------------------------- */

typedef enum kvs_oaep_hash { KVS_OAEP_SHA256, KVS_OAEP_SHA1 } kvs_oaep_hash;

/* Map "RSA-OAEP-256" / "RSA-OAEP" to the hash; -1 for anything else
 * (including RSA1_5, which kvseal never accepts). */
int kvs_oaep_hash_from_alg(const char *alg, kvs_oaep_hash *out);

/* OAEP with MGF1 of the same hash and an empty label. */
kvs_status kvs_rsa_oaep_encrypt(EVP_PKEY *pub, kvs_oaep_hash h, const uint8_t *in,
                                size_t in_len, uint8_t *out, size_t out_cap,
                                size_t *out_len);
/* KVS_ERR_KEY when decryption fails (wrong key or damaged ciphertext); the
 * error carries no detail that would act as a padding oracle. */
kvs_status kvs_rsa_oaep_decrypt(EVP_PKEY *priv, kvs_oaep_hash h, const uint8_t *in,
                                size_t in_len, uint8_t *out, size_t out_cap,
                                size_t *out_len);

/* ---- Random ----------------------------------------------------------- */

/* Secret randomness (RAND_priv_bytes) for DEKs; public randomness for salts. */
kvs_status kvs_random_secret(uint8_t *out, size_t len);
kvs_status kvs_random_public(uint8_t *out, size_t len);

#endif
