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
 * path helpers in envelope.h do). A context is used by one thread at a time
 * (kvseal.h). *out of a _new is the caller's, freed with the matching _free;
 * pointers a context returns (its error, its header) are owned by it and
 * valid until it is freed. */
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

/* One data key shared by several files (kvs_dek_session_new). */
typedef struct kvs_dek_session kvs_dek_session;

typedef struct kvs_encrypt_options {
    uint32_t chunk_size;              /* 0 = KVS_CHUNK_DEFAULT */
    const kvs_context_pair *context;  /* authenticated, not secret */
    size_t n_context;
    int omit_created;                 /* non-zero: no `created` member */
    unsigned threads;                 /* fd/path/mem helpers: 0 = online CPUs
                                         (see kvs_encrypt_fd) */
    /* fd/path helpers (not range decryption): optional, called from the
     * calling thread as chunks go through, with the input bytes read so far
     * (for decryption: after the header); at most the engine's buffers of
     * chunks ahead of output. Keep it cheap; it must not call back into this
     * operation. */
    void (*progress)(uint64_t bytes_done, void *arg);
    void *progress_arg;
    /* Optional: take the DEK and its wrapped recipients from this session
     * instead of drawing a fresh DEK; the salt is still fresh per file, so
     * every file's header and payload keys differ (FORMAT.md §3). The
     * session's recipients are used and the recipients argument is ignored. */
    kvs_dek_session *dek_session;
    /* Optional: sign the file (include/kvseal/sign.h). The signer is
     * borrowed; it signs once per file, after the last chunk. */
    struct kvs_signer *signer;
} kvs_encrypt_options;

typedef struct kvs_decrypt_options {
    const kvs_context_pair *required_context; /* each must match the header exactly */
    size_t n_required_context;
    unsigned threads;                         /* as in kvs_encrypt_options */
    /* As in kvs_encrypt_options: input bytes after the header read so far. */
    void (*progress)(uint64_t bytes_done, void *arg);
    void *progress_arg;
    /* Optional: once the header is unlocked, receives (status KVS_OK) the
     * failures of the recipients tried before the one that worked, one line,
     * "" if none: e.g. the primary vault was unreachable. Keys are tried in
     * the order given, and for each key the file's recipients in header
     * order (FORMAT.md §7 step 3). */
    kvs_error *unlock_notes;
    /* Optional: refuse (KVS_ERR_SIGNER) a file not signed by this key, and
     * verify the signature, the segment roots and the data key commitment
     * before any plaintext is released (include/kvseal/sign.h). Borrowed. */
    const struct kvs_signer_check *require_signer;
} kvs_decrypt_options;

typedef struct kvs_encryptor kvs_encryptor;
typedef struct kvs_decryptor kvs_decryptor;

/* Shared data keys for backup sets: many files in one run under one DEK, so
 * a restore of the set costs one unwrap. The DEK is drawn and wrapped for
 * every recipient once, and replaced (new DEK, wrapped again) before a file
 * would exceed a limit: max_files files, max_bytes plaintext bytes (counted
 * when a file ends, so the file that crosses it still completes under the
 * DEK) or max_age_s seconds since the DEK was drawn. Zero members take the
 * defaults below. Sharing widens what one leaked DEK exposes to the files
 * under it; the limits bound that. The providers must outlive the session.
 * Thread-safe. */
#define KVS_SHARE_DEK_MAX_FILES 10000ull
#define KVS_SHARE_DEK_MAX_BYTES (64ull << 30) /* 64 GiB */
#define KVS_SHARE_DEK_MAX_AGE_S 3600ull       /* 1 hour */

typedef struct kvs_dek_session_limits {
    uint64_t max_files;
    uint64_t max_bytes;
    uint64_t max_age_s;
} kvs_dek_session_limits;

/* Draws the first DEK and wraps it now (so key errors surface here). limits
 * may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(4) kvs_status
kvs_dek_session_new(kvs_provider *const *recipients, size_t n_recipients,
                    const kvs_dek_session_limits *limits, kvs_dek_session **out, kvs_error *err);
/* DEKs drawn so far (1 + replacements). */
KVS_API unsigned long kvs_dek_session_deks(const kvs_dek_session *s);
/* Wipes the DEK. NULL is a no-op. */
KVS_API void kvs_dek_session_free(kvs_dek_session *s);

/* Draws a fresh DEK and salt, wraps the DEK for every recipient provider.
 * The providers are used during this call only; opts, and the context pairs
 * it points to, are copied. recipients may be NULL with opts->dek_session. */
KVS_API KVS_MUST_USE KVS_NONNULL(4) kvs_status
kvs_encryptor_new(const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                  size_t n_recipients, kvs_encryptor **out, kvs_error *err);
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_encryptor_push(kvs_encryptor *e, const void *in, size_t len, size_t *consumed);
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status kvs_encryptor_finish(kvs_encryptor *e);
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_encryptor_pull(kvs_encryptor *e, void *out, size_t cap, size_t *written);
KVS_API KVS_NONNULL(1) int kvs_encryptor_done(const kvs_encryptor *e);
KVS_API KVS_NONNULL(1) const kvs_error *kvs_encryptor_error(const kvs_encryptor *e);
KVS_API void kvs_encryptor_free(kvs_encryptor *e);

/* keys: providers tried, in order, against each recipient in header order.
 * The keys array, its providers, and what opts points to (required context,
 * unlock_notes) are borrowed, not copied: they must outlive the decryptor.
 * opts may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(4) kvs_status
kvs_decryptor_new(const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                  kvs_decryptor **out, kvs_error *err);
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_decryptor_push(kvs_decryptor *d, const void *in, size_t len, size_t *consumed);
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status kvs_decryptor_finish(kvs_decryptor *d);
KVS_API KVS_MUST_USE KVS_NONNULL(1, 4) kvs_status
kvs_decryptor_pull(kvs_decryptor *d, void *out, size_t cap, size_t *written);
KVS_API KVS_NONNULL(1) int kvs_decryptor_done(const kvs_decryptor *d);
/* The verified header once the header tag checked, else NULL; owned by d. */
KVS_API KVS_NONNULL(1) const kvs_header *kvs_decryptor_header(const kvs_decryptor *d);
/* Index of the recipient that unlocked the file, or -1. */
KVS_API KVS_NONNULL(1) int kvs_decryptor_recipient(const kvs_decryptor *d);
KVS_API KVS_NONNULL(1) const kvs_error *kvs_decryptor_error(const kvs_decryptor *d);
KVS_API void kvs_decryptor_free(kvs_decryptor *d);

#ifdef __cplusplus
}
#endif
#endif
