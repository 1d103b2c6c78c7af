/* One-shot helpers over file descriptors and paths, and random-access decryption. */
#ifndef KVSEAL_ENVELOPE_H
#define KVSEAL_ENVELOPE_H

#include <stdint.h>

#include "kvseal/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encrypt everything read from in_fd to out_fd (pipes allowed) with
 * opts->threads workers (never more than the file has chunks). 0 = online
 * CPUs, less one for a non-file input (its reader thread) and one more for a
 * pipe output (its writer thread), at least 1. Regular output files are
 * written at computed offsets from the current position; pipes in order. A regular input file is read by the
 * workers at computed offsets, and must not change size meanwhile
 * (KVS_ERR_IO). Memory, whatever the input size: threads * (chunk_size + 16)
 * bytes from a regular file to a regular file (decryption: plus one chunk
 * per worker whose chunk fails to open), otherwise
 * (2 * threads + 2) * (chunk_size + 16). On failure a regular output file is
 * cut back to the header and the chunks before the first failed one. */
KVS_API KVS_MUST_USE kvs_status
kvs_encrypt_fd(int in_fd, int out_fd, const kvs_encrypt_options *opts,
               kvs_provider *const *recipients, size_t n_recipients, kvs_error *err);

/* Decrypt in_fd to out_fd; out_fd < 0 verifies only. Plaintext reaches out_fd
 * chunk by chunk, each only after its tag verifies; chunks are processed by
 * opts->threads workers, read as kvs_encrypt_fd reads. On failure out_fd
 * holds a verified prefix: the chunks before the first failed one (a regular
 * file is cut back to it). Callers wanting all-or-nothing output use
 * kvs_decrypt_path. Memory: as kvs_encrypt_fd, plus one chunk per worker
 * when the input is not a regular file. header_out (may be NULL) receives,
 * on success only, the verified header: the caller frees it with
 * kvs_header_free (on failure *header_out is NULL). opts may be NULL. */
KVS_API KVS_MUST_USE kvs_status
kvs_decrypt_fd(int in_fd, int out_fd, const kvs_decrypt_options *opts, kvs_provider *const *keys,
               size_t n_keys, kvs_header **header_out, kvs_error *err);

/* One-shot encryption of a buffer into a complete kvseal file in out, with
 * opts->threads workers sealing chunks straight from in to out (no copies,
 * no buffers of the engine's own). out must not overlap in and must hold
 * kvs_encrypt_mem_bound(in_len, opts->chunk_size) bytes (the exact size is
 * the header's plus in_len plus 16 per chunk); a smaller out_cap gives
 * KVS_ERR_USAGE with the size needed. *out_len receives the file's size. */
KVS_API size_t kvs_encrypt_mem_bound(size_t plain_len, uint32_t chunk_size);
KVS_API KVS_MUST_USE KVS_NONNULL(5) kvs_status
kvs_encrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                size_t n_recipients, kvs_error *err);

/* One-shot decryption of the kvseal file in in[0..in_len) into out (which
 * must not overlap in; in_len bytes always suffice). All or nothing: on any
 * failure the plaintext area of out is wiped and *out_len is 0. Errors are
 * those of kvs_decrypt_fd for the same bytes. header_out as there. */
KVS_API KVS_MUST_USE KVS_NONNULL(5) kvs_status
kvs_decrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len,
                const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                kvs_header **header_out, kvs_error *err);

/* Decrypt plaintext bytes [offset, offset+length) of a seekable kvseal file to
 * out_fd. Reads and authenticates only the header, the chunks covering the
 * range and the final chunk (so truncation is always detected). A range past
 * the end is clipped; KVS_ERR_USAGE if offset is beyond the plaintext size. */
KVS_API KVS_MUST_USE kvs_status
kvs_decrypt_range_fd(int in_fd, uint64_t offset, uint64_t length, int out_fd,
                     const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                     kvs_error *err);

/* Read the header at the start of fd and unlock it as kvs_decrypt_fd would
 * (unwrap, verify the tag, check required context) without reading the
 * payload. Key Vault providers keep the unwrapped key in their cache, so a
 * later decryption of the file (or of any file with the same wrapped key)
 * makes no request: restores unlock many files concurrently this way first.
 * (Its first use then is not counted as a DEK cache hit in
 * kvs_keyvault_stats.) header_out (may be NULL) receives the verified header,
 * freed by the caller with kvs_header_free. */
KVS_API KVS_MUST_USE kvs_status
kvs_unlock_fd(int fd, const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
              kvs_header **header_out, kvs_error *err);

/* Output policy of the path helpers. Output goes to a 0600 temp file beside
 * the target (unnamed where the file system allows), is fsynced and given
 * the target's name only after success; on failure the temp file is removed
 * and the target is untouched. */
typedef struct kvs_output_options {
    int overwrite; /* non-zero: replace an existing target */
} kvs_output_options;

KVS_API KVS_MUST_USE KVS_NONNULL(1, 2) kvs_status
kvs_encrypt_path(const char *in_path, const char *out_path, const kvs_output_options *out_opts,
                 const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                 size_t n_recipients, kvs_error *err);
KVS_API KVS_MUST_USE KVS_NONNULL(1, 2) kvs_status
kvs_decrypt_path(const char *in_path, const char *out_path, const kvs_output_options *out_opts,
                 const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                 kvs_error *err);

/* Atomic output file, exposed so callers that produce output from a stream
 * (the CLI with stdin input) get the same temp-file-and-rename guarantee.
 * kvs_atomic_open gives the caller *out (always released with
 * kvs_atomic_abort, also after a commit) and *fd_out, which the file owns:
 * commit and abort close it. Without overwrite the target is created only
 * if nothing at all is there (not a dangling link, not a FIFO); with
 * overwrite whatever is there is replaced by rename. The target is never
 * opened or followed. */
typedef struct kvs_atomic_file kvs_atomic_file;
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3, 4) kvs_status
kvs_atomic_open(const char *target, const kvs_output_options *opts, kvs_atomic_file **out,
                int *fd_out, kvs_error *err);
/* fsync, rename over the target, fsync the directory. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_atomic_commit(kvs_atomic_file *f, kvs_error *err);
/* Path of the temp file (for a signal handler that must unlink it), owned
 * by f; NULL for NULL, and NULL when it is unnamed (O_TMPFILE, used where
 * the file system allows): it then vanishes with the process, even after
 * SIGKILL. */
KVS_API const char *kvs_atomic_temp_path(const kvs_atomic_file *f);
/* Remove the temp file (no-op after commit) and free. NULL is a no-op. */
KVS_API void kvs_atomic_abort(kvs_atomic_file *f);

/* For the handler of a signal that ends the process (it must call _exit
 * next): stop every kvs_encrypt_fd / kvs_decrypt_fd writing a regular file
 * (chunks land there out of order), wait up to 2 s for writes in progress,
 * and cut each such file back to the output complete from its start: for
 * decryption a verified prefix of the plaintext, with no zero-filled hole
 * where a later chunk was written before an earlier one. No write starts
 * afterwards; those operations' threads wait for the end of the process.
 * Async-signal-safe. */
KVS_API void kvs_output_cut_on_signal(void);

#ifdef __cplusplus
}
#endif
#endif
