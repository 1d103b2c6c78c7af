/* Internal: the v1 header codec and the keys derived for one file
 * (docs/FORMAT.md sections 2-5). */
#ifndef KVS_FORMAT_H
#define KVS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/header.h"

extern const uint8_t kvs_magic[KVS_MAGIC_LEN];

#define KVS_JSON_MAX_DEPTH 8

/* Check magic and bounds of the 12-byte prefix (§2); sets *header_len. */
kvs_status kvs_prefix_parse(const uint8_t prefix[KVS_PREFIX_LEN], uint32_t *header_len,
                            kvs_error *err);

/* Input ended after got < 12 bytes: truncated if the magic matched, else not
 * a kvseal file (§7 step 1). */
kvs_status kvs_prefix_short(const uint8_t *prefix, size_t got, kvs_error *err);

/* Non-zero if the NUL-terminated s is valid UTF-8 (RFC 3629). */
int kvs_utf8_valid(const char *s);

/* Raw-text checks done before JSON parsing (§4.1): UTF-8, no NUL, depth,
 * no \u0000 escapes, chunk_size written as a plain integer. */
kvs_status kvs_json_precheck(const uint8_t *json, size_t len, kvs_error *err);

/* Size of the stored header (magic || header_len || JSON || tag) that
 * starts at start, from its prefix; avail < 12 means the input ended there
 * (kvs_prefix_short). */
kvs_status kvs_stored_header_size(const uint8_t *start, size_t avail, size_t *size,
                                  kvs_error *err);

/* The input ended inside a stored header whose prefix was read. */
kvs_status kvs_header_cut_short(kvs_error *err);

/* Read the stored header (magic || header_len || JSON || tag) from the start
 * of fd into a new buffer (free()); checks the prefix on the way. */
kvs_status kvs_header_read_stored(int fd, uint8_t **bytes, size_t *len, kvs_error *err);

/* The same from any input: read fills buf up to len, *got < len only at
 * the end of the input (as kvs_read_full). */
typedef kvs_status (*kvs_header_reader)(void *ctx, uint8_t *buf, size_t len, size_t *got,
                                        kvs_error *err);
kvs_status kvs_header_read_stored_from(kvs_header_reader read, void *ctx, uint8_t **bytes,
                                       size_t *len, kvs_error *err);

/* Non-zero if the value of the k-th member of the (prechecked) top-level
 * object is written as plain decimal digits without a leading zero (§4.1). */
int kvs_json_member_is_plain_uint(const uint8_t *json, size_t len, size_t k);

/* Parse and validate header JSON text (§4, §5). */
kvs_status kvs_header_parse(const uint8_t *json, size_t len, kvs_header **out,
                            kvs_error *err);

/* Serialise magic || header_len || JSON into a new buffer (free()). */
kvs_status kvs_header_encode(const kvs_header *h, uint8_t **out, size_t *out_len,
                             kvs_error *err);

/* Append r to a cJSON array as a §5 recipient object: 0, or -1 when out of
 * memory (the header rewrite of kvs_rewrap_path builds on this). */
struct cJSON;
int kvs_recipient_json_append(struct cJSON *array, const kvs_recipient *r);

/* Deep copy of header fields into a fresh allocation. */
kvs_header *kvs_header_new(void);
kvs_status kvs_header_set_context(kvs_header *h, const kvs_context_pair *pairs, size_t n,
                                  kvs_error *err);

/* Keys derived from the DEK and the file's salt (§3). Lives in secure memory. */
typedef struct kvs_file_keys {
    uint8_t header_key[32];
    uint8_t payload_key[32];
    uint8_t commit[32]; /* FORMAT.md "Signed files": the data key commitment */
} kvs_file_keys;

kvs_file_keys *kvs_file_keys_new(void);
void kvs_file_keys_free(kvs_file_keys *k);
kvs_status kvs_derive_file_keys(const uint8_t dek[32], const uint8_t salt[KVS_SALT_LEN],
                                kvs_file_keys *out);

/* HMAC-SHA256 over the stored prefix and JSON bytes (§3). */
kvs_status kvs_header_tag(const kvs_file_keys *k, const uint8_t *prefix_and_json,
                          size_t len, uint8_t tag[KVS_TAG_LEN]);
/* Constant-time check of a stored tag; KVS_ERR_AUTH on mismatch. */
kvs_status kvs_header_tag_verify(const kvs_file_keys *k, const uint8_t *prefix_and_json,
                                 size_t len, const uint8_t tag[KVS_TAG_LEN]);

/* Every required pair must be present with an identical value. */
kvs_status kvs_header_check_context(const kvs_header *h, const kvs_context_pair *required,
                                    size_t n, kvs_error *err);

#endif
