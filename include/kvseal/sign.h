/* Signed files (docs/FORMAT.md "Signed files"): writer authenticity.
 *
 * A signer makes the one signature of a file (encryption with
 * kvs_encrypt_options.signer): a local EC P-256 / P-384 or RSA (>= 3072
 * bits) private key in a PEM file, or an Azure Key Vault / Managed HSM key
 * with the `sign` operation, which signs the statement's digest in the
 * vault (the private key never leaves it). A signer check names the key a
 * restore requires (kvs_decrypt_options.require_signer): a public PEM, or a
 * Key Vault key URL (versioned: that version only; versionless: any version
 * of that key); the signature is always verified locally with the key's
 * public part, fetched once per version.
 *
 * Key separation: a signing key is never a wrapping recipient and a
 * wrapping key never a signer (KVS_ERR_KEY, naming why). */
#ifndef KVSEAL_SIGN_H
#define KVSEAL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/header.h"
#include "kvseal/keys.h"
#include "kvseal/keyvault.h"
#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVS_SIG_MAX_LEN 1024
#define KVS_SEGMENT_CHUNKS 16

typedef struct kvs_signer kvs_signer;
typedef struct kvs_signer_check kvs_signer_check;

/* Local private key (PEM; passphrase-protected keys read KVSEAL_PASSPHRASE_FILE
 * as recipients' do). alg: NULL = the key's default (ES256 for P-256, ES384
 * for P-384, PS256 for RSA), or "PS384"/"PS512" for RSA. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_local_signer_new(const char *pem_path, const char *alg, kvs_signer **out, kvs_error *err);

/* Key Vault / Managed HSM key (versioned or versionless URL; the current
 * version is resolved once, and every signature of this signer is made with
 * exactly that version). The key must be enabled, EC (P-256/P-384) or RSA
 * (>= 3072 bits) and allow `sign`. alg as above. cfg may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_keyvault_signer_new(const char *key_url, const kvs_keyvault_config *cfg, const char *alg,
                        kvs_signer **out, kvs_error *err);

/* What the signer writes into a header: type ("key" or "azure-keyvault"),
 * id (key_id "sha256:..." or the versioned kid) and alg. Owned by s. */
KVS_API KVS_NONNULL(1) const char *kvs_signer_type(const kvs_signer *s);
KVS_API KVS_NONNULL(1) const char *kvs_signer_id(const kvs_signer *s);
KVS_API KVS_NONNULL(1) const char *kvs_signer_alg(const kvs_signer *s);
/* Signatures made so far (Key Vault: `sign` calls). */
KVS_API KVS_NONNULL(1) uint64_t kvs_signer_signatures(const kvs_signer *s);
/* NULL is a no-op. */
KVS_API void kvs_signer_free(kvs_signer *s);

/* A required signer from a public (or private) PEM key file. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 2) kvs_status
kvs_signer_check_pem(const char *pem_path, kvs_signer_check **out, kvs_error *err);
/* A required signer from a Key Vault key URL (see above). cfg may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_signer_check_keyvault(const char *key_url, const kvs_keyvault_config *cfg,
                          kvs_signer_check **out, kvs_error *err);
/* A required signer from either: a Key Vault URL (https://...) or a PEM path. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_signer_check_new(const char *key, const kvs_keyvault_config *cfg, kvs_signer_check **out,
                     kvs_error *err);
/* Human-readable name of the required key (the URL or "sha256:..."). */
KVS_API KVS_NONNULL(1) const char *kvs_signer_check_name(const kvs_signer_check *c);
KVS_API void kvs_signer_check_free(kvs_signer_check *c);

/* What a file says about its signer (inspect, audit): a copy of the header
 * member and the trailer's geometry. */
typedef struct kvs_signature_info {
    int signed_file;     /* the header has `signer` */
    char type[32];       /* "key" or "azure-keyvault" */
    char id[1025];       /* key_id or kid */
    char alg[8];         /* "ES256" ... */
    uint32_t segments;   /* m */
    uint16_t sig_len;
    uint64_t trailer_len;
    uint64_t chunks;     /* n */
    uint64_t plaintext_size;
} kvs_signature_info;

/* Read the header and, for a signed file, the trailer's fixed tail of a
 * seekable file (no key needed, nothing verified but the trailer's form). */
KVS_API KVS_MUST_USE KVS_NONNULL(2) kvs_status
kvs_signature_info_fd(int fd, kvs_signature_info *out, kvs_error *err);

/* Prove authorship without any decryption key (an auditor with no unwrap
 * right): the file is signed by the required key, its signature over M
 * verifies, and every stored chunk hashes to the trailer's roots. Everything
 * but the data key commitment (which needs the DEK) is checked; no chunk is
 * decrypted. header_out (may be NULL) as kvs_decrypt_fd's. */
KVS_API KVS_MUST_USE KVS_NONNULL(2) kvs_status
kvs_verify_signer_fd(int fd, const kvs_signer_check *required, kvs_header **header_out,
                     kvs_error *err);

#ifdef __cplusplus
}
#endif
#endif
