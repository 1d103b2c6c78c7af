/* Internal: one payload chunk (FORMAT.md §6), and the header setup shared by
 * every encryption and decryption path. */
#ifndef KVS_STREAM_CHUNK_H
#define KVS_STREAM_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "format/format.h"
#include "keys/unlock.h"
#include "kvseal/stream.h"
#include "stream/io.h"

#define KVS_NONCE_LEN 12

/* nonce_i = i as 11-byte big-endian || final flag (§6). */
void kvs_chunk_nonce(uint64_t index, int final, uint8_t nonce[KVS_NONCE_LEN]);

/* out receives len + 16 bytes (ciphertext || tag). */
kvs_status kvs_chunk_seal(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *pt,
                          size_t len, uint8_t *out);

/* in holds stored_len >= 16 bytes; pt receives stored_len - 16 bytes, wiped
 * on failure (KVS_ERR_AUTH). */
kvs_status kvs_chunk_open(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                          size_t stored_len, uint8_t *pt);

/* Open chunk `index` with its expected final flag and explain a failure
 * (FORMAT.md §7 step 5): a chunk that opens only with the other flag means
 * truncation (expected final) or trailing data (expected non-final, full
 * chunk); anything else is damage. pt is wiped on failure. pt may equal in
 * only when in need not be kept for the retry, so callers pass separate
 * buffers or accept KVS_ERR_AUTH without the finer diagnosis. */
kvs_status kvs_chunk_open_checked(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                                  size_t stored_len, uint8_t *pt, kvs_error *err);

/* A new file's header: fresh DEK and salt, one recipient per provider, tag. */
typedef struct kvs_sealed_header {
    uint8_t *bytes; /* magic || header_len || JSON || tag */
    size_t len;
    uint32_t chunk_size;
    kvs_file_keys *keys;
    uint64_t dek_generation; /* with a DEK session: which of its DEKs */
    kvs_header *header;      /* what was encoded (a signed file's M needs it) */
} kvs_sealed_header;

kvs_status kvs_seal_header(const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                           size_t n, kvs_sealed_header *out, kvs_error *err);

/* An existing file's header, parsed, unlocked, tag verified, context checked. */
typedef struct kvs_opened_header {
    kvs_header *header;
    kvs_file_keys *keys;
    int recipient;
    EVP_PKEY *signer_pub; /* with a required signer: its key, checked to be the file's */
} kvs_opened_header;

/* bytes = magic || header_len || JSON || tag exactly as stored. */
kvs_status kvs_open_header(const uint8_t *bytes, size_t len, const kvs_decrypt_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                           kvs_opened_header *out, kvs_error *err);

/* Read the stored header from the start of fd and open it. */
kvs_status kvs_open_header_fd(int fd, const kvs_decrypt_options *opts,
                              kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                              kvs_opened_header *out, kvs_error *err);

/* The same through a source's sequential reads (stream/io.h), which then
 * continue just past the header. */
kvs_status kvs_open_header_source(kvs_source *in, const kvs_decrypt_options *opts,
                                  kvs_provider *const *keys, size_t n_keys, kvs_unlock_when when,
                                  kvs_opened_header *out, kvs_error *err);

/* Hand the verified header of a decryptor to the caller (NULL before it is
 * verified); the decryptor keeps working without it. */
kvs_header *kvs_decryptor_take_header(kvs_decryptor *d);

void kvs_sealed_header_clear(kvs_sealed_header *s);
void kvs_opened_header_clear(kvs_opened_header *o);

#endif
