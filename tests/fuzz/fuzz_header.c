/* Fuzz target: the header codec on raw bytes (FORMAT.md §2, §4, §5).
 *
 * Input: a file prefix (magic || header_len || JSON || tag ...) when it starts
 * with the magic, else header JSON text alone. Exercises kvs_prefix_parse,
 * kvs_prefix_short, kvs_json_precheck, kvs_header_parse, kvs_header_read_fd
 * and the payload geometry, and checks that a header that parses re-encodes
 * to JSON that parses back to the same fields. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"
#include "fuzz.h"

static int same_recipient(const kvs_recipient *a, const kvs_recipient *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->alg, b->alg) == 0 &&
           strcmp(a->key_id, b->key_id) == 0 && a->wrapped_len == b->wrapped_len &&
           memcmp(a->wrapped, b->wrapped, a->wrapped_len) == 0;
}

static void check_same(const kvs_header *a, const kvs_header *b)
{
    FUZZ_CHECK(a->chunk_size == b->chunk_size);
    FUZZ_CHECK(memcmp(a->salt, b->salt, KVS_SALT_LEN) == 0);
    FUZZ_CHECK(a->n_recipients == b->n_recipients);
    for (size_t i = 0; i < a->n_recipients; i++)
        FUZZ_CHECK(same_recipient(&a->recipients[i], &b->recipients[i]));
    FUZZ_CHECK(a->n_context == b->n_context);
    for (size_t i = 0; i < a->n_context; i++) {
        FUZZ_CHECK(strcmp(a->context[i].key, b->context[i].key) == 0);
        FUZZ_CHECK(strcmp(a->context[i].value, b->context[i].value) == 0);
    }
    FUZZ_CHECK(strcmp(a->created, b->created) == 0);
}

/* Invariants of a header that parsed. */
static void check_header(const kvs_header *h, size_t json_len, uint64_t file_size)
{
    FUZZ_CHECK(h->header_len == json_len);
    FUZZ_CHECK(h->chunk_size >= KVS_CHUNK_MIN && h->chunk_size <= KVS_CHUNK_MAX);
    FUZZ_CHECK((h->chunk_size & (h->chunk_size - 1)) == 0);
    FUZZ_CHECK(h->n_recipients >= 1 && h->n_recipients <= KVS_MAX_RECIPIENTS);
    FUZZ_CHECK(h->n_context <= KVS_MAX_CONTEXT);
    for (size_t i = 0; i < h->n_recipients; i++) {
        const kvs_recipient *r = &h->recipients[i];
        FUZZ_CHECK(memchr(r->type, '\0', sizeof r->type) != NULL);
        FUZZ_CHECK(memchr(r->alg, '\0', sizeof r->alg) != NULL);
        FUZZ_CHECK(memchr(r->key_id, '\0', sizeof r->key_id) != NULL);
        FUZZ_CHECK(r->wrapped_len >= 1 && r->wrapped_len <= KVS_MAX_WRAPPED_LEN);
    }
    for (size_t i = 0; i < h->n_context; i++) {
        FUZZ_CHECK(strlen(h->context[i].key) <= KVS_MAX_CONTEXT_LEN);
        FUZZ_CHECK(strlen(h->context[i].value) <= KVS_MAX_CONTEXT_LEN);
    }
    FUZZ_CHECK(kvs_header_payload_offset(h) == KVS_PREFIX_LEN + json_len + KVS_TAG_LEN);
    uint64_t pt = 0, chunks = 0;
    if (kvs_header_payload_geometry(h, file_size, &pt, &chunks) == KVS_OK) {
        FUZZ_CHECK(chunks >= 1 && chunks <= KVS_MAX_CHUNKS);
        FUZZ_CHECK(pt + chunks * KVS_CHUNK_TAG_LEN + kvs_header_payload_offset(h) == file_size);
        FUZZ_CHECK(pt <= chunks * (uint64_t)h->chunk_size);
        FUZZ_CHECK(chunks == 1 || pt > (chunks - 1) * (uint64_t)h->chunk_size);
    }
    /* A huge file size must be refused or fit in 2^32 chunks, never wrap. */
    if (kvs_header_payload_geometry(h, UINT64_MAX, &pt, &chunks) == KVS_OK)
        FUZZ_CHECK(chunks >= 1 && chunks <= KVS_MAX_CHUNKS);
    FUZZ_CHECK(kvs_header_payload_geometry(h, 0, &pt, &chunks) != KVS_OK); /* no room */

    /* Re-encode and parse again: same fields. */
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    kvs_error err;
    kvs_error_clear(&err);
    kvs_status st = kvs_header_encode(h, &enc, &enc_len, &err);
    if (st != KVS_OK) {
        /* Unknown members are dropped and escapes may change, but the JSON
         * never grows past the limit for a header that was within it. */
        FUZZ_CHECK(st == KVS_ERR_NOMEM);
        return;
    }
    uint32_t len2 = 0;
    FUZZ_CHECK(kvs_prefix_parse(enc, &len2, &err) == KVS_OK);
    FUZZ_CHECK(len2 == enc_len - KVS_PREFIX_LEN);
    kvs_header *h2 = NULL;
    st = kvs_header_parse(enc + KVS_PREFIX_LEN, len2, &h2, &err);
    if (st != KVS_OK) fuzz_fail(__FILE__, __LINE__, err.detail);
    check_same(h, h2);
    kvs_header_free(h2);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_error err;
    kvs_error_clear(&err);
    const uint8_t *json = data;
    size_t json_len = size;
    int as_file = size >= KVS_MAGIC_LEN && memcmp(data, kvs_magic, KVS_MAGIC_LEN) == 0;

    if (as_file) {
        uint32_t hl = 0;
        if (size < KVS_PREFIX_LEN) {
            FUZZ_CHECK(kvs_prefix_short(data, size, &err) == KVS_ERR_TRUNCATED);
            return 0;
        }
        if (kvs_prefix_parse(data, &hl, &err) != KVS_OK) return 0;
        FUZZ_CHECK(hl >= KVS_HEADER_MIN && hl <= KVS_HEADER_MAX);
        json = data + KVS_PREFIX_LEN;
        json_len = size - KVS_PREFIX_LEN < hl ? size - KVS_PREFIX_LEN : hl;

        /* The fd reader must agree with the in-memory parser. */
        int fd = fuzz_memfd(data, size);
        if (fd >= 0) {
            kvs_header *hf = NULL;
            kvs_status st = kvs_header_read_fd(fd, &hf, &err);
            int complete = size >= (size_t)KVS_PREFIX_LEN + hl + KVS_TAG_LEN;
            if (!complete) FUZZ_CHECK(st == KVS_ERR_TRUNCATED);
            kvs_header *hm = NULL;
            kvs_status sm = complete ? kvs_header_parse(json, hl, &hm, &err) : st;
            FUZZ_CHECK(st == sm);
            if (hf && hm) check_same(hf, hm);
            kvs_header_free(hf);
            kvs_header_free(hm);
            close(fd);
        }
    } else if (size >= 1 && size < KVS_MAGIC_LEN) {
        FUZZ_CHECK(kvs_prefix_short(data, size, &err) == KVS_ERR_NOT_KVSEAL);
    }

    (void)kvs_json_precheck(json, json_len, &err);
    kvs_header *h = NULL;
    if (kvs_header_parse(json, json_len, &h, &err) == KVS_OK) {
        FUZZ_CHECK(h != NULL);
        check_header(h, json_len, size);
    } else {
        FUZZ_CHECK(h == NULL);
        FUZZ_CHECK(err.status != KVS_OK && err.detail[0] != '\0');
    }
    kvs_header_free(h);
    return 0;
}
