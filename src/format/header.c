/* Header lifetime, prefix, geometry and reading from a descriptor. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fdio.h"
#include "format/format.h"

/* FORMAT.md §2: "KVSEAL", 0x00, format version 1. */
const uint8_t kvs_magic[KVS_MAGIC_LEN] = {0x4B, 0x56, 0x53, 0x45, 0x41, 0x4C, 0x00, 0x01};

kvs_header *kvs_header_new(void)
{
    return calloc(1, sizeof(kvs_header));
}

static void free_context(kvs_header *h)
{
    for (size_t i = 0; i < h->n_context; i++) {
        free((char *)h->context[i].key);
        free((char *)h->context[i].value);
    }
    free(h->context);
    h->context = NULL;
    h->n_context = 0;
}

void kvs_header_free(kvs_header *h)
{
    if (!h) return;
    free_context(h);
    free(h->recipients);
    free(h);
}

kvs_status kvs_header_set_context(kvs_header *h, const kvs_context_pair *pairs, size_t n,
                                  kvs_error *err)
{
    free_context(h);
    if (n == 0) return KVS_OK;
    if (n > KVS_MAX_CONTEXT)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "at most %d context pairs", KVS_MAX_CONTEXT);
    h->context = calloc(n, sizeof(*h->context));
    if (!h->context) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!pairs[i].key || !pairs[i].value)
            return kvs_fail(err, KVS_ERR_USAGE, "context pair without key or value");
        if (strlen(pairs[i].key) > KVS_MAX_CONTEXT_LEN ||
            strlen(pairs[i].value) > KVS_MAX_CONTEXT_LEN)
            return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT,
                            "context keys and values are at most %d bytes", KVS_MAX_CONTEXT_LEN);
        /* FORMAT.md §1: header text is UTF-8; refuse it here rather than
         * write a file no decoder accepts. */
        if (!kvs_utf8_valid(pairs[i].key) || !kvs_utf8_valid(pairs[i].value))
            return kvs_fail(err, KVS_ERR_USAGE, "context keys and values must be valid UTF-8");
        for (size_t j = 0; j < i; j++)
            if (strcmp(pairs[j].key, pairs[i].key) == 0)
                return kvs_fail(err, KVS_ERR_USAGE, "context key '%s' given twice",
                                pairs[i].key);
        h->context[i].key = strdup(pairs[i].key);
        h->context[i].value = strdup(pairs[i].value);
        h->n_context = i + 1;
        if (!h->context[i].key || !h->context[i].value)
            return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    return KVS_OK;
}

kvs_status kvs_prefix_parse(const uint8_t prefix[KVS_PREFIX_LEN], uint32_t *header_len,
                            kvs_error *err)
{
    /* FORMAT.md §2: magic, then header_len with 2 <= header_len <= 65536. */
    if (memcmp(prefix, kvs_magic, KVS_MAGIC_LEN) != 0) /* not secret */
        return kvs_fail(err, KVS_ERR_NOT_KVSEAL, "not a kvseal file");
    uint32_t len = (uint32_t)prefix[8] << 24 | (uint32_t)prefix[9] << 16 |
                   (uint32_t)prefix[10] << 8 | prefix[11];
    if (len < KVS_HEADER_MIN || len > KVS_HEADER_MAX)
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed header: length %u is outside 2..65536",
                        len);
    *header_len = len;
    return KVS_OK;
}

kvs_status kvs_prefix_short(const uint8_t *prefix, size_t got, kvs_error *err)
{
    if (got >= KVS_MAGIC_LEN && memcmp(prefix, kvs_magic, KVS_MAGIC_LEN) == 0) /* not secret */
        return kvs_header_cut_short(err);
    return kvs_fail(err, KVS_ERR_NOT_KVSEAL, "not a kvseal file");
}

kvs_status kvs_header_cut_short(kvs_error *err)
{
    return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it ends inside the header");
}

kvs_status kvs_stored_header_size(const uint8_t *start, size_t avail, size_t *size,
                                  kvs_error *err)
{
    uint32_t json_len = 0;
    if (avail < KVS_PREFIX_LEN) return kvs_prefix_short(start, avail, err);
    kvs_status st = kvs_prefix_parse(start, &json_len, err);
    if (st == KVS_OK) *size = KVS_PREFIX_LEN + (size_t)json_len + KVS_TAG_LEN;
    return st;
}

uint64_t kvs_header_payload_offset(const kvs_header *h)
{
    return KVS_PREFIX_LEN + (uint64_t)h->header_len + KVS_TAG_LEN;
}

kvs_status kvs_header_payload_geometry(const kvs_header *h, uint64_t file_size,
                                       uint64_t *plaintext_size, uint64_t *chunks)
{
    /* FORMAT.md §6: full chunks of chunk_size+16 bytes, then a final chunk of
     * 16..chunk_size+16 bytes; an empty final chunk only when it is alone. */
    uint64_t off = kvs_header_payload_offset(h);
    uint64_t stored = (uint64_t)h->chunk_size + KVS_CHUNK_TAG_LEN;
    if (file_size < off + KVS_CHUNK_TAG_LEN) return KVS_ERR_TRUNCATED;
    uint64_t payload = file_size - off;
    uint64_t full = payload / stored;
    uint64_t rest = payload % stored;
    uint64_t n;
    if (rest == 0) {
        n = full; /* ends with a full final chunk */
    } else {
        if (rest < KVS_CHUNK_TAG_LEN) return KVS_ERR_TRUNCATED;
        if (rest == KVS_CHUNK_TAG_LEN && full > 0) return KVS_ERR_FORMAT;
        n = full + 1;
    }
    if (n > KVS_MAX_CHUNKS) return KVS_ERR_LIMIT;
    *chunks = n;
    *plaintext_size = payload - n * KVS_CHUNK_TAG_LEN;
    return KVS_OK;
}

kvs_status kvs_header_read_stored_from(kvs_header_reader read, void *ctx, uint8_t **bytes,
                                       size_t *len, kvs_error *err)
{
    uint8_t prefix[KVS_PREFIX_LEN];
    size_t got = 0, total = 0;
    *bytes = NULL;
    kvs_status st = read(ctx, prefix, sizeof prefix, &got, err);
    if (st != KVS_OK) return st;
    if ((st = kvs_stored_header_size(prefix, got, &total, err)) != KVS_OK) return st;
    uint8_t *buf = malloc(total);
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memcpy(buf, prefix, sizeof prefix);
    st = read(ctx, buf + KVS_PREFIX_LEN, total - KVS_PREFIX_LEN, &got, err);
    if (st == KVS_OK && got < total - KVS_PREFIX_LEN)
        st = kvs_header_cut_short(err);
    if (st != KVS_OK) {
        free(buf);
        return st;
    }
    *bytes = buf;
    *len = total;
    return KVS_OK;
}

static kvs_status read_fd(void *ctx, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    return kvs_read_full(*(const int *)ctx, buf, len, got, err);
}

kvs_status kvs_header_read_stored(int fd, uint8_t **bytes, size_t *len, kvs_error *err)
{
    return kvs_header_read_stored_from(read_fd, &fd, bytes, len, err);
}

kvs_status kvs_header_read_fd(int fd, kvs_header **out, kvs_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    *out = NULL;
    kvs_status st = kvs_header_read_stored(fd, &bytes, &len, err);
    if (st != KVS_OK) return st;
    st = kvs_header_parse(bytes + KVS_PREFIX_LEN, len - KVS_PREFIX_LEN - KVS_TAG_LEN, out, err);
    free(bytes);
    return st;
}

kvs_status kvs_header_check_context(const kvs_header *h, const kvs_context_pair *required,
                                    size_t n, kvs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *found = NULL;
        for (size_t j = 0; j < h->n_context && !found; j++)
            if (strcmp(h->context[j].key, required[i].key) == 0) found = h->context[j].value;
        if (!found)
            return kvs_fail(err, KVS_ERR_CONTEXT_MISMATCH,
                            "context mismatch: the file has no context key '%s'",
                            required[i].key);
        if (strcmp(found, required[i].value) != 0)
            return kvs_fail(err, KVS_ERR_CONTEXT_MISMATCH,
                            "context mismatch: '%s' differs from the required value",
                            required[i].key);
    }
    return KVS_OK;
}
