/* The parsed, validated header of a kvseal v1 file (docs/FORMAT.md sections 2-5). */
#ifndef KVSEAL_HEADER_H
#define KVSEAL_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/keys.h"
#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KVS_MAGIC_LEN 8
#define KVS_PREFIX_LEN 12 /* magic + header_len */
#define KVS_TAG_LEN 32
#define KVS_SALT_LEN 32
#define KVS_CHUNK_TAG_LEN 16
#define KVS_HEADER_MIN 2u
#define KVS_HEADER_MAX 65536u
#define KVS_CHUNK_MIN 4096u
#define KVS_CHUNK_MAX 67108864u
#define KVS_CHUNK_DEFAULT 1048576u
#define KVS_MAX_RECIPIENTS 64
#define KVS_MAX_CONTEXT 64
#define KVS_MAX_CONTEXT_LEN 1024
#define KVS_MAX_CHUNKS 4294967296ull /* 2^32 */
#define KVS_SUITE "AES-256-GCM-HKDF-SHA256"

typedef struct kvs_context_pair {
    const char *key;
    const char *value;
} kvs_context_pair;

/* The `signer` member of a signed file (FORMAT.md "Signed files"). */
#define KVS_SIGNER_KEY "key"
#define KVS_SIGNER_KEYVAULT "azure-keyvault"
typedef struct kvs_header_signer {
    char type[32]; /* KVS_SIGNER_KEY or KVS_SIGNER_KEYVAULT; "" if unsigned */
    char id[KVS_MAX_KEY_ID_LEN + 1]; /* key_id or versioned kid */
    char alg[8];   /* "ES256", "ES384", "PS256", "PS384" or "PS512" */
} kvs_header_signer;

typedef struct kvs_header {
    uint32_t chunk_size;
    uint8_t salt[KVS_SALT_LEN];
    size_t n_recipients;
    kvs_recipient *recipients;
    size_t n_context;
    kvs_context_pair *context; /* strings owned by the header */
    char created[64];          /* "" when absent */
    uint32_t header_len;       /* length of the JSON text */
    int unlocked_recipient;    /* recipient whose DEK verified the tag, or -1
                                  (a header that was only parsed) */
    kvs_header_signer signer;  /* signer.type[0] == 0: not a signed file */
} kvs_header;

/* Offset of chunk 0: 8 + 4 + header_len + 32. */
KVS_API KVS_NONNULL(1) uint64_t kvs_header_payload_offset(const kvs_header *h);

/* Plaintext size and chunk count implied by a whole file of file_size bytes.
 * KVS_ERR_TRUNCATED / KVS_ERR_FORMAT if no valid file has that size. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3, 4) kvs_status
kvs_header_payload_geometry(const kvs_header *h, uint64_t file_size, uint64_t *plaintext_size,
                            uint64_t *chunks);

/* Read and validate the header at the start of fd (no key needed, tag not
 * checked). Reads exactly the prefix, the JSON and the tag. *out is the
 * caller's, freed with kvs_header_free; NULL on failure. */
KVS_API KVS_MUST_USE KVS_NONNULL(2) kvs_status
kvs_header_read_fd(int fd, kvs_header **out, kvs_error *err);

/* kvs_header_free(NULL) is a no-op. */
KVS_API void kvs_header_free(kvs_header *h);

#ifdef __cplusplus
}
#endif
#endif
