/* Azure block blobs as input and output (docs/BLOB.md): a blob holds exactly
 * the bytes of a kvseal file. */
#ifndef KVSEAL_BLOB_H
#define KVSEAL_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/envelope.h"
#include "kvseal/rewrap.h"
#include "kvseal/sign.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How to reach Blob Storage. Zero-initialise, then set what differs from the
 * defaults. Strings are borrowed for the call they are passed to. */
typedef struct kvs_blob_config {
    /* NULL or "auto": the first that is configured of an Entra ID bearer
     * token, a SAS token, Shared Key (BLOB.md's order); or exactly one of
     * "entra", "sas", "shared-key". */
    const char *credential;
    /* A file holding the SAS token (owner-only mode), or NULL: the
     * environment's AZURE_STORAGE_SAS_TOKEN. Never the token itself. */
    const char *sas_file;
    /* Requests in flight at once for one blob (staged blocks or ranged
     * reads); 0: the default, 4. */
    unsigned parallel;
} kvs_blob_config;

/* Whether text names a blob (an http:// or https:// URL) rather than a local
 * path. Syntax only: whether the URL is acceptable (host, scheme,
 * credentials) is decided when it is used. */
KVS_API KVS_NONNULL(1) int kvs_is_blob_url(const char *text);

/* Encrypt everything read from in_fd (a file or a pipe) into the block
 * blob url, as kvs_encrypt_fd would write it to a file: a blob holds
 * exactly a kvseal file. Blocks are staged as they complete, cfg->parallel
 * at once, and the blob appears only when all of them are committed
 * together: on any failure nothing is committed (no blob appears, an
 * existing one is untouched). Without out_opts->overwrite an existing blob
 * is refused (KVS_ERR_EXISTS) at the commit. Memory: the engine's (as
 * kvs_encrypt_fd) plus the blocks being filled and uploaded: at most
 * threads + 2 + parallel blocks, of 8 MiB at first, growing with the
 * blob's size (~128 MiB at 2 TiB) so that 50,000 blocks reach past 4 TiB.
 * out_opts and cfg may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(2) kvs_status
kvs_blob_encrypt(int in_fd, const char *url, const kvs_blob_config *cfg,
                 const kvs_output_options *out_opts, const kvs_encrypt_options *opts,
                 kvs_provider *const *recipients, size_t n_recipients, kvs_error *err);

/* Decrypt the blob url to out_fd (out_fd < 0: verify only), with the rules
 * of kvs_decrypt_fd: plaintext reaches out_fd only after its chunk
 * verified, and on failure out_fd holds at most a verified prefix. Every
 * ranged read is pinned to the ETag read first: a blob replaced meanwhile
 * fails with KVS_ERR_IO. header_out as in kvs_decrypt_fd. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_blob_decrypt(const char *url, const kvs_blob_config *cfg, int out_fd,
                 const kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                 kvs_header **header_out, kvs_error *err);

/* kvs_decrypt_range_fd for a blob: fetches only the header, the chunks
 * covering [offset, offset+length) and the final chunk. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_blob_decrypt_range(const char *url, const kvs_blob_config *cfg, uint64_t offset,
                       uint64_t length, int out_fd, const kvs_decrypt_options *opts,
                       kvs_provider *const *keys, size_t n_keys, kvs_error *err);

/* kvs_unlock_fd for a blob: read (one or two ranged Gets) and unlock the
 * header without reading the payload. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_blob_unlock(const char *url, const kvs_blob_config *cfg, const kvs_decrypt_options *opts,
                kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                kvs_error *err);

/* kvs_header_read_fd for a blob (inspect: no key, tag not checked).
 * *size_out (may be NULL) receives the blob's size. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_blob_header_read(const char *url, const kvs_blob_config *cfg, kvs_header **out,
                     uint64_t *size_out, kvs_error *err);

/* kvs_signature_info_fd for a blob: its header and, for a signed blob, the
 * trailer's fixed tail (the blob's last bytes), read with a few ranged Gets
 * pinned to one ETag. No key needed; nothing verified but the trailer's
 * form. An unsigned blob gives signed_file 0 and its geometry. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_blob_signature_info(const char *url, const kvs_blob_config *cfg, kvs_signature_info *out,
                        kvs_error *err);

/* kvs_verify_signer_fd for a blob: proof of authorship without any
 * decryption key. The header, the trailer and every stored chunk are read
 * (large ranged Gets, cfg->parallel at once) pinned to the ETag read first:
 * a blob replaced meanwhile fails with KVS_ERR_IO. The signer, the signature
 * over M and every segment root are checked; not the data key commitment
 * (it needs the DEK), and nothing is decrypted. An unsigned blob or another
 * signer: KVS_ERR_SIGNER; a changed byte: KVS_ERR_AUTH. header_out (may be
 * NULL) receives the blob's header on success. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_blob_verify_signer(const char *url, const kvs_blob_config *cfg,
                       const kvs_signer_check *required, kvs_header **header_out,
                       kvs_error *err);

/* kvs_rewrap_path for a blob, in place: the same recipient rules, options
 * (temp_path unused) and result. Only the header changes: the committed
 * block list and one ranged Get of block 0 (the stored header) are read,
 * the new header is staged as a new block 0 (an id of the same length, with
 * a fresh random prefix), and one Put Block List commits it before the old
 * payload blocks, reused by id, with If-Match on the ETag read first. No
 * payload byte is downloaded or uploaded. A blob changed meanwhile fails
 * with KVS_ERR_IO ("the blob changed") and is left as it was. A blob not
 * laid out as kvseal writes it (block 0 exactly the stored header, then
 * kvseal's block ids, e.g. one uploaded by another tool) is refused with
 * KVS_ERR_USAGE and left as it was: download, rewrap and upload it. The
 * metadata is rewritten as kvseal_format, kvseal_keys and kvseal_size
 * (other metadata is not kept). A blob whose recipients would not change
 * is not touched. */
KVS_API KVS_MUST_USE KVS_NONNULL(1) kvs_status
kvs_blob_rewrap(const char *url, const kvs_blob_config *cfg, const kvs_rewrap_options *opts,
                kvs_provider *const *keys, size_t n_keys, kvs_provider *const *add,
                size_t n_add, kvs_rewrap_result *result, kvs_error *err);

/* One blob found by kvs_blob_list. The strings are valid only during the
 * callback. */
typedef struct kvs_blob_entry {
    const char *url;  /* the blob's URL (no query), for kvs_blob_decrypt etc. */
    const char *name; /* its name after the prefix: never empty; may contain
                         '/' and any other character but control characters.
                         Untrusted: check it before using it as a path. */
    uint64_t size;    /* Content-Length as listed (a hint, not checked) */
} kvs_blob_entry;

/* Called once per blob in name order; non-zero stops the listing
 * (kvs_blob_list then fails with KVS_ERR_STATE). */
typedef int (*kvs_blob_list_fn)(void *arg, const kvs_blob_entry *blob);

/* List the blobs under prefix_url (List Blobs, paged by NextMarker): a
 * container URL ending in '/' ("https://acct.blob.core.windows.net/con/")
 * or a prefix URL ending in '/' (".../con/dir/"); the same host, scheme and
 * credential rules as blob URLs, no query. Every blob whose name starts
 * with the prefix, at any depth. The service's answer is untrusted:
 * malformed XML, names out of order or outside the prefix (a looping
 * NextMarker) fail with KVS_ERR_FORMAT; more than 10 million blobs with
 * KVS_ERR_LIMIT. cfg may be NULL. */
KVS_API KVS_MUST_USE KVS_NONNULL(1, 3) kvs_status
kvs_blob_list(const char *prefix_url, const kvs_blob_config *cfg, kvs_blob_list_fn fn,
              void *arg, kvs_error *err);

#ifdef __cplusplus
}
#endif

#endif
