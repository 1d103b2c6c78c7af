/* Internal: the byte-level pieces of signed files (docs/FORMAT.md "Signed
 * files"): leaves, segment roots, the trailer and the signed statement M.
 * Pure functions over memory; the engine (stream/) decides when they run. */
#ifndef KVS_FORMAT_SIGNED_H
#define KVS_FORMAT_SIGNED_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/header.h"
#include "kvseal/sign.h"

#define KVS_HASH_LEN 32
#define KVS_TRAILER_TAIL_LEN 10 /* m (4) || sig_len (2) || end_magic (4) */
#define KVS_TRAILER_MAGIC "KVSS"

/* leaf_i = SHA-256("kvseal/v1/leaf" || u64(i) || stored_i). */
kvs_status kvs_leaf_hash(uint64_t index, const uint8_t *stored, size_t len,
                         uint8_t leaf[KVS_HASH_LEN]);

/* Segments of n chunks: m = ceil(n / 16) (n >= 1). */
uint32_t kvs_segments_for(uint64_t chunks);

/* Segment roots from leaves that arrive in any order, from several threads
 * (the caller serialises calls). Leaves are kept only for segments not yet
 * complete: a window of `window` chunks past the lowest missing one
 * (KVS_ERR_INTERNAL if a leaf is further ahead: the engine never is).
 * The roots themselves are kept: 32 bytes per 16 chunks. */
typedef struct kvs_roots kvs_roots;

kvs_roots *kvs_roots_new(size_t window);
void kvs_roots_free(kvs_roots *r);
/* Add leaf i. Returns the number of complete segments so far in *complete
 * (segments whose 16 leaves, or the final segment's fewer, arrived), in
 * order: segment j is complete only if every segment below it is. The final
 * segment is completed only by kvs_roots_finish. */
kvs_status kvs_roots_add(kvs_roots *r, uint64_t index, const uint8_t leaf[KVS_HASH_LEN],
                         uint32_t *complete);
/* Every leaf of n chunks has been added: finish the last segment. */
kvs_status kvs_roots_finish(kvs_roots *r, uint64_t chunks);
uint32_t kvs_roots_count(const kvs_roots *r);
const uint8_t *kvs_roots_get(const kvs_roots *r, uint32_t j); /* complete segments only */

/* root_j over the given leaves (1 to 16), for range reads. */
kvs_status kvs_segment_root(uint64_t segment, const uint8_t (*leaves)[KVS_HASH_LEN],
                            size_t n_leaves, uint8_t root[KVS_HASH_LEN]);

/* A computed root of segment j (NULL: none could be computed) against the
 * trailer's (roots, m of them), in constant time: KVS_OK, or KVS_ERR_AUTH
 * naming the segment's chunks. The one check of every decoding path. */
kvs_status kvs_segment_root_check(const uint8_t *roots, uint32_t m, uint64_t j,
                                  const uint8_t *computed, kvs_error *err);

/* SHA-256("kvseal/v1/roots" || root_0 || ... || root_{m-1}); roots is m * 32 bytes. */
kvs_status kvs_roots_digest(const uint8_t *roots, uint32_t m, uint8_t out[KVS_HASH_LEN]);

/* The trailer: roots (m * 32) || commit (32) || signature || u32 m ||
 * u16 sig_len || "KVSS". */
typedef struct kvs_trailer {
    uint32_t m;
    uint16_t sig_len;
    uint8_t *roots; /* m * 32 bytes, owned */
    uint8_t commit[KVS_HASH_LEN];
    uint8_t sig[KVS_SIG_MAX_LEN];
} kvs_trailer;

uint64_t kvs_trailer_len(uint32_t m, uint16_t sig_len);

/* The last 10 bytes: m and sig_len, checked (end_magic; 1 <= sig_len <=
 * 1024; m >= 1); KVS_ERR_FORMAT naming what is wrong. */
kvs_status kvs_trailer_parse_tail(const uint8_t tail[KVS_TRAILER_TAIL_LEN], uint32_t *m,
                                  uint16_t *sig_len, kvs_error *err);

/* Parse a whole trailer of len bytes (= kvs_trailer_len of its tail). */
kvs_status kvs_trailer_parse(const uint8_t *bytes, size_t len, kvs_trailer *out, kvs_error *err);
void kvs_trailer_clear(kvs_trailer *t);

/* Serialise into a new buffer (free()). */
kvs_status kvs_trailer_encode(const uint8_t *roots, uint32_t m, const uint8_t commit[KVS_HASH_LEN],
                              const uint8_t *sig, uint16_t sig_len, uint8_t **out, size_t *out_len,
                              kvs_error *err);

/* A trailer agrees with the header and the payload it ends: m =
 * ceil(n / 16), sig_len fits alg (ES256: 64, ES384: 96, PS*: 384 to 1024).
 * KVS_ERR_FORMAT naming what is wrong. */
kvs_status kvs_trailer_check(const kvs_trailer *t, const kvs_header *h, uint64_t chunks,
                             kvs_error *err);

/* commit = HKDF-SHA256(IKM = DEK, salt, info = "kvseal/v1/commit", L = 32). */
kvs_status kvs_commit_derive(const uint8_t dek[32], const uint8_t salt[KVS_SALT_LEN],
                             uint8_t commit[KVS_HASH_LEN]);

/* The signed statement M of a header with a signer (new buffer, free()). */
kvs_status kvs_statement_build(const kvs_header *h, uint64_t chunks,
                               const uint8_t commit[KVS_HASH_LEN], uint32_t m,
                               const uint8_t roots_digest[KVS_HASH_LEN], uint8_t **out,
                               size_t *out_len, kvs_error *err);

#endif
