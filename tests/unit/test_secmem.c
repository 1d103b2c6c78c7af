/* Secure memory: zeroed, page-aligned blocks that are wiped before release. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/secmem.h"
#include "testutil.h"

static size_t hook_calls;
static const void *hook_ptr;
static size_t hook_len;
static size_t hook_nonzero;

static void record_free(const void *p, size_t len)
{
    const volatile uint8_t *b = p;
    hook_calls++;
    hook_ptr = p;
    hook_len = len;
    hook_nonzero = 0;
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0) hook_nonzero++;
}

static void reset_hook(void)
{
    hook_calls = 0;
    hook_ptr = NULL;
    hook_len = 0;
    hook_nonzero = 0;
    kvs_secure_set_free_hook(record_free);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static const size_t sizes[] = {1, 31, 32, 100, 4095, 4096, 4097, 65536, 100000};

START_TEST(test_alloc_zeroed_and_aligned)
{
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        uint8_t *p = kvs_secure_alloc(len);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % page_size(), 0);
        for (size_t j = 0; j < len; j++) ck_assert_uint_eq(p[j], 0);
        memset(p, 0xA5, len); /* writable over the whole length */
        kvs_secure_free(p, len);
    }
}
END_TEST

START_TEST(test_alloc_zero_length)
{
    void *p = kvs_secure_alloc(0);
    ck_assert_ptr_nonnull(p);
    kvs_secure_free(p, 0);
}
END_TEST

START_TEST(test_alloc_huge_fails)
{
    ck_assert_ptr_null(kvs_secure_alloc(SIZE_MAX));
    ck_assert_ptr_null(kvs_secure_alloc(SIZE_MAX - 1));
}
END_TEST

START_TEST(test_free_wipes)
{
    reset_hook();
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        uint8_t *p = kvs_secure_alloc(len);
        ck_assert_ptr_nonnull(p);
        memset(p, 0xC3, len);
        size_t before = hook_calls;
        kvs_secure_free(p, len);
        ck_assert_uint_eq(hook_calls, before + 1);
        ck_assert_ptr_eq(hook_ptr, p);
        ck_assert_uint_eq(hook_len, len);
        ck_assert_msg(hook_nonzero == 0, "%zu of %zu bytes not wiped", hook_nonzero, len);
    }
    kvs_secure_set_free_hook(NULL);
}
END_TEST

START_TEST(test_free_null_is_noop)
{
    reset_hook();
    kvs_secure_free(NULL, 0);
    kvs_secure_free(NULL, 64);
    ck_assert_uint_eq(hook_calls, 0);
    kvs_secure_set_free_hook(NULL);
}
END_TEST

START_TEST(test_hook_removed)
{
    reset_hook();
    kvs_secure_set_free_hook(NULL);
    void *p = kvs_secure_alloc(16);
    ck_assert_ptr_nonnull(p);
    kvs_secure_free(p, 16);
    ck_assert_uint_eq(hook_calls, 0);
}
END_TEST

START_TEST(test_many_blocks_independent)
{
    enum { N = 64 };
    uint8_t *blocks[N];
    for (size_t i = 0; i < N; i++) {
        blocks[i] = kvs_secure_alloc(32);
        ck_assert_ptr_nonnull(blocks[i]);
        memset(blocks[i], (int)i + 1, 32);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < 32; j++) ck_assert_uint_eq(blocks[i][j], i + 1);
        kvs_secure_free(blocks[i], 32);
    }
}
END_TEST

static Suite *secmem_suite(void)
{
    Suite *s = suite_create("secmem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alloc_zeroed_and_aligned);
    tcase_add_test(tc, test_alloc_zero_length);
    tcase_add_test(tc, test_alloc_huge_fails);
    tcase_add_test(tc, test_free_wipes);
    tcase_add_test(tc, test_free_null_is_noop);
    tcase_add_test(tc, test_hook_removed);
    tcase_add_test(tc, test_many_blocks_independent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(secmem_suite());
}
