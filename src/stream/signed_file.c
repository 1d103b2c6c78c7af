/* Signed files at the stream layer (stream/signed_file.h): make the trailer
 * when sealing, check it when opening. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "keys/signer.h"
#include "stream/signed_file.h"

uint64_t kvs_sign_job_tail_len(void *arg, uint64_t chunks)
{
    const kvs_sign_job *j = arg;
    return kvs_trailer_len(kvs_segments_for(chunks), (uint16_t)j->signer->sig_len);
}

/* The roots, contiguous, as the trailer and M need them (new buffer). */
static kvs_status roots_copy(const kvs_roots *r, uint32_t m, uint8_t **out, kvs_error *err)
{
    if (kvs_roots_count(r) != m)
        return kvs_fail(err, KVS_ERR_INTERNAL, "%u of %u segment roots are complete",
                        kvs_roots_count(r), m);
    uint8_t *b = malloc((size_t)m * KVS_HASH_LEN);
    if (!b) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (uint32_t j = 0; j < m; j++) memcpy(b + (size_t)j * KVS_HASH_LEN, kvs_roots_get(r, j), KVS_HASH_LEN);
    *out = b;
    return KVS_OK;
}

kvs_status kvs_sign_job_tail(void *arg, uint64_t chunks, uint8_t **bytes, size_t *len,
                             kvs_error *err)
{
    kvs_sign_job *j = arg;
    uint32_t m = kvs_segments_for(chunks);
    uint8_t *roots = NULL, *stmt = NULL, digest[KVS_HASH_LEN], sig[KVS_SIG_MAX_LEN];
    size_t stmt_len = 0, sig_len = 0;
    kvs_status st = roots_copy(j->roots, m, &roots, err);
    if (st == KVS_OK && kvs_roots_digest(roots, m, digest) != KVS_OK)
        st = kvs_fail(err, KVS_ERR_CRYPTO, "hashing the segment roots failed");
    if (st == KVS_OK)
        st = kvs_statement_build(j->header, chunks, j->keys->commit, m, digest, &stmt, &stmt_len, err);
    if (st == KVS_OK) st = kvs_signer_sign_statement(j->signer, stmt, stmt_len, sig, &sig_len, err);
    if (st == KVS_OK && sig_len != j->signer->sig_len)
        st = kvs_fail(err, KVS_ERR_INTERNAL, "the signature is %zu bytes, %zu expected", sig_len,
                      j->signer->sig_len);
    if (st == KVS_OK)
        st = kvs_trailer_encode(roots, m, j->keys->commit, sig, (uint16_t)sig_len, bytes, len, err);
    free(stmt);
    free(roots);
    return st;
}

kvs_status kvs_signed_payload_end(const kvs_header *h, uint64_t file_size,
                                  const uint8_t tail[KVS_TRAILER_TAIL_LEN], uint64_t *payload_end,
                                  uint32_t *m, uint16_t *sig_len, kvs_error *err)
{
    kvs_status st = kvs_trailer_parse_tail(tail, m, sig_len, err);
    if (st != KVS_OK) return st;
    uint64_t tlen = kvs_trailer_len(*m, *sig_len);
    if (file_size < kvs_header_payload_offset(h) + KVS_CHUNK_TAG_LEN + tlen)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it is too short for its trailer");
    *payload_end = file_size - tlen;
    return KVS_OK;
}

/* The trailer agrees with the header and the payload, the commitment with
 * the DEK, and (with a required signer) the signature with M. */
static kvs_status check_trailer(kvs_signed_check *c, kvs_error *err)
{
    const kvs_trailer *t = &c->trailer;
    kvs_status st = kvs_trailer_check(t, c->header, c->chunks, err);
    if (st != KVS_OK) return st;
    if (c->commit && CRYPTO_memcmp(c->commit, t->commit, KVS_HASH_LEN) != 0)
        return kvs_fail(err, KVS_ERR_AUTH,
                        "authentication failed: the trailer does not commit to this file's data key");
    if (!c->pub) return KVS_OK;
    uint8_t digest[KVS_HASH_LEN], *stmt = NULL;
    size_t stmt_len = 0;
    if (kvs_roots_digest(t->roots, t->m, digest) != KVS_OK)
        return kvs_fail(err, KVS_ERR_CRYPTO, "hashing the segment roots failed");
    st = kvs_statement_build(c->header, c->chunks, t->commit, t->m, digest, &stmt, &stmt_len, err);
    if (st == KVS_OK) st = kvs_signature_verify(c->pub, c->header, stmt, stmt_len, t->sig, t->sig_len, err);
    free(stmt);
    return st;
}

kvs_status kvs_signed_read_trailer(kvs_source *in, kvs_signed_check *c, kvs_error *err)
{
    uint8_t tail[KVS_TRAILER_TAIL_LEN];
    uint32_t m = 0;
    uint16_t sig_len = 0;
    uint64_t plain = 0, size = in->size;
    if (size < KVS_TRAILER_TAIL_LEN)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its trailer");
    kvs_status st = in->ops->read_at(in, size - KVS_TRAILER_TAIL_LEN, tail, sizeof tail, err);
    if (st == KVS_OK) st = kvs_signed_payload_end(c->header, size, tail, &c->payload_end, &m, &sig_len, err);
    if (st != KVS_OK) return st;
    st = kvs_header_payload_geometry(c->header, c->payload_end, &plain, &c->chunks);
    if (st != KVS_OK)
        return kvs_fail(err, st, st == KVS_ERR_TRUNCATED ? "truncated file: its payload ends inside a chunk"
                                                         : "malformed payload: its size fits no chunk layout");
    size_t tlen = (size_t)kvs_trailer_len(m, sig_len);
    uint8_t *bytes = malloc(tlen);
    if (!bytes) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    st = in->ops->read_at(in, c->payload_end, bytes, tlen, err);
    if (st == KVS_OK) st = kvs_trailer_parse(bytes, tlen, &c->trailer, err);
    free(bytes);
    if (st != KVS_OK) return st;
    c->have_trailer = 1;
    return check_trailer(c, err);
}

kvs_status kvs_signed_tail_check(void *arg, uint64_t chunks, const uint8_t *found,
                                 size_t found_len, kvs_error *err)
{
    kvs_signed_check *c = arg;
    if (!found) return kvs_fail(err, KVS_ERR_INTERNAL, "no trailer was found");
    kvs_status st = kvs_trailer_parse(found, found_len, &c->trailer, err);
    if (st != KVS_OK) return st;
    c->have_trailer = 1;
    c->chunks = chunks;
    st = check_trailer(c, err);
    if (st != KVS_OK || !c->roots) return st;
    for (uint32_t j = 0; st == KVS_OK && j < c->trailer.m; j++)
        st = kvs_segment_root_check(c->trailer.roots, c->trailer.m, j, kvs_roots_get(c->roots, j), err);
    return st;
}

void kvs_signed_check_clear(kvs_signed_check *c)
{
    if (c->have_trailer) kvs_trailer_clear(&c->trailer);
    c->have_trailer = 0;
}

uint64_t kvs_signed_final_region_max(size_t unit, uint64_t index)
{
    return unit + (uint64_t)kvs_segments_for(index + 1) * KVS_HASH_LEN + KVS_HASH_LEN + KVS_SIG_MAX_LEN +
           KVS_TRAILER_TAIL_LEN;
}

kvs_status kvs_signed_split_final(const uint8_t *region, size_t have, uint64_t index, size_t unit,
                                  size_t *final_len, kvs_error *err)
{
    uint32_t m = 0;
    uint16_t sig_len = 0;
    if (have < KVS_CHUNK_TAG_LEN + KVS_TRAILER_TAIL_LEN)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its trailer");
    kvs_status st = kvs_trailer_parse_tail(region + have - KVS_TRAILER_TAIL_LEN, &m, &sig_len, err);
    if (st != KVS_OK) return st;
    uint64_t tlen = kvs_trailer_len(m, sig_len);
    if (m > kvs_segments_for(index + 1) || tlen + KVS_CHUNK_TAG_LEN > have)
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed trailer: %u segments do not fit the file", m);
    if (have - tlen > unit)
        return kvs_fail(err, KVS_ERR_AUTH, "authentication failed: chunk %llu (damaged or altered)",
                        (unsigned long long)index);
    *final_len = (size_t)(have - tlen);
    return KVS_OK;
}
