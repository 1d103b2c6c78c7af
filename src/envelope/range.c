/* Random-access decryption of a plaintext byte range (FORMAT.md §8), from
 * any positional source of known size (stream/io.h): a file, or a blob
 * (envelope/blob_range.c); ranged reads fetch only the header, the covering
 * chunks and the final chunk. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "kvseal/envelope.h"
#include "stream/chunk.h"
#include "stream/chunk_plan.h"
#include "envelope/range.h"
#include "stream/io_fd.h"
#include "stream/signed_file.h"

typedef struct range_job {
    kvs_source *in;
    const kvs_header *h;
    kvs_chunk_plan plan; /* opening, chunk 0 at the payload offset */
    kvs_gcm *gcm;
    uint64_t chunks;
    uint64_t file_size; /* as measured once: the last chunk's length follows */
    uint8_t *stored, *plain;
    size_t touched; /* most plaintext bytes held: what needs wiping */
    kvs_signed_check sc; /* a signed file: its trailer; with sc.pub, roots are checked */
    uint8_t *segment;    /* with sc.pub: one segment's stored chunks, read once */
} range_job;

/* Read and authenticate chunk i; its plaintext lands in j->plain. */
static kvs_status open_chunk(range_job *j, uint64_t i, size_t *plain_len, kvs_error *err)
{
    uint64_t start = kvs_chunk_plan_in_offset(&j->plan, i);
    size_t len = kvs_chunk_plan_in_unit(&j->plan);
    if (i == j->chunks - 1) len = (size_t)(j->file_size - start); /* geometry: 16..len */
    if (len - KVS_CHUNK_TAG_LEN > j->touched) j->touched = len - KVS_CHUNK_TAG_LEN;
    kvs_status st = j->in->ops->read_at(j->in, start, j->stored, len, err);
    if (st != KVS_OK) return st;
    st = kvs_chunk_open_checked(j->gcm, i, i == j->chunks - 1, j->stored, len, j->plain, err);
    if (st != KVS_OK) return st;
    *plain_len = len - KVS_CHUNK_TAG_LEN;
    return KVS_OK;
}

/* Stored length and offset of chunk i. */
static size_t stored_len(const range_job *j, uint64_t i, uint64_t *start)
{
    *start = kvs_chunk_plan_in_offset(&j->plan, i);
    if (i == j->chunks - 1) return (size_t)(j->file_size - *start);
    return kvs_chunk_plan_in_unit(&j->plan);
}

/* Read segment s's chunks once into j->segment and check its root against
 * the signed trailer: what is then opened from memory is what was hashed. */
static kvs_status load_segment(range_job *j, uint64_t s, kvs_error *err)
{
    uint8_t leaves[KVS_SEGMENT_CHUNKS][KVS_HASH_LEN], root[KVS_HASH_LEN];
    uint64_t first = s * KVS_SEGMENT_CHUNKS, start = 0;
    size_t unit = kvs_chunk_plan_in_unit(&j->plan), n = 0;
    for (uint64_t i = first; i < j->chunks && n < KVS_SEGMENT_CHUNKS; i++, n++) {
        size_t len = stored_len(j, i, &start);
        uint8_t *at = j->segment + n * unit;
        kvs_status st = j->in->ops->read_at(j->in, start, at, len, err);
        if (st == KVS_OK && kvs_leaf_hash(i, at, len, leaves[n]) != KVS_OK)
            st = kvs_fail(err, KVS_ERR_CRYPTO, "SHA-256 of a chunk failed");
        if (st != KVS_OK) return st;
    }
    if (kvs_segment_root(s, (const uint8_t(*)[KVS_HASH_LEN])leaves, n, root) != KVS_OK)
        return kvs_fail(err, KVS_ERR_CRYPTO, "SHA-256 of a segment failed");
    return kvs_segment_root_check(j->sc.trailer.roots, j->sc.trailer.m, s, root, err);
}

/* Open chunk i of the loaded segment. */
static kvs_status open_loaded(range_job *j, uint64_t i, size_t *plain_len, kvs_error *err)
{
    uint64_t start = 0;
    size_t len = stored_len(j, i, &start);
    const uint8_t *at = j->segment + (i % KVS_SEGMENT_CHUNKS) * kvs_chunk_plan_in_unit(&j->plan);
    if (len - KVS_CHUNK_TAG_LEN > j->touched) j->touched = len - KVS_CHUNK_TAG_LEN;
    kvs_status st = kvs_chunk_open_checked(j->gcm, i, i == j->chunks - 1, at, len, j->plain, err);
    if (st == KVS_OK) *plain_len = len - KVS_CHUNK_TAG_LEN;
    return st;
}

static kvs_status copy_range(range_job *j, uint64_t offset, uint64_t end, int out_fd,
                             kvs_error *err)
{
    uint64_t cs = j->h->chunk_size;
    for (uint64_t i = offset / cs; i * cs < end; i++) {
        size_t plain_len = 0;
        kvs_status st = KVS_OK;
        if (j->segment && (i == offset / cs || i % KVS_SEGMENT_CHUNKS == 0))
            st = load_segment(j, i / KVS_SEGMENT_CHUNKS, err);
        if (st == KVS_OK) st = j->segment ? open_loaded(j, i, &plain_len, err) : open_chunk(j, i, &plain_len, err);
        if (st != KVS_OK) return st;
        uint64_t from = i * cs < offset ? offset - i * cs : 0;
        uint64_t to = (i + 1) * cs > end ? end - i * cs : plain_len;
        st = kvs_write_full(out_fd, j->plain + from, (size_t)(to - from), err);
        if (st != KVS_OK) return st;
    }
    return KVS_OK;
}

static kvs_status run_range(range_job *j, uint64_t offset, uint64_t length, int out_fd,
                            kvs_error *err)
{
    uint64_t plain_size = 0;
    if (!(j->in->caps & KVS_IO_POSITIONAL) || j->in->size == KVS_IO_SIZE_UNKNOWN)
        return kvs_fail(err, KVS_ERR_USAGE, "range decryption needs a regular file");
    j->file_size = j->in->size;
    if (j->h->signer.type[0]) { /* the payload ends where the trailer begins */
        kvs_status st = kvs_signed_read_trailer(j->in, &j->sc, err);
        if (st != KVS_OK) return st;
        j->file_size = j->sc.payload_end;
    }
    kvs_status st = kvs_header_payload_geometry(j->h, j->file_size, &plain_size, &j->chunks);
    if (st != KVS_OK)
        return kvs_fail(err, st, st == KVS_ERR_TRUNCATED ? "truncated file: its size ends inside a chunk"
                                                         : "malformed payload: its size fits no chunk layout");
    if (offset > plain_size)
        return kvs_fail(err, KVS_ERR_USAGE, "offset %llu is beyond the plaintext size %llu",
                        (unsigned long long)offset, (unsigned long long)plain_size);
    uint64_t end = length > plain_size - offset ? plain_size : offset + length;
    size_t final_len = 0;
    /* §8: the final chunk is always authenticated, so truncation is caught
     * (with a verified signature, n is signed: the trailer caught it). */
    if (!j->segment) {
        st = open_chunk(j, j->chunks - 1, &final_len, err);
        OPENSSL_cleanse(j->plain, final_len);
        if (st != KVS_OK) return st;
    }
    return offset < end ? copy_range(j, offset, end, out_fd, err) : KVS_OK;
}

kvs_status kvs_decrypt_range_source(kvs_source *in, uint64_t offset, uint64_t length, int out_fd,
                                    const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                    size_t n_keys, kvs_error *err)
{
    kvs_opened_header oh;
    kvs_status st = kvs_open_header_source(in, opts, keys, n_keys, KVS_UNLOCK_NOW, &oh, err);
    if (st != KVS_OK) return st;
    range_job j = {.in = in, .h = oh.header, .gcm = kvs_gcm_new(oh.keys->payload_key)};
    j.sc = (kvs_signed_check){.header = oh.header, .commit = oh.keys->commit, .pub = oh.signer_pub};
    kvs_chunk_plan_init(&j.plan, oh.header->chunk_size, 0);
    j.plan.in_base = kvs_header_payload_offset(oh.header);
    size_t cap = kvs_chunk_plan_in_unit(&j.plan);
    j.stored = malloc(cap);
    j.plain = malloc(cap);
    if (oh.signer_pub) j.segment = malloc(cap * KVS_SEGMENT_CHUNKS); /* not secret: stored bytes */
    if (!j.gcm || !j.stored || !j.plain || (oh.signer_pub && !j.segment))
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    else st = run_range(&j, offset, length, out_fd, err);
    if (j.plain) OPENSSL_cleanse(j.plain, j.touched);
    free(j.plain);
    free(j.stored);
    free(j.segment);
    kvs_signed_check_clear(&j.sc);
    kvs_gcm_free(j.gcm);
    kvs_opened_header_clear(&oh);
    return st;
}

kvs_status kvs_decrypt_range_fd(int in_fd, uint64_t offset, uint64_t length, int out_fd,
                                const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                size_t n_keys, kvs_error *err)
{
    kvs_fd_source in;
    /* chunks are read at absolute offsets, so the header is read from 0 too */
    if (lseek(in_fd, 0, SEEK_SET) != 0)
        return kvs_fail(err, KVS_ERR_USAGE, "range decryption needs a seekable file");
    kvs_fd_source_init(&in, in_fd, 0);
    return kvs_decrypt_range_source(&in.base, offset, length, out_fd, opts, keys, n_keys, err);
}
