/* A signed blob's signer info and key-less proof of authorship
 * (include/kvseal/blob.h): envelope/signature.c's checks over the blob
 * source, so every ranged Get is pinned to the ETag read first and a blob
 * replaced meanwhile fails with KVS_ERR_IO instead of mixing two files. */
#include <stdlib.h>
#include <string.h>

#include "blob/rest_store.h"
#include "blob/source.h"
#include "core/error.h"
#include "envelope/blob_ops.h"
#include "envelope/signature.h"
#include "format/format.h"
#include "stream/chunk.h"

/* The blob source in sequence: a read_at where the previous sequential
 * read ended (the chunks, in order, after the header) goes through the
 * source's read-ahead (large Gets, fetched in parallel parts); any other
 * (the trailer at the end) is one ranged Get. One thread at a time (the
 * key-less check reads its chunks in order). */
typedef struct seq_source {
    kvs_source base;
    kvs_blob_source *blob;
} seq_source;

static kvs_status seq_read(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_source *b = &((seq_source *)s)->blob->base;
    return b->ops->read(b, buf, len, got, err);
}

static kvs_status seq_read_at(kvs_source *s, uint64_t off, uint8_t *buf, size_t len, kvs_error *err)
{
    kvs_blob_source *blob = ((seq_source *)s)->blob;
    kvs_source *b = &blob->base;
    if (off != blob->pos) return b->ops->read_at(b, off, buf, len, err);
    size_t got = 0;
    kvs_status st = b->ops->read(b, buf, len, &got, err);
    if (st == KVS_OK && got != len)
        st = kvs_fail(err, KVS_ERR_TRUNCATED, "truncated blob: it is shorter than its chunks require");
    return st;
}

static kvs_status seq_finish(kvs_source *s, uint64_t end, kvs_error *err)
{
    kvs_source *b = &((seq_source *)s)->blob->base;
    return b->ops->finish(b, end, err);
}

static const kvs_source_ops seq_ops = {.read = seq_read, .read_at = seq_read_at, .finish = seq_finish};

static kvs_status read_source(void *ctx, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_source *in = ctx;
    return in->ops->read(in, buf, len, got, err);
}

/* Open the blob as a source (readahead bytes, parallel Gets) and parse its
 * header from its start; read()'s place is then the payload's start. */
static kvs_status open_with_header(kvs_blob_store *store, size_t readahead, unsigned parallel,
                                   kvs_blob_source *in, kvs_header **h, kvs_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    *h = NULL;
    kvs_status st = kvs_blob_source_open(in, store, readahead, parallel, err);
    if (st == KVS_OK) st = kvs_header_read_stored_from(read_source, &in->base, &bytes, &len, err);
    if (st == KVS_OK)
        st = kvs_header_parse(bytes + KVS_PREFIX_LEN, len - KVS_PREFIX_LEN - KVS_TAG_LEN, h, err);
    free(bytes);
    return st;
}

kvs_status kvs_blob_signature_info_store(kvs_blob_store *store, kvs_signature_info *out,
                                         kvs_error *err)
{
    kvs_blob_source in;
    kvs_header *h = NULL;
    memset(out, 0, sizeof *out);
    /* no read-ahead: the header's Gets and one of the trailer's tail */
    kvs_status st = open_with_header(store, 0, 1, &in, &h, err);
    if (st == KVS_OK) st = kvs_signature_info_source(&in.base, h, out, err);
    kvs_header_free(h);
    kvs_blob_source_close(&in);
    return st;
}

kvs_status kvs_blob_verify_signer_store(kvs_blob_store *store, const kvs_blob_tuning *t,
                                        const kvs_signer_check *required, kvs_header **header_out,
                                        kvs_error *err)
{
    kvs_blob_source in;
    kvs_header *h = NULL;
    if (header_out) *header_out = NULL;
    if (!required) return kvs_fail(err, KVS_ERR_USAGE, "no required signer was given");
    kvs_status st = open_with_header(store, KVS_BLOB_READAHEAD_DEFAULT, t ? t->parallel : 0, &in, &h, err);
    if (st == KVS_OK) {
        seq_source seq = {{&seq_ops, KVS_IO_POSITIONAL, in.base.size}, &in};
        st = kvs_verify_signer_source(&seq.base, h, required, err);
    }
    kvs_blob_source_close(&in);
    if (st == KVS_OK && header_out) *header_out = h;
    else kvs_header_free(h);
    return st;
}

kvs_status kvs_blob_signature_info(const char *url, const kvs_blob_config *cfg,
                                   kvs_signature_info *out, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    memset(out, 0, sizeof *out);
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_signature_info_store(store, out, err);
    store->ops->free(store);
    return st;
}

kvs_status kvs_blob_verify_signer(const char *url, const kvs_blob_config *cfg,
                                  const kvs_signer_check *required, kvs_header **header_out,
                                  kvs_error *err)
{
    kvs_blob_store *store = NULL;
    kvs_blob_tuning t = kvs_blob_tuning_of(cfg);
    if (header_out) *header_out = NULL;
    if (!required) return kvs_fail(err, KVS_ERR_USAGE, "no required signer was given");
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_verify_signer_store(store, &t, required, header_out, err);
    store->ops->free(store);
    return st;
}
