/* The block layout of a kvseal blob (src/blob/layout.c) and the fake store
 * the blob tests run on (tests/lib/fake_store.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/layout.h"
#include "fake_store.h"
#include "kvseal/header.h"
#include "testutil.h"

#define TIB (1024ull * 1024 * 1024 * 1024)

START_TEST(four_tib_reachable_for_every_chunk_size)
{
    kvs_error err = {0};
    for (uint64_t cs = KVS_CHUNK_MIN; cs <= KVS_CHUNK_MAX; cs *= 2) {
        kvs_blob_layout l;
        ck_assert_int_eq(kvs_blob_layout_init(&l, NULL, 1000, cs + 16, &err), KVS_OK);
        ck_assert_uint_ge(kvs_blob_layout_capacity(&l, cs), 4 * TIB);
        /* the chunk just under 4 TiB still has a block, below the limit */
        kvs_blob_span sp;
        ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, 4 * TIB / cs - 1, &sp, &err), KVS_OK);
        ck_assert_uint_lt(sp.index, KVS_BLOB_MAX_BLOCKS);
    }
}
END_TEST

START_TEST(blocks_are_large_bounded_and_whole_chunks)
{
    kvs_error err = {0};
    /* every block of the smallest, the default and the largest chunk size */
    for (uint64_t cs = KVS_CHUNK_MIN; cs <= KVS_CHUNK_MAX; cs *= 128) {
        kvs_blob_layout l;
        uint64_t unit = cs + 16, next_chunk = 0, next_off = 777;
        ck_assert_int_eq(kvs_blob_layout_init(&l, NULL, 777, unit, &err), KVS_OK);
        for (uint64_t b = 1; b < KVS_BLOB_MAX_BLOCKS; b++) {
            kvs_blob_span sp;
            ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, next_chunk, &sp, &err), KVS_OK);
            ck_assert_uint_eq(sp.index, b);             /* blocks follow one another */
            ck_assert_uint_eq(sp.first_chunk, next_chunk);
            ck_assert_uint_eq(sp.offset, next_off);     /* ... with no gap */
            ck_assert_uint_eq(sp.bytes, sp.chunks * unit); /* whole chunks */
            ck_assert_uint_ge(sp.bytes, 8u * 1024 * 1024);
            ck_assert_uint_le(sp.bytes, KVS_BLOB_MAX_BLOCK_BYTES);
            /* the last chunk of the block maps to the same block */
            kvs_blob_span last;
            ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, next_chunk + sp.chunks - 1, &last, &err),
                             KVS_OK);
            ck_assert_uint_eq(last.index, b);
            next_chunk += sp.chunks;
            next_off += sp.bytes;
        }
        kvs_blob_span sp;
        ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, next_chunk, &sp, &err),
                         KVS_ERR_RESOURCE_LIMIT);
    }
}
END_TEST

START_TEST(lowered_limits_enforced_with_a_clear_message)
{
    kvs_error err = {0};
    kvs_blob_layout l;
    kvs_blob_layout_params p = {4096 + 16, 2, 5, 0};
    ck_assert_int_eq(kvs_blob_layout_init(&l, &p, 100, 4096 + 16, &err), KVS_OK);
    /* blocks 1-2: 1 chunk, blocks 3-4: 2 chunks; block 5 is past the limit */
    kvs_blob_span sp;
    ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, 5, &sp, &err), KVS_OK);
    ck_assert_uint_eq(sp.index, 4);
    ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, 6, &sp, &err), KVS_ERR_RESOURCE_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.detail, "more than 5 blocks"));
    ck_assert_uint_eq(kvs_blob_layout_capacity(&l, 4096), 6 * 4096);
    /* a chunk larger than a block's limit is refused up front */
    kvs_blob_layout_params small = {0, 0, 0, 4096};
    ck_assert_int_eq(kvs_blob_layout_init(&l, &small, 100, 4096 + 16, &err), KVS_ERR_RESOURCE_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.detail, "does not fit in one blob block"));
    /* a lower block limit makes blocks hold fewer chunks, never more bytes */
    kvs_blob_layout_params capped = {1u << 20, 1, 0, 3 * (4096 + 16)};
    ck_assert_int_eq(kvs_blob_layout_init(&l, &capped, 100, 4096 + 16, &err), KVS_OK);
    ck_assert_int_eq(kvs_blob_layout_chunk_block(&l, 0, &sp, &err), KVS_OK);
    ck_assert_uint_eq(sp.chunks, 3);
}
END_TEST

START_TEST(block_ids_fixed_length_canonical_and_distinct)
{
    kvs_error err = {0};
    uint8_t p1[KVS_BLOB_ID_PREFIX_LEN], p2[KVS_BLOB_ID_PREFIX_LEN];
    ck_assert_int_eq(kvs_blob_id_prefix(p1, &err), KVS_OK);
    ck_assert_int_eq(kvs_blob_id_prefix(p2, &err), KVS_OK);
    ck_assert_int_ne(memcmp(p1, p2, sizeof p1), 0); /* not secret */
    static const uint64_t idx[] = {0, 1, 255, 256, 49999, UINT64_MAX};
    char a[KVS_BLOB_ID_TEXT_MAX], b[KVS_BLOB_ID_TEXT_MAX];
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        kvs_blob_block_id(p1, idx[i], a);
        kvs_blob_block_id(p2, idx[i], b);
        ck_assert_uint_eq(strlen(a), 32);
        ck_assert_str_ne(a, b); /* two uploads never share an id */
        ck_assert_ptr_null(strchr(a, '=')); /* no padding */
        uint8_t raw[33];
        ck_assert_int_eq(EVP_DecodeBlock(raw, (const unsigned char *)a, 32), 24);
        ck_assert_int_eq(memcmp(raw, p1, KVS_BLOB_ID_PREFIX_LEN), 0); /* not secret */
        ck_assert_uint_eq(raw[23], (uint8_t)idx[i]);
        uint8_t back[KVS_BLOB_ID_PREFIX_LEN];
        uint64_t back_index = 0;
        ck_assert_int_eq(kvs_blob_block_id_parse(a, back, &back_index), 1);
        ck_assert_int_eq(memcmp(back, p1, sizeof back), 0); /* not secret */
        ck_assert_uint_eq(back_index, idx[i]);
        if (i) {
            kvs_blob_block_id(p1, idx[i - 1], b);
            ck_assert_str_ne(a, b);
        }
    }
}
END_TEST

/* Only kvseal's own ids parse: canonical standard base64 of 24 bytes. */
START_TEST(block_id_parse_refuses_other_ids)
{
    uint8_t p[KVS_BLOB_ID_PREFIX_LEN] = {0xfb, 0xff, 0xbf}, back[KVS_BLOB_ID_PREFIX_LEN];
    uint64_t index = 0;
    char id[KVS_BLOB_ID_TEXT_MAX], other[KVS_BLOB_ID_TEXT_MAX + 8];
    kvs_blob_block_id(p, 7, id);
    ck_assert_ptr_nonnull(strpbrk(id, "+/")); /* the prefix makes both appear */
    ck_assert_int_eq(kvs_blob_block_id_parse(id, back, &index), 1);
    /* The same bytes in base64url, which the lenient decoder would take. */
    snprintf(other, sizeof other, "%s", id);
    for (char *c = other; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    ck_assert_int_eq(kvs_blob_block_id_parse(other, back, &index), 0);
    ck_assert_int_eq(kvs_blob_block_id_parse("", back, &index), 0);
    ck_assert_int_eq(kvs_blob_block_id_parse("MDAwMDAwMDAwMDAwMDAwMA==", back, &index), 0);
    snprintf(other, sizeof other, "%sAAAA", id); /* 27 bytes */
    ck_assert_int_eq(kvs_blob_block_id_parse(other, back, &index), 0);
    snprintf(other, sizeof other, "%.31s", id); /* truncated */
    ck_assert_int_eq(kvs_blob_block_id_parse(other, back, &index), 0);
    char longer[200];
    memset(longer, 'A', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ck_assert_int_eq(kvs_blob_block_id_parse(longer, back, &index), 0);
}
END_TEST

/* ---- the fake store behaves like Blob Storage ---- */

static kvs_blob_block blk(const char *id)
{
    kvs_blob_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.id, sizeof b.id, "%s", id);
    return b;
}

START_TEST(fake_store_staging_and_conditions)
{
    kvs_error err = {0};
    fake_store *f = fake_store_new();
    kvs_blob_store *s = fake_store_base(f);
    kvs_blob_props pr;
    uint8_t buf[8];
    ck_assert_int_eq(s->ops->properties(s, &pr, &err), KVS_ERR_IO);
    ck_assert_int_eq(s->ops->put_block(s, "QUFB", (const uint8_t *)"abc", 3, &err), KVS_OK);
    ck_assert_int_eq(s->ops->put_block(s, "QkJC", (const uint8_t *)"de", 2, &err), KVS_OK);
    ck_assert_int_eq(fake_store_exists(f), 0); /* staged blocks are invisible */
    ck_assert_int_eq(s->ops->read_range(s, 0, buf, 1, NULL, &err), KVS_ERR_IO);
    kvs_blob_block list[2] = {blk("QkJC"), blk("QUFB")};
    kvs_blob_meta m = {"kvseal_format", "1"};
    kvs_blob_commit c = {list, 2, &m, 1, NULL, 1};
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &err), KVS_OK);
    ck_assert_int_eq(s->ops->properties(s, &pr, &err), KVS_OK);
    ck_assert_uint_eq(pr.size, 5);
    ck_assert_int_eq(s->ops->read_range(s, 0, buf, 5, pr.etag, &err), KVS_OK);
    ck_assert_int_eq(memcmp(buf, "deabc", 5), 0); /* not secret */
    ck_assert_int_eq(s->ops->read_range(s, 3, buf, 3, pr.etag, &err), KVS_ERR_TRUNCATED);
    ck_assert_str_eq(fake_store_meta(f, "kvseal_format"), "1");
    /* exists: If-None-Match refuses; staged blocks were dropped by the commit */
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &err), KVS_ERR_EXISTS);
    c.if_none_match_any = 0;
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &err), KVS_ERR_USAGE);
    /* reuse committed blocks under If-Match; the ETag changes */
    list[0].committed = list[1].committed = 1;
    c.if_match = pr.etag;
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &err), KVS_OK);
    kvs_blob_props pr2;
    ck_assert_int_eq(s->ops->properties(s, &pr2, &err), KVS_OK);
    ck_assert_str_ne(pr.etag, pr2.etag);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &err), KVS_ERR_IO);
    ck_assert_int_eq(s->ops->read_range(s, 0, buf, 1, pr.etag, &err), KVS_ERR_IO);
    kvs_blob_block *got = NULL;
    size_t n = 0;
    ck_assert_int_eq(s->ops->committed_blocks(s, &got, &n, &pr, &err), KVS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(got[0].id, "QkJC");
    ck_assert_uint_eq(got[1].size, 3);
    free(got);
    s->ops->free(s);
}
END_TEST

START_TEST(fake_store_faults_and_counters)
{
    kvs_error err = {0};
    fake_store *f = fake_store_new();
    kvs_blob_store *s = fake_store_base(f);
    kvs_blob_props pr;
    uint8_t buf[4];
    fake_store_fail_put_block(f, 2);
    ck_assert_int_eq(s->ops->put_block(s, "QUFB", (const uint8_t *)"abc", 3, &err), KVS_OK);
    ck_assert_int_eq(s->ops->put_block(s, "QkJC", (const uint8_t *)"de", 2, &err), KVS_ERR_UNAVAILABLE);
    fake_store_set_blob(f, (const uint8_t *)"0123456789", 10);
    ck_assert_int_eq(s->ops->properties(s, &pr, &err), KVS_OK);
    fake_store_change_after_reads(f, 1);
    ck_assert_int_eq(s->ops->read_range(s, 2, buf, 4, pr.etag, &err), KVS_OK);
    ck_assert_int_eq(s->ops->read_range(s, 2, buf, 4, pr.etag, &err), KVS_ERR_IO);
    ck_assert_int_eq(s->ops->properties(s, &pr, &err), KVS_OK);
    fake_store_corrupt(f, 2);
    ck_assert_int_eq(s->ops->read_range(s, 2, buf, 1, pr.etag, &err), KVS_OK);
    ck_assert_uint_eq(buf[0], '2' ^ 1);
    fake_store_truncate(f, 5);
    ck_assert_int_eq(s->ops->read_range(s, 2, buf, 4, pr.etag, &err), KVS_ERR_TRUNCATED);
    fake_store_counters c;
    fake_store_counters_get(f, &c);
    ck_assert_uint_eq(c.put_block, 2);
    ck_assert_uint_eq(c.bytes_uploaded, 3);
    ck_assert_uint_eq(c.read_range, 4);
    ck_assert_uint_eq(c.bytes_read, 5);
    s->ops->free(s);
}
END_TEST

static Suite *blob_layout_suite(void)
{
    Suite *s = suite_create("blob_layout");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, four_tib_reachable_for_every_chunk_size);
    tcase_add_test(tc, blocks_are_large_bounded_and_whole_chunks);
    tcase_add_test(tc, lowered_limits_enforced_with_a_clear_message);
    tcase_add_test(tc, block_ids_fixed_length_canonical_and_distinct);
    tcase_add_test(tc, block_id_parse_refuses_other_ids);
    tcase_add_test(tc, fake_store_staging_and_conditions);
    tcase_add_test(tc, fake_store_faults_and_counters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(blob_layout_suite());
}
