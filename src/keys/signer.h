/* Internal: signers and required-signer checks (include/kvseal/sign.h).
 * A signer is a small ops table, like a key provider: the local PEM signer
 * (keys/signer_local.c) and the Key Vault signer (keys/signer_keyvault.c)
 * fill one in. signer.c holds what every kind shares: hashing the statement
 * with alg's hash, checking the signature against the signer's public key
 * before it is used (a faulty HSM or a wrong key version never yields a
 * file that fails later), and counting signatures. */
#ifndef KVS_KEYS_SIGNER_H
#define KVS_KEYS_SIGNER_H

#include <openssl/evp.h>

#include "crypto/sign.h"
#include "kvseal/header.h"
#include "kvseal/sign.h"

typedef struct kvs_signer_ops {
    /* Sign the digest (alg's hash of M); sig has KVS_SIG_MAX_LEN bytes. */
    kvs_status (*sign)(void *impl, const uint8_t *digest, size_t dlen, uint8_t *sig,
                       size_t *sig_len, kvs_error *err);
    void (*destroy)(void *impl);
} kvs_signer_ops;

struct kvs_signer {
    const kvs_signer_ops *ops;
    void *impl;
    kvs_header_signer ident; /* what goes into the header */
    kvs_sig_alg alg;
    EVP_PKEY *pub;           /* the signer's public key (owned) */
    size_t sig_len;          /* kvs_sig_len(pub, alg) */
    uint64_t signatures;     /* atomically incremented */
};

/* Takes ownership of impl (destroyed on failure too) and pub. */
kvs_status kvs_signer_make(const kvs_signer_ops *ops, void *impl, const char *type,
                           const char *id, kvs_sig_alg alg, EVP_PKEY *pub, kvs_signer **out,
                           kvs_error *err);

/* Sign M: digest with alg's hash, the signer's sign op, then a local
 * verification with pub. sig has KVS_SIG_MAX_LEN bytes. */
kvs_status kvs_signer_sign_statement(kvs_signer *s, const uint8_t *m, size_t m_len,
                                     uint8_t *sig, size_t *sig_len, kvs_error *err);

typedef struct kvs_signer_check_ops {
    /* The public key of the file's signer if it is the required key
     * (*pub owned by the caller), else KVS_ERR_SIGNER naming what the file
     * has and what was required. */
    kvs_status (*resolve)(void *impl, const kvs_header_signer *file_signer, EVP_PKEY **pub,
                          kvs_error *err);
    void (*destroy)(void *impl);
} kvs_signer_check_ops;

struct kvs_signer_check {
    const kvs_signer_check_ops *ops;
    void *impl;
    char name[KVS_MAX_KEY_ID_LEN + 1];
};

kvs_status kvs_signer_check_make(const kvs_signer_check_ops *ops, void *impl, const char *name,
                                 kvs_signer_check **out, kvs_error *err);

/* The file's public key under a required signer (resolve + the alg agrees
 * with the key): KVS_ERR_SIGNER for an unsigned file or another signer. */
kvs_status kvs_signer_check_resolve(const kvs_signer_check *c, const kvs_header *h,
                                    EVP_PKEY **pub, kvs_error *err);

/* Verify M's signature with pub (the file's alg): KVS_ERR_AUTH on mismatch. */
kvs_status kvs_signature_verify(EVP_PKEY *pub, const kvs_header *h, const uint8_t *m,
                                size_t m_len, const uint8_t *sig, size_t sig_len, kvs_error *err);

#endif
