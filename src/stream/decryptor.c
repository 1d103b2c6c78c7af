/* Push/pull decryptor (include/kvseal/stream.h, FORMAT.md §7). A stored chunk
 * that fills its buffer is opened as non-final only once more input shows it
 * is not the last; at finish the buffered rest is opened as the final chunk.
 * A signed file's trailer follows its final chunk (FORMAT.md §15): a full
 * chunk that does not open as non-final starts the final region, which is
 * kept (bounded) until finish and split from its end; the trailer's form
 * and the data key commitment are checked. A required signer is refused:
 * nothing could be released before the trailer, at the very end. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stream/chunk.h"
#include "stream/chunk_plan.h"
#include "stream/signed_file.h"

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
    int signed_file;
    int in_rest;          /* signed: the final region is being gathered */
    uint8_t *rest;        /* ... the final chunk and the trailer */
    size_t rest_len, rest_cap;
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
                        "the push/pull decryptor cannot check a required signer (a stream's trailer "
                        "comes last): use kvs_decrypt_fd or kvs_decrypt_mem");
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
    d->signed_file = d->opened.header->signer.type[0] != 0;
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

/* Signed: the most the final region can hold after chunk `index` began it:
 * a stored chunk and the longest trailer of index + 1 chunks. */
static size_t rest_bound(const kvs_decryptor *d)
{
    return (size_t)kvs_signed_final_region_max(d->stored_cap, d->index);
}

static kvs_status rest_append(kvs_decryptor *d, const uint8_t *p, size_t n)
{
    if (n > rest_bound(d) - d->rest_len)
        return failed(d, kvs_fail(&d->err, KVS_ERR_AUTH, "authentication failed: chunk %llu (damaged or altered)",
                                  (unsigned long long)d->index));
    if (d->rest_len + n > d->rest_cap) {
        size_t cap = d->rest_cap ? d->rest_cap : d->stored_cap;
        while (cap < d->rest_len + n) cap *= 2;
        uint8_t *grown = realloc(d->rest, cap);
        if (!grown) return failed(d, kvs_fail(&d->err, KVS_ERR_NOMEM, "out of memory"));
        d->rest = grown;
        d->rest_cap = cap;
    }
    memcpy(d->rest + d->rest_len, p, n);
    d->rest_len += n;
    return KVS_OK;
}

/* Signed: the buffered chunk starts the final region. */
static kvs_status begin_rest(kvs_decryptor *d)
{
    d->in_rest = 1;
    kvs_status st = rest_append(d, d->stored, d->stored_len);
    d->stored_len = 0;
    return st;
}

/* Signed, a full stored chunk with more input after it: a non-final chunk
 * if it opens as one, else the start of the final region. */
static kvs_status open_full_signed(kvs_decryptor *d)
{
    if (kvs_chunk_open(d->gcm, d->index, 0, d->stored, d->stored_len, d->plain) != KVS_OK)
        return begin_rest(d);
    d->plain_pos = 0;
    d->plain_len = d->stored_len - KVS_CHUNK_TAG_LEN;
    if (d->plain_len > d->plain_touched) d->plain_touched = d->plain_len;
    d->stored_len = 0;
    d->index++;
    return KVS_OK;
}

/* Signed, at finish: split the final region into the final chunk and the
 * trailer by the trailer's own length fields, and check the trailer. */
static kvs_status split_rest(kvs_decryptor *d)
{
    size_t final_len = 0;
    kvs_status st = d->in_rest ? KVS_OK : begin_rest(d);
    if (st != KVS_OK) return st;
    st = kvs_signed_split_final(d->rest, d->rest_len, d->index, d->stored_cap, &final_len, &d->err);
    if (st != KVS_OK) return failed(d, st);
    kvs_signed_check sc = {.header = d->opened.header, .commit = d->opened.keys->commit};
    st = kvs_signed_tail_check(&sc, d->index + 1, d->rest + final_len, d->rest_len - final_len, &d->err);
    kvs_signed_check_clear(&sc);
    if (st != KVS_OK) return failed(d, st);
    memcpy(d->stored, d->rest, final_len);
    d->stored_len = final_len;
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
        if (d->in_rest) { /* signed: the final region, kept until finish */
            kvs_status st = rest_append(d, p + *consumed, len - *consumed);
            if (st != KVS_OK) return st;
            *consumed = len;
            break;
        }
        if (d->plain_pos < d->plain_len) break; /* caller must pull first */
        if (d->stored_len == d->stored_cap) { /* more input follows: not final */
            kvs_status st = d->signed_file ? open_full_signed(d) : open_stored(d, 0);
            if (st != KVS_OK) return st;
            if (d->in_rest) continue;
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
        kvs_status st = d->signed_file ? split_rest(d) : KVS_OK;
        if (st == KVS_OK) st = open_final(d);
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
    free(d->rest); /* stored bytes and the trailer: not secret */
    free(d);
}
