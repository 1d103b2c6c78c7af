/* HKDF-SHA256 (RFC 5869), HMAC-SHA256 (RFC 4231) and SHA-256 known answers. */
#include <string.h>

#include "crypto/crypto.h"
#include "testutil.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    long n = kvs_test_unhex(hex, out, cap);
    ck_assert_int_ge(n, 0);
    return (size_t)n;
}

static void fill_range(uint8_t *buf, size_t n, unsigned first)
{
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(first + i);
}

static void check_hkdf(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                       const uint8_t *info, size_t info_len, const char *okm_hex)
{
    uint8_t want[128], got[128];
    size_t len = unhex(okm_hex, want, sizeof(want));
    memset(got, 0, sizeof(got));
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, got, len),
                     KVS_OK);
    ck_assert(memcmp(got, want, len) == 0);
}

START_TEST(test_hkdf_rfc5869_case1)
{
    uint8_t ikm[22], salt[13], info[10];
    memset(ikm, 0x0b, sizeof(ikm));
    fill_range(salt, sizeof(salt), 0x00);
    fill_range(info, sizeof(info), 0xf0);
    check_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
               "34007208d5b887185865");
}
END_TEST

START_TEST(test_hkdf_rfc5869_case2)
{
    uint8_t ikm[80], salt[80], info[80];
    fill_range(ikm, sizeof(ikm), 0x00);
    fill_range(salt, sizeof(salt), 0x60);
    fill_range(info, sizeof(info), 0xb0);
    check_hkdf(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
               "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
               "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
               "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}
END_TEST

START_TEST(test_hkdf_rfc5869_case3)
{
    uint8_t ikm[22];
    memset(ikm, 0x0b, sizeof(ikm));
    check_hkdf(ikm, sizeof(ikm), NULL, 0, NULL, 0,
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
               "9d201395faa4b61a96c8");
}
END_TEST

START_TEST(test_hkdf_bad_args)
{
    uint8_t ikm[32] = {0}, out[32];
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 0), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, NULL, 32), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_hkdf_sha256(NULL, 32, NULL, 0, NULL, 0, out, 32), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, 32, NULL, 4, NULL, 0, out, 32), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_hkdf_sha256(ikm, 32, NULL, 0, NULL, 0, out, 255 * 32 + 1),
                     KVS_ERR_USAGE);
}
END_TEST

static void check_hmac(const uint8_t *key, size_t key_len, const void *data, size_t data_len,
                       const char *mac_hex)
{
    uint8_t want[32], got[32];
    ck_assert_uint_eq(unhex(mac_hex, want, sizeof(want)), 32);
    ck_assert_int_eq(kvs_hmac_sha256(key, key_len, data, data_len, got), KVS_OK);
    ck_assert(memcmp(got, want, 32) == 0);
}

START_TEST(test_hmac_rfc4231)
{
    uint8_t key[131], data[50];

    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    static const char jefe[] = "what do ya want for nothing?";
    check_hmac((const uint8_t *)"Jefe", 4, jefe, strlen(jefe),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_hmac(key, 20, data, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    fill_range(key, 25, 0x01);
    memset(data, 0xcd, 50);
    check_hmac(key, 25, data, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    memset(key, 0xaa, 131);
    static const char tc6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(key, 131, tc6, strlen(tc6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    static const char tc7[] =
        "This is a test using a larger than block-size key and a larger than block-size "
        "data. The key needs to be hashed before being used by the HMAC algorithm.";
    check_hmac(key, 131, tc7, strlen(tc7),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}
END_TEST

START_TEST(test_hmac_empty_inputs)
{
    /* HMAC-SHA256 with empty key and empty message (well-known value). */
    check_hmac(NULL, 0, NULL, 0,
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
END_TEST

START_TEST(test_sha256)
{
    uint8_t want[32], got[32];
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    ck_assert_int_eq(kvs_sha256((const uint8_t *)"abc", 3, got), KVS_OK);
    ck_assert(memcmp(got, want, 32) == 0);

    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    ck_assert_int_eq(kvs_sha256(NULL, 0, got), KVS_OK);
    ck_assert(memcmp(got, want, 32) == 0);

    ck_assert_int_eq(kvs_sha256(NULL, 1, got), KVS_ERR_USAGE);
}
END_TEST

START_TEST(test_random)
{
    uint8_t a[64], b[64], zero[64] = {0};
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ck_assert_int_eq(kvs_random_secret(a, sizeof(a)), KVS_OK);
    ck_assert_int_eq(kvs_random_public(b, sizeof(b)), KVS_OK);
    ck_assert(memcmp(a, zero, sizeof(a)) != 0);
    ck_assert(memcmp(b, zero, sizeof(b)) != 0);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(kvs_random_secret(NULL, 0), KVS_OK);
    ck_assert_int_eq(kvs_random_public(NULL, 1), KVS_ERR_USAGE);
}
END_TEST

static Suite *kdf_suite(void)
{
    Suite *s = suite_create("kdf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hkdf_rfc5869_case1);
    tcase_add_test(tc, test_hkdf_rfc5869_case2);
    tcase_add_test(tc, test_hkdf_rfc5869_case3);
    tcase_add_test(tc, test_hkdf_bad_args);
    tcase_add_test(tc, test_hmac_rfc4231);
    tcase_add_test(tc, test_hmac_empty_inputs);
    tcase_add_test(tc, test_sha256);
    tcase_add_test(tc, test_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(kdf_suite());
}
