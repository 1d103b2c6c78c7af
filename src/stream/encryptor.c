/* Push/pull encryptor (include/kvseal/stream.h). A full chunk is sealed only
 * when more input arrives, since until then it might be the final one. A
 * signed file's leaves are hashed as chunks are sealed, in order, and its
 * trailer follows the final chunk. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stream/chunk.h"
#include "stream/dek_session.h"
#include "stream/signed_file.h"

struct kvs_encryptor {
    kvs_gcm *gcm;
    uint32_t chunk_size;
    uint8_t *in;       /* plaintext of the chunk being filled */
    size_t in_len;
    size_t in_touched; /* most plaintext bytes held: what needs wiping */
    uint8_t *out;      /* pending output: header, then one sealed chunk */
    size_t out_cap, out_pos, out_len;
    uint64_t index;    /* next chunk number */
    int finished;      /* no more input */
    int final_sealed;
    int failed;
    kvs_error err;
    kvs_dek_session *session; /* shared DEK: told the plaintext size at the end */
    uint64_t dek_generation;
    uint64_t total_in;
    kvs_sign_job sign;   /* signer NULL: an unsigned file */
    kvs_header *header;  /* signed: what M covers */
    kvs_file_keys *keys; /* signed: the commitment */
    uint8_t *tail;       /* signed: the trailer, once the final chunk is out */
    size_t tail_len, tail_pos;
};

static kvs_status fail(kvs_encryptor *e, kvs_status st, const char *msg)
{
    e->failed = 1;
    OPENSSL_cleanse(e->in, e->in_touched);
    e->out_len = e->out_pos = 0;
    return kvs_fail(&e->err, st, "%s", msg);
}

kvs_status kvs_encryptor_new(const kvs_encrypt_options *opts, kvs_provider *const *recipients,
                             size_t n_recipients, kvs_encryptor **out, kvs_error *err)
{
    kvs_sealed_header sh;
    *out = NULL;
    kvs_status st = kvs_seal_header(opts, recipients, n_recipients, &sh, err);
    if (st != KVS_OK) return st;
    kvs_encryptor *e = calloc(1, sizeof *e);
    if (e) {
        e->chunk_size = sh.chunk_size;
        e->out_cap = sh.chunk_size + (size_t)KVS_CHUNK_TAG_LEN;
        if (e->out_cap < sh.len) e->out_cap = sh.len;
        e->in = malloc(sh.chunk_size);
        e->out = malloc(e->out_cap);
        e->gcm = kvs_gcm_new(sh.keys->payload_key);
        e->session = opts ? opts->dek_session : NULL;
        e->dek_generation = sh.dek_generation;
        if (opts && opts->signer) { /* keep what the statement needs */
            e->header = sh.header;
            e->keys = sh.keys;
            sh.header = NULL;
            sh.keys = NULL;
            e->sign = (kvs_sign_job){opts->signer, e->header, e->keys, kvs_roots_new(1)};
        }
    }
    if (!e || !e->in || !e->out || !e->gcm || (e->sign.signer && !e->sign.roots)) {
        kvs_sealed_header_clear(&sh);
        kvs_encryptor_free(e);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    memcpy(e->out, sh.bytes, sh.len);
    e->out_len = sh.len;
    kvs_sealed_header_clear(&sh);
    *out = e;
    return KVS_OK;
}

static kvs_status seal_buffered(kvs_encryptor *e, int final)
{
    /* FORMAT.md §6: at most 2^32 chunks. */
    if (e->index >= KVS_MAX_CHUNKS)
        return fail(e, KVS_ERR_LIMIT, "input exceeds 2^32 chunks");
    kvs_status st = kvs_chunk_seal(e->gcm, e->index, final, e->in, e->in_len, e->out);
    if (st != KVS_OK) return fail(e, st, "chunk encryption failed");
    if (e->sign.signer) {
        uint8_t leaf[KVS_HASH_LEN];
        uint32_t complete = 0;
        if (kvs_leaf_hash(e->index, e->out, e->in_len + KVS_CHUNK_TAG_LEN, leaf) != KVS_OK ||
            kvs_roots_add(e->sign.roots, e->index, leaf, &complete) != KVS_OK)
            return fail(e, KVS_ERR_CRYPTO, "hashing a chunk failed");
    }
    OPENSSL_cleanse(e->in, e->in_len);
    e->out_pos = 0;
    e->out_len = e->in_len + KVS_CHUNK_TAG_LEN;
    e->in_len = 0;
    e->index++;
    if (final) e->final_sealed = 1;
    if (final && e->session) kvs_dek_session_add_bytes(e->session, e->dek_generation, e->total_in);
    return KVS_OK;
}

kvs_status kvs_encryptor_push(kvs_encryptor *e, const void *in, size_t len, size_t *consumed)
{
    const uint8_t *p = in;
    *consumed = 0;
    if (e->failed) return KVS_ERR_STATE;
    if (e->finished) return kvs_fail(&e->err, KVS_ERR_STATE, "push after finish");
    while (*consumed < len && e->out_pos == e->out_len) {
        if (e->in_len == e->chunk_size) {
            kvs_status st = seal_buffered(e, 0); /* more input follows: not final */
            if (st != KVS_OK) return st;
            break;
        }
        size_t take = e->chunk_size - e->in_len;
        if (take > len - *consumed) take = len - *consumed;
        memcpy(e->in + e->in_len, p + *consumed, take);
        e->in_len += take;
        if (e->in_len > e->in_touched) e->in_touched = e->in_len;
        *consumed += take;
        e->total_in += take;
    }
    return KVS_OK;
}

kvs_status kvs_encryptor_finish(kvs_encryptor *e)
{
    if (e->failed) return KVS_ERR_STATE;
    e->finished = 1;
    return KVS_OK;
}

/* Once the final chunk is out: the trailer, signed now (one signature). */
static kvs_status make_trailer(kvs_encryptor *e)
{
    kvs_error why = {0};
    kvs_status st = kvs_roots_finish(e->sign.roots, e->index);
    if (st == KVS_OK) st = kvs_sign_job_tail(&e->sign, e->index, &e->tail, &e->tail_len, &why);
    else kvs_fail(&why, st, "segment roots could not be completed");
    if (st != KVS_OK) {
        fail(e, st, "");
        e->err = why;
        return st;
    }
    e->out_len = e->out_pos = 0;
    return KVS_OK;
}

kvs_status kvs_encryptor_pull(kvs_encryptor *e, void *out, size_t cap, size_t *written)
{
    *written = 0;
    if (e->failed) return KVS_ERR_STATE;
    if (e->out_pos == e->out_len && e->finished && !e->final_sealed) {
        kvs_status st = seal_buffered(e, 1);
        if (st != KVS_OK) return st;
    }
    if (e->sign.signer && e->final_sealed && e->out_pos == e->out_len && !e->tail) {
        kvs_status st = make_trailer(e);
        if (st != KVS_OK) return st;
    }
    if (e->tail) { /* the trailer, after everything else */
        size_t t = e->tail_len - e->tail_pos;
        if (t > cap) t = cap;
        memcpy(out, e->tail + e->tail_pos, t);
        e->tail_pos += t;
        *written = t;
        return KVS_OK;
    }
    size_t n = e->out_len - e->out_pos;
    if (n > cap) n = cap;
    memcpy(out, e->out + e->out_pos, n);
    e->out_pos += n;
    *written = n;
    return KVS_OK;
}

int kvs_encryptor_done(const kvs_encryptor *e)
{
    if (e->sign.signer && (!e->tail || e->tail_pos < e->tail_len)) return 0;
    return !e->failed && e->final_sealed && e->out_pos == e->out_len;
}

const kvs_error *kvs_encryptor_error(const kvs_encryptor *e)
{
    return &e->err;
}

void kvs_encryptor_free(kvs_encryptor *e)
{
    if (!e) return;
    if (e->in) OPENSSL_cleanse(e->in, e->in_touched);
    free(e->in);
    free(e->out);
    free(e->tail);
    kvs_roots_free(e->sign.roots);
    kvs_header_free(e->header);
    kvs_file_keys_free(e->keys);
    kvs_gcm_free(e->gcm);
    free(e);
}
