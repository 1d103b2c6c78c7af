/* Internal: reading a key from a PEM file (public key, certificate or
 * private key, encrypted or not), shared by the local RSA recipient
 * (keys/rsa_local.c) and the local signer (keys/signer_local.c). */
#ifndef KVS_KEYS_PEM_LOAD_H
#define KVS_KEYS_PEM_LOAD_H

#include <openssl/evp.h>

#include "kvseal/status.h"

/* The key in path: keytype "RSA" reads only RSA public keys (SPKI or
 * PKCS#1), NULL any type; certificates and private keys of any type are
 * read (the caller checks the type). passphrase may be NULL. what names the
 * expected content in the error ("RSA key or certificate"). *is_private is
 * set when the file held a private key. KVS_ERR_CONFIG when the file cannot
 * be read, holds no key or needs another passphrase. */
kvs_status kvs_pem_load(const char *path, const char *passphrase, const char *keytype,
                        const char *what, EVP_PKEY **out, int *is_private, kvs_error *err);

#endif
