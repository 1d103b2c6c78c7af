/* What a signed file says about its signer, and proof of authorship
 * without any decryption key (include/kvseal/sign.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "core/error.h"
#include "format/format.h"
#include "keys/signer.h"
#include "kvseal/sign.h"
#include "stream/chunk_plan.h"
#include "stream/io_fd.h"
#include "envelope/signature.h"
#include "stream/signed_file.h"

/* The header at the start of a seekable fd, and the fd as a positional
 * source of its whole size. */
static kvs_status open_seekable(int fd, kvs_fd_source *in, kvs_header **h, kvs_error *err)
{
    *h = NULL;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return kvs_fail(err, KVS_ERR_USAGE, "a signature can only be checked in a seekable file");
    kvs_fd_source_init(in, fd, 0);
    if (!(in->base.caps & KVS_IO_POSITIONAL) || in->base.size == KVS_IO_SIZE_UNKNOWN)
        return kvs_fail(err, KVS_ERR_USAGE, "a signature can only be checked in a regular file");
    return kvs_header_read_fd(fd, h, err);
}

kvs_status kvs_signature_info_source(kvs_source *in, const kvs_header *h, kvs_signature_info *out,
                                     kvs_error *err)
{
    kvs_status st = KVS_OK;
    uint64_t payload_end = in->size;
    memset(out, 0, sizeof *out);
    if (h->signer.type[0]) {
        uint8_t tail[KVS_TRAILER_TAIL_LEN];
        out->signed_file = 1;
        snprintf(out->type, sizeof out->type, "%s", h->signer.type);
        snprintf(out->id, sizeof out->id, "%s", h->signer.id);
        snprintf(out->alg, sizeof out->alg, "%s", h->signer.alg);
        if (in->size < sizeof tail)
            st = kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends before its trailer");
        if (st == KVS_OK) st = in->ops->read_at(in, in->size - sizeof tail, tail, sizeof tail, err);
        if (st == KVS_OK)
            st = kvs_signed_payload_end(h, in->size, tail, &payload_end, &out->segments, &out->sig_len, err);
        out->trailer_len = kvs_trailer_len(out->segments, out->sig_len);
    }
    if (st == KVS_OK) {
        st = kvs_header_payload_geometry(h, payload_end, &out->plaintext_size, &out->chunks);
        if (st != KVS_OK) st = kvs_fail(err, st, "%s: the file's size does not fit its header", kvs_strerror(st));
    }
    if (st == KVS_OK && out->signed_file && out->segments != kvs_segments_for(out->chunks))
        st = kvs_fail(err, KVS_ERR_FORMAT, "malformed trailer: %u segments for %llu chunks", out->segments,
                      (unsigned long long)out->chunks);
    return st;
}

kvs_status kvs_signature_info_fd(int fd, kvs_signature_info *out, kvs_error *err)
{
    kvs_fd_source in;
    kvs_header *h = NULL;
    memset(out, 0, sizeof *out);
    kvs_status st = open_seekable(fd, &in, &h, err);
    if (st == KVS_OK) st = kvs_signature_info_source(&in.base, h, out, err);
    kvs_header_free(h);
    return st;
}

/* Hash every stored chunk, segment by segment, against the trailer's roots. */
static kvs_status check_roots(kvs_source *in, const kvs_header *h, const kvs_signed_check *sc,
                              kvs_error *err)
{
    kvs_chunk_plan plan;
    kvs_chunk_plan_init(&plan, h->chunk_size, 0);
    plan.in_base = kvs_header_payload_offset(h);
    size_t unit = kvs_chunk_plan_in_unit(&plan);
    uint8_t *buf = malloc(unit);
    uint8_t leaves[KVS_SEGMENT_CHUNKS][KVS_HASH_LEN], root[KVS_HASH_LEN];
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = KVS_OK;
    for (uint64_t i = 0; st == KVS_OK && i < sc->chunks; i++) {
        uint64_t start = kvs_chunk_plan_in_offset(&plan, i);
        size_t len = i + 1 == sc->chunks ? (size_t)(sc->payload_end - start) : unit;
        if (i + 1 == sc->chunks) st = kvs_chunk_check_last(len, i, err);
        if (st == KVS_OK) st = in->ops->read_at(in, start, buf, len, err);
        if (st == KVS_OK && kvs_leaf_hash(i, buf, len, leaves[i % KVS_SEGMENT_CHUNKS]) != KVS_OK)
            st = kvs_fail(err, KVS_ERR_CRYPTO, "SHA-256 of a chunk failed");
        if (st != KVS_OK || ((i + 1) % KVS_SEGMENT_CHUNKS != 0 && i + 1 != sc->chunks)) continue;
        uint64_t s = i / KVS_SEGMENT_CHUNKS;
        if (kvs_segment_root(s, (const uint8_t(*)[KVS_HASH_LEN])leaves, (size_t)(i % KVS_SEGMENT_CHUNKS) + 1,
                             root) != KVS_OK)
            st = kvs_fail(err, KVS_ERR_CRYPTO, "SHA-256 of a segment failed");
        else
            st = kvs_segment_root_check(sc->trailer.roots, sc->trailer.m, s, root, err);
    }
    free(buf);
    return st;
}

kvs_status kvs_verify_signer_source(kvs_source *in, const kvs_header *h,
                                    const kvs_signer_check *required, kvs_error *err)
{
    EVP_PKEY *pub = NULL;
    if (!required) return kvs_fail(err, KVS_ERR_USAGE, "no required signer was given");
    kvs_status st = kvs_signer_check_resolve(required, h, &pub, err);
    kvs_signed_check sc = {.header = h, .pub = pub}; /* no DEK: the commitment is not checked */
    if (st == KVS_OK) st = kvs_signed_read_trailer(in, &sc, err);
    if (st == KVS_OK) st = check_roots(in, h, &sc, err);
    if (st == KVS_OK && in->ops->finish) st = in->ops->finish(in, in->size, err);
    kvs_signed_check_clear(&sc);
    EVP_PKEY_free(pub);
    return st;
}

kvs_status kvs_verify_signer_fd(int fd, const kvs_signer_check *required, kvs_header **header_out,
                                kvs_error *err)
{
    kvs_fd_source in;
    kvs_header *h = NULL;
    if (header_out) *header_out = NULL;
    if (!required) return kvs_fail(err, KVS_ERR_USAGE, "no required signer was given");
    kvs_status st = open_seekable(fd, &in, &h, err);
    if (st == KVS_OK) st = kvs_verify_signer_source(&in.base, h, required, err);
    if (st == KVS_OK && header_out) *header_out = h;
    else kvs_header_free(h);
    return st;
}
