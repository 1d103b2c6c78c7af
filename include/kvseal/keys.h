/* Key providers: the only thing the format and stream engine know about keys.
 *
 * A provider wraps a 32-byte data key (DEK) into a recipient record and unwraps
 * recipient records it recognises. Local RSA PEM keys and Azure Key Vault keys
 * are providers; an application can add its own through kvs_provider_new.
 * Thread safety: see kvseal.h. */
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

/* A key provider object (opaque). Made by kvs_provider_new, or by the
 * built-in constructors below (which use kvs_provider_new too); freed by
 * kvs_provider_free. */
typedef struct kvs_provider kvs_provider;

/* Writing a provider (docs/API.md has a complete example).
 *
 * Versioning: pass sizeof(kvs_provider_ops) as compiled against your copy of
 * this header to kvs_provider_new. Members are only ever appended; members a
 * smaller (older) table lacks are taken as NULL, and a larger (newer) table
 * is accepted if the members this library does not know are all NULL. The
 * library copies the table, so it need not outlive the call, but its address
 * is kept as the provider's identity (kvs_provider_impl).
 *
 * Every callback gets the impl pointer given to kvs_provider_new. The library
 * calls a provider only from the thread that called the library function
 * using it; a provider shared by threads that run such calls concurrently
 * must be thread-safe itself (see kvseal.h). Strings in recipients are
 * NUL-terminated within their arrays. */
typedef struct kvs_provider_ops {
    /* Required. Short static name for messages ("rsa", "azure-keyvault"). */
    const char *name;
    /* Optional (NULL: the provider cannot wrap, KVS_ERR_USAGE). Wrap the
     * data key into *out, which arrives zeroed: set type, alg, key_id and
     * wrapped/wrapped_len (1..KVS_MAX_WRAPPED_LEN bytes); checked on return. */
    kvs_status (*wrap)(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                       kvs_error *err);
    /* Required. Non-zero if this provider's key is the one r names (cheap, no
     * I/O: decryption asks it of every recipient before unwrapping). */
    int (*matches)(const void *impl, const kvs_recipient *r);
    /* Optional (NULL: the provider cannot unwrap, KVS_ERR_KEY). Unwrap r into
     * out (out_cap == KVS_MAX_WRAPPED_LEN bytes of locked memory, wiped by
     * the library after use) and set *out_len. The library, not the provider,
     * enforces FORMAT.md section 5: a value that is not exactly KVS_DEK_LEN
     * bytes is wiped and reported as KVS_ERR_AUTH. Return KVS_ERR_KEY if the
     * key cannot unwrap r, KVS_ERR_NETWORK / KVS_ERR_UNAVAILABLE if a service
     * failed in a way that retrying later may fix. */
    kvs_status (*unwrap)(void *impl, const kvs_recipient *r, uint8_t *out, size_t out_cap,
                         size_t *out_len, kvs_error *err);
    /* Optional (NULL: name). Human-readable identity for messages ("rsa
     * sha256:ab12...", a kid URL); owned by impl, valid until destroy. */
    const char *(*identify)(const void *impl);
    /* Optional. Release impl; called once, by kvs_provider_free. */
    void (*destroy)(void *impl);
} kvs_provider_ops;

/* Make a provider from ops (copied; ops_size = sizeof(kvs_provider_ops))
 * and impl. On success *out owns impl: kvs_provider_free calls
 * ops->destroy(impl). On failure (KVS_ERR_USAGE: a required member is NULL,
 * ops_size is too small, or unknown newer members are set; KVS_ERR_NOMEM)
 * *out is NULL and impl still belongs to the caller. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status kvs_provider_new(const kvs_provider_ops *ops,
                                                                   size_t ops_size, void *impl,
                                                                   kvs_provider **out,
                                                                   kvs_error *err);

/* The impl given to kvs_provider_new if p was made with this ops table
 * (the same address), else NULL. Lets code recognise its own providers. */
KVS_API void *kvs_provider_impl(const kvs_provider *p, const kvs_provider_ops *ops);

/* Wrap dek for p's key into *out (a recipient record for a file header). */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 2, 3) kvs_status
kvs_provider_wrap(kvs_provider *p, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                  kvs_error *err);
/* Non-zero if p's key is the one r names; 0 if either is NULL. */
KVS_API int kvs_provider_matches(const kvs_provider *p, const kvs_recipient *r);
/* Unwrap r into dek (exactly KVS_DEK_LEN bytes, else KVS_ERR_AUTH and dek
 * untouched). */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 2, 3) kvs_status
kvs_provider_unwrap(kvs_provider *p, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN],
                    kvs_error *err);
/* Identity for messages: owned by p (valid until kvs_provider_free);
 * "(none)" (static) for NULL. Never NULL. */
KVS_API const char *kvs_provider_identify(const kvs_provider *p);
/* Calls ops->destroy(impl) and frees p. kvs_provider_free(NULL) is a no-op.
 * Anything using p (an encryptor, decryptor or DEK session) must be freed
 * first. */
KVS_API void kvs_provider_free(kvs_provider *p);

/* Local RSA key from a PEM file: a public key (SubjectPublicKeyInfo or PKCS#1),
 * a certificate, or a private key (PKCS#8, traditional, or encrypted PKCS#8).
 * passphrase (NUL-terminated, may be NULL) decrypts an encrypted private key;
 * callers keep it in secure memory. A public key or certificate can only wrap.
 * Keys below 2048 bits are refused. Wrapping uses alg (NULL = RSA-OAEP-256). */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_rsa_provider_from_pem(const char *path, const char *passphrase, const char *alg,
                          kvs_provider **out, kvs_error *err);

/* Generate an RSA private key (bits: 2048, 3072 or 4096) to a new PEM file
 * created with mode 0600; refuses an existing path. passphrase may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(2) kvs_status
kvs_rsa_keygen(unsigned bits, const char *path, const char *passphrase, kvs_error *err);

/* Write the public half of an RSA provider's key as a SubjectPublicKeyInfo PEM
 * to a new file (mode 0644); refuses an existing path. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 2) kvs_status
kvs_rsa_provider_export_public(const kvs_provider *p, const char *path, kvs_error *err);

/* "sha256:<hex>" key id of the key in a provider made by kvs_rsa_provider_from_pem. */
KVS_API const char *kvs_rsa_provider_key_id(const kvs_provider *p);

#ifdef __cplusplus
}
#endif
#endif
