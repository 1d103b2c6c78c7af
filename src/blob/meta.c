/* The x-ms-meta-kvseal_* values a kvseal blob is committed with
 * (blob/meta.h), read from the header the sink staged as block 0. */
#include "blob/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "format/format.h"
#include "kvseal/header.h"

/* Room for the key ids: the service allows 8 KiB of metadata in all. */
#define KEYS_MAX 2048

static int printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == ',') return 0;
    return 1;
}

/* The recipients' key ids, comma-separated, as many as fit. */
static char *join_key_ids(const kvs_header *h)
{
    char *out = calloc(1, KEYS_MAX + 1);
    size_t used = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < h->n_recipients; i++) {
        const char *id = h->recipients[i].key_id;
        size_t n = strlen(id);
        if (!n || !printable(id) || used + n + 1 > KEYS_MAX) continue;
        if (used) out[used++] = ',';
        memcpy(out + used, id, n);
        used += n;
    }
    return out;
}

kvs_status kvs_blob_meta_build(const uint8_t *stored_header, size_t header_len, uint64_t file_size,
                               kvs_blob_meta_set *out, kvs_error *err)
{
    kvs_header *h = NULL;
    memset(out, 0, sizeof *out);
    if (header_len < KVS_PREFIX_LEN + KVS_TAG_LEN || file_size < header_len)
        return kvs_fail(err, KVS_ERR_INTERNAL, "blob metadata: no header");
    kvs_status st = kvs_header_parse(stored_header + KVS_PREFIX_LEN,
                                     header_len - KVS_PREFIX_LEN - KVS_TAG_LEN, &h, err);
    if (st != KVS_OK) return st;
    uint64_t plain = 0, chunks = 0;
    if (kvs_header_payload_geometry(h, file_size, &plain, &chunks) != KVS_OK) {
        kvs_header_free(h);
        return kvs_fail(err, KVS_ERR_INTERNAL, "blob metadata: the blob's size fits no chunk layout");
    }
    out->keys = join_key_ids(h);
    out->size = malloc(24);
    kvs_header_free(h);
    if (!out->keys || !out->size) {
        kvs_blob_meta_free(out);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    snprintf(out->size, 24, "%llu", (unsigned long long)plain);
    out->items[out->n++] = (kvs_blob_meta){"kvseal_format", "1"};
    if (out->keys[0]) out->items[out->n++] = (kvs_blob_meta){"kvseal_keys", out->keys};
    out->items[out->n++] = (kvs_blob_meta){"kvseal_size", out->size};
    return KVS_OK;
}

void kvs_blob_meta_free(kvs_blob_meta_set *m)
{
    free(m->keys);
    free(m->size);
    memset(m, 0, sizeof *m);
}
