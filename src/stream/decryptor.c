/* Push/pull decryptor (include/kvseal/stream.h, FORMAT.md §7). A stored chunk
 * that fills its buffer is opened as non-final only once more input shows it
 * is not the last; at finish the buffered rest is opened as the final chunk. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stream/chunk.h"
#include "stream/chunk_plan.h"

enum dec_state { DEC_PREFIX, DEC_HEADER, DEC_CHUNKS, DEC_DONE, DEC_FAILED };

struct kvs_decryptor {
    enum dec_state state;
    kvs_decrypt_options opts;
    kvs_provider *const *keys;
    size_t n_keys;
    uint8_t *hdr; /* stored header bytes while they arrive */
    size_t hdr_len, hdr_need;
    kvs_opened_header opened;
    kvs_gcm *gcm;
    uint8_t *stored; /* one stored chunk */
    size_t stored_len, stored_cap;
    uint8_t *plain;  /* verified plaintext waiting to be pulled */
    size_t plain_pos, plain_len;
    size_t plain_touched; /* most plaintext bytes held: what needs wiping */
    uint64_t index;
    int finished;
    int final_opened;
    kvs_error err;
};

/* Mark the context failed for good and wipe unreleased plaintext; st's
 * detail is already in d->err. */
static kvs_status failed(kvs_decryptor *d, kvs_status st)
{
    d->state = DEC_FAILED;
    if (d->plain) OPENSSL_cleanse(d->plain, d->plain_touched);
    d->plain_len = d->plain_pos = 0;
    return st;
}

kvs_status kvs_decryptor_new(const kvs_decrypt_options *opts, kvs_provider *const *keys,
                             size_t n_keys, kvs_decryptor **out, kvs_error *err)
{
    *out = NULL;
    kvs_decryptor *d = calloc(1, sizeof *d);
    if (!d) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (opts && opts->require_signer) {
        free(d);
        return kvs_fail(err, KVS_ERR_USAGE,
                        "the push/pull decryptor does not check signers: use kvs_decrypt_fd or kvs_decrypt_mem");
    }
    if (opts) d->opts = *opts;
    d->keys = keys;
    d->n_keys = n_keys;
    d->hdr_need = KVS_PREFIX_LEN;
    d->hdr = malloc(KVS_PREFIX_LEN);
    d->opened.recipient = -1;
    if (!d->hdr) {
        free(d);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    *out = d;
    return KVS_OK;
}

static kvs_status start_chunks(kvs_decryptor *d)
{
    uint32_t chunk = d->opened.header->chunk_size;
    d->stored_cap = chunk + (size_t)KVS_CHUNK_TAG_LEN;
    d->stored = malloc(d->stored_cap);
    d->plain = malloc(d->stored_cap);
    d->gcm = kvs_gcm_new(d->opened.keys->payload_key);
    if (!d->stored || !d->plain || !d->gcm)
        return failed(d, kvs_fail(&d->err, KVS_ERR_NOMEM, "out of memory"));
    d->state = DEC_CHUNKS;
    return KVS_OK;
}

/* The stored header is complete: parse, unlock, verify (§7 steps 1-4). */
static kvs_status header_complete(kvs_decryptor *d)
{
    if (d->state == DEC_PREFIX) {
        kvs_status st = kvs_stored_header_size(d->hdr, d->hdr_len, &d->hdr_need, &d->err);
        if (st != KVS_OK) return failed(d, st);
        uint8_t *grown = realloc(d->hdr, d->hdr_need);
        if (!grown) return failed(d, kvs_fail(&d->err, KVS_ERR_NOMEM, "out of memory"));
        d->hdr = grown;
        d->state = DEC_HEADER;
        return KVS_OK;
    }
    kvs_status st = kvs_open_header(d->hdr, d->hdr_len, &d->opts, d->keys, d->n_keys,
                                    KVS_UNLOCK_NOW, &d->opened, &d->err);
    free(d->hdr);
    d->hdr = NULL;
    if (st != KVS_OK) return failed(d, st);
    if (d->opened.header->signer.type[0]) /* its trailer needs the whole-file engine */
        return failed(d, kvs_fail(&d->err, KVS_ERR_USAGE,
                                  "a signed file: the push/pull decryptor does not read signed files; "
                                  "use kvs_decrypt_fd or kvs_decrypt_mem"));
    return start_chunks(d);
}

static size_t take_header_bytes(kvs_decryptor *d, const uint8_t *in, size_t len)
{
    size_t take = d->hdr_need - d->hdr_len;
    if (take > len) take = len;
    memcpy(d->hdr + d->hdr_len, in, take);
    d->hdr_len += take;
    return take;
}

/* Open the buffered stored chunk into the plaintext buffer. */
static kvs_status open_stored(kvs_decryptor *d, int final)
{
    kvs_status st = kvs_chunk_open_checked(d->gcm, d->index, final, d->stored, d->stored_len,
                                           d->plain, &d->err);
    if (st != KVS_OK) return failed(d, st);
    d->plain_pos = 0;
    d->plain_len = d->stored_len - KVS_CHUNK_TAG_LEN;
    if (d->plain_len > d->plain_touched) d->plain_touched = d->plain_len;
    d->stored_len = 0;
    d->index++;
    if (final) d->final_opened = 1;
    return KVS_OK;
}

static kvs_status open_final(kvs_decryptor *d)
{
    if (d->stored_len == 0 && d->index > 0)
        return failed(d, kvs_fail(&d->err, KVS_ERR_TRUNCATED,
                                  "truncated file: it ends before the final chunk (after %llu chunks)",
                                  (unsigned long long)d->index));
    kvs_status st = kvs_chunk_check_last(d->stored_len, d->index, &d->err);
    return st == KVS_OK ? open_stored(d, 1) : failed(d, st);
}

kvs_status kvs_decryptor_push(kvs_decryptor *d, const void *in, size_t len, size_t *consumed)
{
    const uint8_t *p = in;
    *consumed = 0;
    if (d->state == DEC_FAILED) return KVS_ERR_STATE;
    if (d->finished) return kvs_fail(&d->err, KVS_ERR_STATE, "push after finish");
    while (*consumed < len) {
        if (d->state == DEC_PREFIX || d->state == DEC_HEADER) {
            *consumed += take_header_bytes(d, p + *consumed, len - *consumed);
            if (d->hdr_len == d->hdr_need) {
                kvs_status st = header_complete(d);
                if (st != KVS_OK) return st;
            }
            continue;
        }
        if (d->state == DEC_DONE || d->final_opened)
            return failed(d, kvs_fail(&d->err, KVS_ERR_TRAILING_DATA, "trailing data after final chunk"));
        if (d->plain_pos < d->plain_len) break; /* caller must pull first */
        if (d->stored_len == d->stored_cap) {
            kvs_status st = open_stored(d, 0); /* more input follows: not final */
            if (st != KVS_OK) return st;
            break;
        }
        size_t take = d->stored_cap - d->stored_len;
        if (take > len - *consumed) take = len - *consumed;
        memcpy(d->stored + d->stored_len, p + *consumed, take);
        d->stored_len += take;
        *consumed += take;
    }
    return KVS_OK;
}

kvs_status kvs_decryptor_finish(kvs_decryptor *d)
{
    if (d->state == DEC_FAILED) return KVS_ERR_STATE;
    d->finished = 1;
    if (d->state == DEC_PREFIX)
        return failed(d, kvs_prefix_short(d->hdr, d->hdr_len, &d->err));
    if (d->state == DEC_HEADER)
        return failed(d, kvs_header_cut_short(&d->err));
    return KVS_OK;
}

kvs_status kvs_decryptor_pull(kvs_decryptor *d, void *out, size_t cap, size_t *written)
{
    *written = 0;
    if (d->state == DEC_FAILED) return KVS_ERR_STATE;
    if (d->state == DEC_CHUNKS && d->finished && d->plain_pos == d->plain_len &&
        !d->final_opened) {
        kvs_status st = open_final(d);
        if (st != KVS_OK) return st;
    }
    size_t n = d->plain_len - d->plain_pos;
    if (n > cap) n = cap;
    if (n) memcpy(out, d->plain + d->plain_pos, n);
    d->plain_pos += n;
    *written = n;
    if (d->final_opened && d->plain_pos == d->plain_len) {
        OPENSSL_cleanse(d->plain, d->plain_touched);
        d->state = DEC_DONE;
    }
    return KVS_OK;
}

int kvs_decryptor_done(const kvs_decryptor *d)
{
    return d->state == DEC_DONE;
}

const kvs_header *kvs_decryptor_header(const kvs_decryptor *d)
{
    return d->opened.header;
}

int kvs_decryptor_recipient(const kvs_decryptor *d)
{
    return d->opened.recipient;
}

kvs_header *kvs_decryptor_take_header(kvs_decryptor *d)
{
    kvs_header *h = d->opened.header;
    d->opened.header = NULL;
    return h;
}

const kvs_error *kvs_decryptor_error(const kvs_decryptor *d)
{
    return &d->err;
}

void kvs_decryptor_free(kvs_decryptor *d)
{
    if (!d) return;
    free(d->hdr);
    kvs_opened_header_clear(&d->opened);
    kvs_gcm_free(d->gcm);
    if (d->plain) OPENSSL_cleanse(d->plain, d->plain_touched);
    free(d->plain);
    free(d->stored);
    free(d);
}
