/* Random-access decryption (FORMAT.md §8). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvseal/kvseal.h"
#include "testutil.h"

#define N (5 * 4096 + 123)

static char dir[] = "/tmp/kvs-range-XXXXXX";
static char ct_path[300], out_path[300];
static kvs_provider *key;
static uint8_t plain[N];

static void setup(void)
{
    char pt_path[300];
    kvs_error err = {0};
    kvs_test_mkdtemp(dir);
    snprintf(pt_path, sizeof pt_path, "%s/p", dir);
    snprintf(ct_path, sizeof ct_path, "%s/c", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    key = kvs_test_key("rsa2048-a");
    for (size_t i = 0; i < N; i++) plain[i] = (uint8_t)(i * 7 + (i >> 12));
    FILE *f = fopen(pt_path, "wb");
    ck_assert_uint_eq(fwrite(plain, 1, N, f), N);
    fclose(f);
    kvs_encrypt_options o = {4096, NULL, 0, 0, 0};
    ck_assert_int_eq(kvs_encrypt_path(pt_path, ct_path, NULL, &o, &key, 1, &err), KVS_OK);
}

static void teardown(void)
{
    kvs_provider_free(key);
    kvs_test_rmtree(dir);
}

/* Decrypt [off, off+len) of path into out_path; returns status and bytes. */
static kvs_status range(const char *path, uint64_t off, uint64_t len, uint8_t *got, size_t *n)
{
    kvs_error err = {0};
    int in = open(path, O_RDONLY);
    int out = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    kvs_status st = kvs_decrypt_range_fd(in, off, len, out, NULL, &key, 1, &err);
    off_t size = lseek(out, 0, SEEK_END);
    *n = (size_t)pread(out, got, (size_t)size, 0);
    close(in);
    close(out);
    return st;
}

START_TEST(ranges_match_plaintext)
{
    static const uint64_t cases[][2] = {
        {0, 0}, {0, 1}, {0, N}, {4095, 2}, {4096, 4096}, {100, 9000}, {N - 1, 1},
        {N - 5, 100}, {N, 10}, {3 * 4096 + 7, 4096 * 2}, {0, UINT64_MAX},
    };
    static uint8_t got[N + 100];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        uint64_t off = cases[i][0], len = cases[i][1];
        ck_assert_int_eq(range(ct_path, off, len, got, &n), KVS_OK);
        uint64_t expect = len > N - off ? N - off : len;
        ck_assert_uint_eq(n, expect);
        if (n) ck_assert_mem_eq(got, plain + off, n);
    }
}
END_TEST

START_TEST(offset_past_end_refused)
{
    static uint8_t got[16];
    size_t n = 0;
    ck_assert_int_eq(range(ct_path, N + 1, 1, got, &n), KVS_ERR_USAGE);
    ck_assert_uint_eq(n, 0);
}
END_TEST

static void copy_file(const char *from, const char *to, size_t limit, long flip_at)
{
    static uint8_t data[N + 4096];
    FILE *f = fopen(from, "rb");
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    if (limit < n) n = limit;
    if (flip_at >= 0) data[flip_at] ^= 1;
    f = fopen(to, "wb");
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

START_TEST(truncated_file_refused_even_for_early_range)
{
    char bad[320];
    static uint8_t got[N];
    size_t n = 0;
    struct stat_size { size_t size; } s;
    FILE *f = fopen(ct_path, "rb");
    fseek(f, 0, SEEK_END);
    s.size = (size_t)ftell(f);
    fclose(f);
    snprintf(bad, sizeof bad, "%s/trunc", dir);
    /* cut exactly one whole final chunk: the geometry still fits, the tag does not */
    copy_file(ct_path, bad, s.size - (123 + 16), -1);
    ck_assert_int_eq(range(bad, 0, 10, got, &n), KVS_ERR_TRUNCATED);
    ck_assert_uint_eq(n, 0);
    copy_file(ct_path, bad, s.size - 5, -1);
    ck_assert_int_ne(range(bad, 0, 10, got, &n), KVS_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(damage_outside_range_not_read_inside_range_refused)
{
    char bad[320];
    static uint8_t got[N];
    size_t n = 0;
    FILE *f = fopen(ct_path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    long chunk2 = size - (long)(N + 6 * 16) + 2 * (4096 + 16) + 100; /* inside chunk 2 */
    snprintf(bad, sizeof bad, "%s/flip", dir);
    copy_file(ct_path, bad, (size_t)size, chunk2);
    ck_assert_int_eq(range(bad, 0, 4096, got, &n), KVS_OK); /* chunk 0 only */
    ck_assert_uint_eq(n, 4096);
    ck_assert_int_eq(range(bad, 2 * 4096 + 5, 10, got, &n), KVS_ERR_AUTH);
    ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *range_suite(void)
{
    Suite *s = suite_create("range");
    TCase *tc = tcase_create("range");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ranges_match_plaintext);
    tcase_add_test(tc, offset_past_end_refused);
    tcase_add_test(tc, truncated_file_refused_even_for_early_range);
    tcase_add_test(tc, damage_outside_range_not_read_inside_range_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(range_suite());
}
