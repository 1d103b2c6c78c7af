/* The blob sink and source on their own (src/blob/sink.c, source.c): the
 * bytes a sink commits are exactly the file it was given, in order or from
 * the engine's workers; its memory stays within the documented bound; the
 * source's sequential reads give the same bytes with few, large Gets. */
#include <stdlib.h>
#include <string.h>

#include "blob/sink.h"
#include "blob/source.h"
#include "fake_store.h"
#include "format/format.h"
#include "kvseal/kvseal.h"
#include "stream/io_mem.h"
#include "stream/pipeline.h"
#include "testutil.h"

#define CS 4096u
#define UNIT (CS + 16u)
#define N (61 * CS + 77)

static kvs_provider *key;
static uint8_t *plain, *file;
static size_t file_len, header_len;
static fake_store *fs;
static kvs_blob_store *store;
static const kvs_blob_layout_params small_blocks = {2 * CS, 2, 0, 0};

static void setup(void)
{
    kvs_error err = {0};
    key = kvs_test_key("rsa2048-a");
    plain = malloc(N);
    size_t cap = kvs_encrypt_mem_bound(N, CS);
    file = malloc(cap);
    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(file);
    for (size_t i = 0; i < N; i++) plain[i] = (uint8_t)(i ^ (i >> 8));
    kvs_encrypt_options o = {CS, NULL, 0, 0, 1, NULL, NULL, NULL};
    ck_assert_int_eq(kvs_encrypt_mem(plain, N, file, cap, &file_len, &o, &key, 1, &err), KVS_OK);
    ck_assert_int_eq(kvs_stored_header_size(file, file_len, &header_len, &err), KVS_OK);
    fs = fake_store_new();
    store = fake_store_base(fs);
}

static void teardown(void)
{
    store->ops->free(store);
    free(file);
    free(plain);
    kvs_provider_free(key);
}

static void check_committed_is_file(void)
{
    size_t len = 0;
    uint8_t *blob = fake_store_blob(fs, &len);
    ck_assert_uint_eq(len, file_len);
    ck_assert_int_eq(memcmp(blob, file, len), 0); /* not secret */
    free(blob);
}

/* A sink over the fake store, started for the test file's shape. */
static kvs_sink *start_sink(kvs_blob_sink *s, unsigned parallel, uint64_t total)
{
    kvs_error err = {0};
    kvs_blob_sink_config c = {parallel, 0, &small_blocks};
    kvs_blob_sink_init(s, store, &c);
    kvs_sink_shape shape = {header_len, CS, UNIT, total};
    ck_assert_int_eq(s->base.ops->start(&s->base, &shape, &err), KVS_OK);
    return &s->base;
}

/* The header, then chunk i = 0..n-1 (or n-1..0), each with write() or write_at. */
static void write_file(kvs_sink *k, int backwards, int positional)
{
    kvs_error err = {0};
    size_t chunks = (file_len - header_len + UNIT - 1) / UNIT;
    ck_assert_int_eq(positional ? k->ops->write_at(k, 0, file, header_len, &err)
                                : k->ops->write(k, file, header_len, &err), KVS_OK);
    for (size_t j = 0; j < chunks; j++) {
        size_t at = header_len + (backwards ? chunks - 1 - j : j) * UNIT;
        size_t n = file_len - at < UNIT ? file_len - at : UNIT;
        ck_assert_int_eq(positional ? k->ops->write_at(k, at, file + at, n, &err)
                                    : k->ops->write(k, file + at, n, &err), KVS_OK);
    }
}

/* In order through write(): header, then whole chunks, size unknown. */
START_TEST(sequential_writes_commit_the_same_bytes)
{
    kvs_error err = {0};
    kvs_blob_sink s;
    kvs_sink *k = start_sink(&s, 2, KVS_IO_SIZE_UNKNOWN);
    write_file(k, 0, 0);
    ck_assert_int_eq(fake_store_exists(fs), 0); /* staged, not visible */
    ck_assert_uint_gt(fake_store_staged(fs), 5);
    ck_assert_int_eq(k->ops->commit(k, file_len, &err), KVS_OK);
    kvs_blob_sink_close(&s);
    check_committed_is_file();
}
END_TEST

/* Backwards through write_at with the size known: blocks complete in any
 * order; abort instead of commit leaves nothing. */
START_TEST(positional_writes_any_order)
{
    kvs_error err = {0};
    kvs_blob_sink s;
    kvs_sink *k = start_sink(&s, 3, file_len);
    write_file(k, 1, 1);
    if (_i) {
        k->ops->abort(k, 0);
        kvs_blob_sink_close(&s);
        ck_assert_int_eq(fake_store_exists(fs), 0);
        return;
    }
    ck_assert_int_eq(k->ops->commit(k, file_len, &err), KVS_OK);
    kvs_blob_sink_close(&s);
    check_committed_is_file();
}
END_TEST

/* Through the engine from memory (direct mode, then ring mode), with slow
 * uploads: the blocks held at once stay within threads + 2 + parallel,
 * whatever the size. */
START_TEST(engine_memory_bounded)
{
    kvs_error err = {0};
    kvs_blob_sink s;
    kvs_mem_source in;
    kvs_engine_result res;
    static const kvs_blob_layout_params one_chunk = {1, 1000000, 0, 0}; /* 1 chunk per block */
    kvs_blob_sink_config c = {2, 0, &one_chunk};
    fake_store_put_delay_us(fs, 300);
    kvs_blob_sink_init(&s, store, &c);
    kvs_mem_source_init(&in, plain, N);
    if (_i) in.base.caps = 0; /* read in order: the engine's ring mode, size unknown to the sink */
    kvs_encrypt_options o = {CS, NULL, 0, 0, 3, NULL, NULL, NULL};
    ck_assert_int_eq(kvs_encrypt_source(&in.base, &s.base, &o, &key, 1, &res, &err), KVS_OK);
    ck_assert_uint_le(s.peak, 3 + 2 + 2);
    kvs_blob_sink_close(&s);
    size_t len = 0, out_len = 0;
    uint8_t *blob = fake_store_blob(fs, &len);
    uint8_t *out = malloc(len);
    ck_assert_int_eq(kvs_decrypt_mem(blob, len, out, len, &out_len, NULL, &key, 1, NULL, &err), KVS_OK);
    ck_assert_uint_eq(out_len, N);
    ck_assert_int_eq(memcmp(out, plain, N), 0); /* not secret */
    free(out);
    free(blob);
}
END_TEST

/* Sequential reads of odd sizes return the blob's bytes; read-ahead makes
 * few Gets; read_at past the end is truncation. */
START_TEST(source_reads)
{
    kvs_error err = {0};
    kvs_blob_source src;
    fake_store_set_blob(fs, file, file_len);
    ck_assert_int_eq(kvs_blob_source_open(&src, store, 64 * 1024, 3, &err), KVS_OK);
    ck_assert_uint_eq(src.base.size, file_len);
    uint8_t *got = malloc(file_len + 10);
    size_t done = 0, n = 0, step = 1;
    fake_store_counters_reset(fs);
    while (done < file_len + 10) {
        size_t want = step % 7 == 0 ? 70000 : step * 13;
        if (want > file_len + 10 - done) want = file_len + 10 - done;
        ck_assert_int_eq(src.base.ops->read(&src.base, got + done, want, &n, &err), KVS_OK);
        done += n;
        step++;
        if (n < want) break; /* the end */
    }
    ck_assert_uint_eq(done, file_len);
    ck_assert_int_eq(memcmp(got, file, file_len), 0); /* not secret */
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_le(c.read_range, 12);
    ck_assert_uint_eq(c.bytes_read, file_len); /* nothing fetched twice */
    ck_assert_int_eq(src.base.ops->read_at(&src.base, file_len - 5, got, 6, &err), KVS_ERR_TRUNCATED);
    ck_assert_int_eq(src.base.ops->read_at(&src.base, 7, got, 5, &err), KVS_OK);
    ck_assert_int_eq(memcmp(got, file + 7, 5), 0); /* not secret */
    kvs_blob_source_close(&src);
    free(got);
}
END_TEST

/* Refills of several MiB are fetched as parallel parts: every byte lands
 * where it belongs, once. */
START_TEST(source_parallel_refills)
{
    kvs_error err = {0};
    kvs_blob_source src;
    size_t n = 5 * 1024 * 1024 + 3, done = 0, got = 0;
    uint8_t *big = malloc(n), *back = malloc(n);
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(back);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)((i * 2654435761u) >> 13);
    fake_store_set_blob(fs, big, n);
    ck_assert_int_eq(kvs_blob_source_open(&src, store, 4u * 1024 * 1024, 3, &err), KVS_OK);
    fake_store_counters_reset(fs);
    do {
        ck_assert_int_eq(src.base.ops->read(&src.base, back + done, 300007, &got, &err), KVS_OK);
        done += got;
    } while (got == 300007);
    ck_assert_uint_eq(done, n);
    ck_assert_int_eq(memcmp(back, big, n), 0); /* not secret */
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.bytes_read, n);
    ck_assert_uint_ge(c.read_range, 8); /* 7 refills; the 2 MiB one in 2 parts */
    kvs_blob_source_close(&src);
    free(big);
    free(back);
}
END_TEST

static Suite *blob_sink_suite(void)
{
    Suite *s = suite_create("blob_sink");
    TCase *tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sequential_writes_commit_the_same_bytes);
    tcase_add_loop_test(tc, positional_writes_any_order, 0, 2);
    tcase_add_loop_test(tc, engine_memory_bounded, 0, 2);
    tcase_add_test(tc, source_reads);
    tcase_add_test(tc, source_parallel_refills);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(blob_sink_suite());
}
