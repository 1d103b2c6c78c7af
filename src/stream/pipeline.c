/* Whole files over sources and sinks, and the public one-shot helpers over
 * file descriptors and memory built on them (include/kvseal/envelope.h).
 * The chunk engine itself is stream/engine.h. */
#include <string.h>

#include "core/error.h"
#include "format/format.h"
#include "kvseal/envelope.h"
#include "stream/chunk.h"
#include "stream/dek_session.h"
#include "stream/io_fd.h"
#include "stream/io_limit.h"
#include "stream/io_mem.h"
#include "stream/pipeline.h"
#include "stream/signed_file.h"

#define KVS_ROOTS_WINDOW KVS_ENGINE_ROOTS_WINDOW

kvs_status kvs_encrypt_source(kvs_source *in, kvs_sink *out, const kvs_encrypt_options *opts,
                              kvs_provider *const *recipients, size_t n_recipients,
                              kvs_engine_result *res, kvs_error *err)
{
    kvs_sealed_header sh;
    memset(res, 0, sizeof *res);
    kvs_status st = kvs_seal_header(opts, recipients, n_recipients, &sh, err);
    if (st != KVS_OK) return st;
    kvs_engine_job job = {.key = sh.keys->payload_key, .in = in, .out = out,
                          .header = sh.bytes, .header_len = sh.len};
    kvs_sign_job sign = {opts ? opts->signer : NULL, sh.header, sh.keys, NULL};
    kvs_chunk_plan_init(&job.plan, sh.chunk_size, 1);
    if (opts) {
        job.threads = opts->threads;
        job.progress = opts->progress;
        job.progress_arg = opts->progress_arg;
    }
    if (sign.signer) { /* leaves in the workers, the trailer after the final chunk */
        if (!(sign.roots = kvs_roots_new(KVS_ROOTS_WINDOW)))
            st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        job.roots = sign.roots;
        job.tail_len = kvs_sign_job_tail_len;
        job.tail = kvs_sign_job_tail;
        job.tail_arg = &sign;
    }
    if (st == KVS_OK) st = kvs_engine_transfer(&job, res, err);
    kvs_roots_free(sign.roots);
    if (opts && opts->dek_session) /* the bytes sealed count against the shared DEK */
        kvs_dek_session_add_bytes(opts->dek_session, sh.dek_generation, res->consumed);
    kvs_sealed_header_clear(&sh);
    return st;
}

/* A signed file (FORMAT.md "Signed files"). From a seekable input the
 * trailer is read and checked first, the engine sees the payload only, and
 * with a required signer each segment's root is checked before its chunks
 * count as released. From a stream the engine finds the trailer after the
 * final chunk and checks it before the sink commits; with a required
 * signer nothing counts as released before that, so the output must be
 * one that can be taken back (a file), never a pipe. */
static kvs_status plan_signed(kvs_engine_job *job, kvs_signed_check *sc, kvs_limit_source *payload,
                              kvs_error *err)
{
    kvs_source *in = job->in;
    int seekable = (in->caps & KVS_IO_POSITIONAL) && in->size != KVS_IO_SIZE_UNKNOWN;
    if (sc->pub && !(sc->roots = kvs_roots_new(KVS_ROOTS_WINDOW)))
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    job->roots = sc->roots;
    if (seekable) {
        kvs_status st = kvs_signed_read_trailer(in, sc, err);
        if (st != KVS_OK) return st;
        kvs_limit_source_init(payload, in, job->plan.in_base, sc->payload_end);
        job->in = &payload->base;
        job->expect_roots = sc->pub ? sc->trailer.roots : NULL;
        job->expect_m = sc->trailer.m;
        return KVS_OK;
    }
    if (sc->pub && !(job->out->caps & KVS_IO_POSITIONAL))
        return kvs_fail(err, KVS_ERR_USAGE,
                        "a required signer cannot be checked from a pipe to a pipe: its trailer comes "
                        "last, so write the output to a file (or read the input from one)");
    job->find_tail = 1;
    job->release_at_end = sc->pub != NULL;
    job->tail_check = kvs_signed_tail_check;
    job->tail_arg = sc;
    return KVS_OK;
}

kvs_status kvs_decrypt_source(kvs_source *in, kvs_sink *out, const kvs_decrypt_options *opts,
                              kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                              kvs_engine_result *res, kvs_error *err)
{
    kvs_opened_header oh;
    memset(res, 0, sizeof *res);
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_open_header_source(in, opts, keys, n_keys, KVS_UNLOCK_NOW, &oh, err);
    if (st != KVS_OK) return st;
    kvs_engine_job job = {.key = oh.keys->payload_key, .in = in, .out = out};
    kvs_chunk_plan_init(&job.plan, oh.header->chunk_size, 0);
    job.plan.in_base = kvs_header_payload_offset(oh.header);
    if (opts) {
        job.threads = opts->threads;
        job.progress = opts->progress;
        job.progress_arg = opts->progress_arg;
    }
    kvs_signed_check sc = {.header = oh.header, .commit = oh.keys->commit, .pub = oh.signer_pub};
    kvs_limit_source payload;
    if (oh.header->signer.type[0]) st = plan_signed(&job, &sc, &payload, err);
    if (st == KVS_OK) st = kvs_engine_transfer(&job, res, err);
    kvs_roots_free(sc.roots);
    kvs_signed_check_clear(&sc);
    if (st == KVS_OK && header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return st;
}

kvs_status kvs_encrypt_fd(int in_fd, int out_fd, const kvs_encrypt_options *opts,
                          kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    kvs_fd_source in;
    kvs_fd_sink out;
    kvs_engine_result res;
    kvs_fd_source_init(&in, in_fd, 1); /* a file that changes size is refused */
    kvs_fd_sink_init(&out, out_fd);
    return kvs_encrypt_source(&in.base, &out.base, opts, recipients, n_recipients, &res, err);
}

kvs_status kvs_decrypt_fd(int in_fd, int out_fd, const kvs_decrypt_options *opts,
                          kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                          kvs_error *err)
{
    kvs_fd_source in;
    kvs_fd_sink file;
    kvs_sink discard;
    kvs_engine_result res;
    kvs_fd_source_init(&in, in_fd, 0);
    kvs_fd_sink_init(&file, out_fd);
    kvs_discard_sink_init(&discard);
    kvs_sink *out = out_fd < 0 ? &discard : &file.base; /* the API's "verify only" */
    return kvs_decrypt_source(&in.base, out, opts, keys, n_keys, header_out, &res, err);
}

size_t kvs_encrypt_mem_bound(size_t plain_len, uint32_t chunk_size)
{
    size_t chunk = chunk_size ? chunk_size : KVS_CHUNK_DEFAULT;
    size_t tags = (plain_len / chunk + 1) * KVS_CHUNK_TAG_LEN;
    size_t header = KVS_PREFIX_LEN + KVS_HEADER_MAX + KVS_TAG_LEN;
    /* room for a signed file's trailer too */
    size_t trailer = (plain_len / chunk / KVS_SEGMENT_CHUNKS + 1) * KVS_HASH_LEN + KVS_HASH_LEN +
                     KVS_SIG_MAX_LEN + KVS_TRAILER_TAIL_LEN;
    if (plain_len > SIZE_MAX - tags - header - trailer) return SIZE_MAX;
    return header + plain_len + tags + trailer;
}

kvs_status kvs_encrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap,
                           size_t *out_len, const kvs_encrypt_options *opts,
                           kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    kvs_mem_source src;
    kvs_mem_sink dst;
    kvs_engine_result res;
    *out_len = 0;
    if ((!in && in_len > 0) || !out) return kvs_fail(err, KVS_ERR_USAGE, "no input or output buffer");
    kvs_mem_source_init(&src, in, in_len);
    kvs_mem_sink_init(&dst, out, out_cap, 0);
    kvs_status st = kvs_encrypt_source(&src.base, &dst.base, opts, recipients, n_recipients, &res, err);
    if (st == KVS_OK) *out_len = (size_t)res.out_len;
    return st;
}

kvs_status kvs_decrypt_mem(const void *in, size_t in_len, void *out, size_t out_cap,
                           size_t *out_len, const kvs_decrypt_options *opts,
                           kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                           kvs_error *err)
{
    kvs_mem_source src;
    kvs_mem_sink dst;
    kvs_engine_result res;
    *out_len = 0;
    if (header_out) *header_out = NULL;
    if ((!in && in_len > 0) || !out) return kvs_fail(err, KVS_ERR_USAGE, "no input or output buffer");
    kvs_mem_source_init(&src, in, in_len);
    kvs_mem_sink_init(&dst, out, out_cap, 1); /* all or nothing: wiped on failure */
    kvs_status st = kvs_decrypt_source(&src.base, &dst.base, opts, keys, n_keys, header_out, &res, err);
    if (st == KVS_OK) *out_len = (size_t)res.out_len;
    return st;
}
