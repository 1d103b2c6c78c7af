/* Key providers: the only thing the format and stream engine know about keys.
 *
 * A provider wraps a 32-byte data key (DEK) into a recipient record and unwraps
 * recipient records it recognises. Local RSA PEM keys and Azure Key Vault keys
 * are providers. The local RSA and Key Vault providers may be used from several
 * threads at once (wrap, unwrap); for others, use one per thread or guard it. */
#ifndef KVSEAL_KEYS_H
#define KVSEAL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVS_DEK_LEN 32
#define KVS_MAX_WRAPPED_LEN 1024 /* RSA up to 8192 bits */
#define KVS_MAX_KEY_ID_LEN 1024  /* a Key Vault kid URL or "sha256:<64 hex>" */

#define KVS_RECIPIENT_RSA "rsa"
#define KVS_RECIPIENT_AZURE "azure-keyvault"
#define KVS_ALG_OAEP_256 "RSA-OAEP-256"
#define KVS_ALG_OAEP_SHA1 "RSA-OAEP"

/* One entry of the header's `recipients` array (FORMAT.md section 5).
 * key_id holds `kid` for azure-keyvault and `key_id` for rsa recipients. */
typedef struct kvs_recipient {
    char type[32];
    char alg[16];
    char key_id[KVS_MAX_KEY_ID_LEN + 1];
    uint8_t wrapped[KVS_MAX_WRAPPED_LEN];
    size_t wrapped_len;
} kvs_recipient;

typedef struct kvs_provider kvs_provider;

typedef struct kvs_provider_ops {
    const char *name; /* "rsa", "azure-keyvault" */
    /* Wrap dek into *out (type, alg, key_id, wrapped). */
    kvs_status (*wrap)(kvs_provider *p, const uint8_t dek[KVS_DEK_LEN],
                       kvs_recipient *out, kvs_error *err);
    /* Non-zero if this provider is the key that recipient r names. */
    int (*matches)(const kvs_provider *p, const kvs_recipient *r);
    /* Unwrap r into dek. A value that is not exactly 32 bytes is wiped and
     * reported as KVS_ERR_AUTH (FORMAT.md §5: it counts as a failed header tag). */
    kvs_status (*unwrap)(kvs_provider *p, const kvs_recipient *r,
                         uint8_t dek[KVS_DEK_LEN], kvs_error *err);
    /* Human-readable identity for messages ("rsa sha256:ab12…", a kid URL). */
    const char *(*identify)(const kvs_provider *p);
    void (*destroy)(kvs_provider *p);
} kvs_provider_ops;

struct kvs_provider {
    const kvs_provider_ops *ops;
    void *impl;
};

KVS_API kvs_status kvs_provider_wrap(kvs_provider *p, const uint8_t dek[KVS_DEK_LEN],
                                     kvs_recipient *out, kvs_error *err);
KVS_API int kvs_provider_matches(const kvs_provider *p, const kvs_recipient *r);
KVS_API kvs_status kvs_provider_unwrap(kvs_provider *p, const kvs_recipient *r,
                                       uint8_t dek[KVS_DEK_LEN], kvs_error *err);
KVS_API const char *kvs_provider_identify(const kvs_provider *p);
/* kvs_provider_free(NULL) is a no-op. */
KVS_API void kvs_provider_free(kvs_provider *p);

/* Local RSA key from a PEM file: a public key (SubjectPublicKeyInfo or PKCS#1),
 * a certificate, or a private key (PKCS#8, traditional, or encrypted PKCS#8).
 * passphrase (NUL-terminated, may be NULL) decrypts an encrypted private key;
 * callers keep it in secure memory. A public key or certificate can only wrap.
 * Keys below 2048 bits are refused. Wrapping uses alg (NULL = RSA-OAEP-256). */
KVS_API kvs_status kvs_rsa_provider_from_pem(const char *path, const char *passphrase,
                                             const char *alg, kvs_provider **out,
                                             kvs_error *err);

/* Generate an RSA private key (bits: 2048, 3072 or 4096) to a new PEM file
 * created with mode 0600; refuses an existing path. passphrase may be NULL. */
KVS_API kvs_status kvs_rsa_keygen(unsigned bits, const char *path, const char *passphrase,
                                  kvs_error *err);

/* Write the public half of an RSA provider's key as a SubjectPublicKeyInfo PEM
 * to a new file (mode 0644); refuses an existing path. */
KVS_API kvs_status kvs_rsa_provider_export_public(const kvs_provider *p, const char *path,
                                                  kvs_error *err);

/* "sha256:<hex>" key id of the key in a provider made by kvs_rsa_provider_from_pem. */
KVS_API const char *kvs_rsa_provider_key_id(const kvs_provider *p);

#ifdef __cplusplus
}
#endif
#endif
