/* Streaming encryption and decryption over caller buffers (push/pull).
 *
 * Feed input with *_push (it may consume less than offered when output is
 * pending), drain output with *_pull, and call *_finish once input has ended.
 * The operation is complete when *_done returns non-zero. Any split of the
 * input works. Memory is bounded by about two chunks per context.
 *
 * After any failure a context is failed for good: every later call returns
 * KVS_ERR_STATE, and plaintext that had not verified is wiped. A decryptor
 * releases a chunk's plaintext only after its tag verifies; a caller that needs
 * all-or-nothing output (files) must still hold the output until done (the
 * path helpers in envelope.h do). Contexts are not thread-safe. */
#ifndef KVSEAL_STREAM_H
#define KVSEAL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/header.h"
#include "kvseal/keys.h"
#include "kvseal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kvs_encrypt_options {
    uint32_t chunk_size;              /* 0 = KVS_CHUNK_DEFAULT */
    const kvs_context_pair *context;  /* authenticated, not secret */
    size_t n_context;
    int omit_created;                 /* non-zero: no `created` member */
    unsigned threads;                 /* fd/path helpers: 0 = online CPUs */
} kvs_encrypt_options;

typedef struct kvs_decrypt_options {
    const kvs_context_pair *required_context; /* each must match the header exactly */
    size_t n_required_context;
    unsigned threads;                         /* fd/path helpers: 0 = online CPUs */
} kvs_decrypt_options;

typedef struct kvs_encryptor kvs_encryptor;
typedef struct kvs_decryptor kvs_decryptor;

/* Draws a fresh DEK and salt, wraps the DEK for every recipient provider. */
KVS_API kvs_status kvs_encryptor_new(const kvs_encrypt_options *opts,
                                     kvs_provider *const *recipients, size_t n_recipients,
                                     kvs_encryptor **out, kvs_error *err);
KVS_API kvs_status kvs_encryptor_push(kvs_encryptor *e, const void *in, size_t len,
                                      size_t *consumed);
KVS_API kvs_status kvs_encryptor_finish(kvs_encryptor *e);
KVS_API kvs_status kvs_encryptor_pull(kvs_encryptor *e, void *out, size_t cap,
                                      size_t *written);
KVS_API int kvs_encryptor_done(const kvs_encryptor *e);
KVS_API const kvs_error *kvs_encryptor_error(const kvs_encryptor *e);
KVS_API void kvs_encryptor_free(kvs_encryptor *e);

/* keys: providers tried, in order, against each recipient in header order. */
KVS_API kvs_status kvs_decryptor_new(const kvs_decrypt_options *opts,
                                     kvs_provider *const *keys, size_t n_keys,
                                     kvs_decryptor **out, kvs_error *err);
KVS_API kvs_status kvs_decryptor_push(kvs_decryptor *d, const void *in, size_t len,
                                      size_t *consumed);
KVS_API kvs_status kvs_decryptor_finish(kvs_decryptor *d);
KVS_API kvs_status kvs_decryptor_pull(kvs_decryptor *d, void *out, size_t cap,
                                      size_t *written);
KVS_API int kvs_decryptor_done(const kvs_decryptor *d);
/* The verified header once the header tag checked, else NULL. */
KVS_API const kvs_header *kvs_decryptor_header(const kvs_decryptor *d);
/* Index of the recipient that unlocked the file, or -1. */
KVS_API int kvs_decryptor_recipient(const kvs_decryptor *d);
KVS_API const kvs_error *kvs_decryptor_error(const kvs_decryptor *d);
KVS_API void kvs_decryptor_free(kvs_decryptor *d);

#ifdef __cplusplus
}
#endif
#endif
