/* Internal: the header half of a rewrap (envelope/rewrap.c), shared by a
 * local file (kvs_rewrap_path) and a blob rotated in place
 * (kvs_blob_rewrap). */
#ifndef KVS_ENVELOPE_REWRAP_HEADER_H
#define KVS_ENVELOPE_REWRAP_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/rewrap.h"

/* From a file's stored header (magic || header_len || JSON || tag, exactly
 * stored_len bytes), the file's size and its last 10 bytes (tail: a signed
 * file's trailer ends there; NULL if the file is shorter): unlock it with keys, plan the new
 * recipient set (opts, add) as kvs_rewrap_path does, and build the new
 * stored header (same DEK, salt and payload; a new tag) into *new_hdr
 * (malloc'd, the caller frees); *trailer_len: a signed file's trailer
 * bytes (kept as they are), else 0. Nothing to change: KVS_OK, *new_hdr NULL and
 * result->changed 0. result (may be NULL) is filled on failure too. */
kvs_status kvs_rewrap_header(const uint8_t *stored, size_t stored_len, uint64_t file_size,
                             const uint8_t *tail, const kvs_rewrap_options *opts, kvs_provider *const *keys,
                             size_t n_keys, kvs_provider *const *add, size_t n_add,
                             uint8_t **new_hdr, size_t *new_len, uint64_t *trailer_len,
                             kvs_rewrap_result *result, kvs_error *err);

#endif
