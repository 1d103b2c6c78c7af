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

typedef struct range_job {
    kvs_source *in;
    const kvs_header *h;
    kvs_chunk_plan plan; /* opening, chunk 0 at the payload offset */
    kvs_gcm *gcm;
    uint64_t chunks;
    uint64_t file_size; /* as measured once: the last chunk's length follows */
    uint8_t *stored, *plain;
    size_t touched; /* most plaintext bytes held: what needs wiping */
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

static kvs_status copy_range(range_job *j, uint64_t offset, uint64_t end, int out_fd,
                             kvs_error *err)
{
    uint64_t cs = j->h->chunk_size;
    for (uint64_t i = offset / cs; i * cs < end; i++) {
        size_t plain_len = 0;
        kvs_status st = open_chunk(j, i, &plain_len, err);
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
    kvs_status st = kvs_header_payload_geometry(j->h, j->file_size, &plain_size, &j->chunks);
    if (st != KVS_OK)
        return kvs_fail(err, st, st == KVS_ERR_TRUNCATED ? "truncated file: its size ends inside a chunk"
                                                         : "malformed payload: its size fits no chunk layout");
    if (offset > plain_size)
        return kvs_fail(err, KVS_ERR_USAGE, "offset %llu is beyond the plaintext size %llu",
                        (unsigned long long)offset, (unsigned long long)plain_size);
    uint64_t end = length > plain_size - offset ? plain_size : offset + length;
    size_t final_len = 0;
    /* §8: the final chunk is always authenticated, so truncation is caught. */
    st = open_chunk(j, j->chunks - 1, &final_len, err);
    OPENSSL_cleanse(j->plain, final_len);
    if (st != KVS_OK) return st;
    return offset < end ? copy_range(j, offset, end, out_fd, err) : KVS_OK;
}

kvs_status kvs_decrypt_range_source(kvs_source *in, uint64_t offset, uint64_t length, int out_fd,
                                    const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                    size_t n_keys, kvs_error *err)
{
    kvs_opened_header oh;
    kvs_status st = kvs_open_header_source(in, opts, keys, n_keys, KVS_UNLOCK_NOW, &oh, err);
    if (st != KVS_OK) return st;
    range_job j = {in, oh.header, {0}, kvs_gcm_new(oh.keys->payload_key), 0, 0, NULL, NULL, 0};
    kvs_chunk_plan_init(&j.plan, oh.header->chunk_size, 0);
    j.plan.in_base = kvs_header_payload_offset(oh.header);
    size_t cap = kvs_chunk_plan_in_unit(&j.plan);
    j.stored = malloc(cap);
    j.plain = malloc(cap);
    if (!j.gcm || !j.stored || !j.plain) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    else st = run_range(&j, offset, length, out_fd, err);
    if (j.plain) OPENSSL_cleanse(j.plain, j.touched);
    free(j.plain);
    free(j.stored);
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
