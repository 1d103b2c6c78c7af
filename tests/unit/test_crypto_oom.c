/* Out of memory while OpenSSL fetches kvseal's algorithms (HKDF, HMAC,
 * SHA-256, AES-256-GCM) fails that call only: the next call fetches again, so
 * a long-running library process recovers. Allocation failures are injected
 * through CRYPTO_set_mem_functions, installed before OpenSSL allocates. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "testutil.h"

static volatile int fail_allocations;

static void *oom_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return fail_allocations ? NULL : malloc(n);
}

static void *oom_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return fail_allocations ? NULL : realloc(p, n);
}

static void oom_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* Load OpenSSL's default provider with something kvseal does not fetch, so
 * that the injected failures hit kvseal's own fetches. */
static void start_openssl(void)
{
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA1", NULL);
    ck_assert_ptr_nonnull(md);
    EVP_MD_free(md);
}

/* RFC 5869, test case 1. */
START_TEST(hkdf_recovers_after_failed_fetch)
{
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (size_t i = 0; i < sizeof salt; i++) salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof info; i++) info[i] = (uint8_t)(0xf0 + i);
    ck_assert_int_eq(kvs_test_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                                    "34007208d5b887185865",
                                    want, sizeof want),
                     42);
    start_openssl();
    fail_allocations = 1;
    kvs_status st = kvs_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm, sizeof okm);
    fail_allocations = 0;
    ck_assert_int_eq(st, KVS_ERR_CRYPTO);
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info, okm, sizeof okm),
                     KVS_OK);
    ck_assert_mem_eq(okm, want, sizeof want);
}
END_TEST

START_TEST(gcm_recovers_after_failed_fetch)
{
    uint8_t key[32] = {1}, iv[12] = {2}, pt[64] = {3}, ct[64], tag[16], back[64];
    start_openssl();
    fail_allocations = 1;
    kvs_gcm *g = kvs_gcm_new(key);
    fail_allocations = 0;
    ck_assert_ptr_null(g);
    g = kvs_gcm_new(key);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, sizeof iv, NULL, 0, pt, sizeof pt, ct, tag, sizeof tag), KVS_OK);
    ck_assert_int_eq(kvs_gcm_open(g, iv, sizeof iv, NULL, 0, ct, sizeof ct, tag, sizeof tag, back), KVS_OK);
    ck_assert_mem_eq(back, pt, sizeof pt);
    kvs_gcm_free(g);
}
END_TEST

int main(void)
{
    if (!CRYPTO_set_mem_functions(oom_malloc, oom_realloc, oom_free)) return 1;
    Suite *s = suite_create("crypto_oom");
    TCase *tc = tcase_create("fetch");
    tcase_add_test(tc, hkdf_recovers_after_failed_fetch);
    tcase_add_test(tc, gcm_recovers_after_failed_fetch);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
