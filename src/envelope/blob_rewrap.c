/* Rotation in place of a block blob (kvs_blob_rewrap, BLOB.md "Layout of
 * a kvseal blob"): the committed block list and one ranged Get of block 0
 * (the stored header), the new header built as for a local file
 * (envelope/rewrap.c, kvs_rewrap_header), staged as a new block 0, and one
 * Put Block List [new block 0, the old payload blocks as <Committed>] with
 * If-Match on the ETag read first. No payload byte is read or sent.
 *
 * The new block 0's id: a fresh random 16-byte prefix and index 0, so it
 * has the 24-byte (32-character) form of every other id of the blob, and
 * two rotations of one blob at once never stage under the same id (the
 * service accepts ids with different prefixes as long as their length is
 * one). Later blocks keep their ids, so after a rotation block 0's prefix
 * differs from the payload blocks' prefix; the layout check below allows
 * that and nothing else. */
#include <stdlib.h>
#include <string.h>

#include "blob/layout.h"
#include "blob/meta.h"
#include "blob/rest_store.h"
#include "core/error.h"
#include "envelope/blob_ops.h"
#include "envelope/rewrap_header.h"
#include "format/format.h"
#include "format/signed.h"


static kvs_status foreign(kvs_error *err, const char *why)
{
    return kvs_fail(err, KVS_ERR_USAGE,
                    "the blob is not laid out as kvseal writes it (%s): it cannot be rewrapped in "
                    "place; download it, rewrap the file and upload it again",
                    why);
}

/* Block 0 then blocks 1..n-1 by index with one prefix, sizes adding up to
 * the blob's, block 0 small enough to be a header. */
static kvs_status check_layout(const kvs_blob_block *b, size_t n, const kvs_blob_props *props,
                               kvs_error *err)
{
    uint8_t this_prefix[KVS_BLOB_ID_PREFIX_LEN], prefix[KVS_BLOB_ID_PREFIX_LEN];
    uint64_t index = 0, total = 0;
    if (n < 2) return foreign(err, "fewer than 2 blocks");
    for (size_t i = 0; i < n; i++) {
        if (!kvs_blob_block_id_parse(b[i].id, this_prefix, &index) || index != i)
            return foreign(err, "block ids that are not kvseal's");
        if (i == 1) memcpy(prefix, this_prefix, sizeof prefix);
        if (i > 1 && memcmp(prefix, this_prefix, sizeof prefix) != 0) /* not secret */
            return foreign(err, "payload blocks of different uploads");
        total += b[i].size;
    }
    if (total != props->size) return foreign(err, "block sizes that do not add up to its size");
    if (b[0].size < KVS_PREFIX_LEN + KVS_TAG_LEN ||
        b[0].size > KVS_PREFIX_LEN + (uint64_t)KVS_HEADER_MAX + KVS_TAG_LEN)
        return foreign(err, "a first block that is not a header");
    return KVS_OK;
}

/* Block 0, read with one ranged Get pinned to the ETag, must be exactly
 * the stored header. */
static kvs_status read_header(kvs_blob_store *store, const kvs_blob_block *b0,
                              const kvs_blob_props *props, uint8_t **out, kvs_error *err)
{
    size_t len = (size_t)b0->size, size = 0;
    uint8_t *buf = malloc(len);
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = store->ops->read_range(store, 0, buf, len, props->etag, err);
    if (st == KVS_OK) st = kvs_stored_header_size(buf, len, &size, err);
    if (st == KVS_OK && size != len) st = foreign(err, "the first block is not exactly the header");
    if (st != KVS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return KVS_OK;
}

/* Stage hdr as a new block 0 and commit it before the old payload blocks,
 * if the blob still has the ETag it was read with. */
static kvs_status commit_header(kvs_blob_store *store, const kvs_blob_block *old, size_t n,
                                const kvs_blob_props *props, const uint8_t *hdr, size_t hdr_len,
                                uint64_t trailer_len, kvs_error *err)
{
    uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN];
    kvs_blob_meta_set meta;
    kvs_blob_block *list = calloc(n, sizeof *list);
    if (!list) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memset(&meta, 0, sizeof meta);
    uint64_t new_size = props->size - old[0].size + hdr_len;
    kvs_status st = kvs_blob_meta_build(hdr, hdr_len, new_size - trailer_len, &meta, err);
    if (st == KVS_OK) st = kvs_blob_id_prefix(prefix, err);
    if (st == KVS_OK) {
        kvs_blob_block_id(prefix, 0, list[0].id);
        st = store->ops->put_block(store, list[0].id, hdr, hdr_len, err);
    }
    if (st == KVS_OK) {
        for (size_t i = 1; i < n; i++) {
            memcpy(list[i].id, old[i].id, sizeof list[i].id);
            list[i].committed = 1;
        }
        kvs_blob_commit c = {list, n, meta.items, meta.n, props->etag, 0};
        st = store->ops->put_block_list(store, &c, err);
    }
    kvs_blob_meta_free(&meta);
    free(list);
    return st;
}

kvs_status kvs_blob_rewrap_store(kvs_blob_store *store, const kvs_rewrap_options *opts,
                                 kvs_provider *const *keys, size_t n_keys,
                                 kvs_provider *const *add, size_t n_add,
                                 kvs_rewrap_result *result, kvs_error *err)
{
    kvs_blob_block *blocks = NULL;
    kvs_blob_props props;
    kvs_rewrap_result res;
    uint8_t *stored = NULL, *hdr = NULL;
    size_t n = 0, hdr_len = 0;
    memset(&props, 0, sizeof props);
    memset(&res, 0, sizeof res);
    res.unlocked_recipient = -1;
    kvs_status st = store->ops->committed_blocks(store, &blocks, &n, &props, err);
    if (st == KVS_OK) st = check_layout(blocks, n, &props, err);
    uint8_t tail[KVS_TRAILER_TAIL_LEN];
    uint64_t trailer_len = 0;
    int have_tail = 0;
    if (st == KVS_OK) st = read_header(store, &blocks[0], &props, &stored, err);
    if (st == KVS_OK && props.size >= sizeof tail) { /* a signed blob's trailer ends there */
        st = store->ops->read_range(store, props.size - sizeof tail, tail, sizeof tail, props.etag, err);
        have_tail = st == KVS_OK;
    }
    if (st == KVS_OK)
        st = kvs_rewrap_header(stored, (size_t)blocks[0].size, props.size, have_tail ? tail : NULL, opts,
                               keys, n_keys, add, n_add, &hdr, &hdr_len, &trailer_len, &res, err);
    if (st == KVS_OK && hdr) st = commit_header(store, blocks, n, &props, hdr, hdr_len, trailer_len, err);
    if (result) *result = res;
    free(hdr);
    free(stored);
    free(blocks);
    return st;
}

kvs_status kvs_blob_rewrap(const char *url, const kvs_blob_config *cfg,
                           const kvs_rewrap_options *opts, kvs_provider *const *keys,
                           size_t n_keys, kvs_provider *const *add, size_t n_add,
                           kvs_rewrap_result *result, kvs_error *err)
{
    kvs_blob_store *store = NULL;
    if (result) {
        memset(result, 0, sizeof *result);
        result->unlocked_recipient = -1;
    }
    kvs_status st = kvs_blob_store_open(url, cfg, &store, err);
    if (st != KVS_OK) return st;
    st = kvs_blob_rewrap_store(store, opts, keys, n_keys, add, n_add, result, err);
    store->ops->free(store);
    return st;
}
