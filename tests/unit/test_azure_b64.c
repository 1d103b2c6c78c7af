/* Base64 as Key Vault uses it: responses decoded in both alphabets with
 * optional padding; requests always base64url without padding. */
#include <string.h>

#include "azure/sbuf.h"
#include "core/b64url.h"
#include "testutil.h"

static int dec(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    return kvs_b64_decode_lenient(s, strlen(s), out, cap, n);
}

START_TEST(test_both_alphabets)
{
    /* bytes fb ff bf: "-_-_" in base64url, "+/+/" in standard base64 */
    static const uint8_t want[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf};
    static const char *const forms[] = {"-_-_-_-_", "+/+/+/+/", "-/+_-/+_"};
    for (size_t i = 0; i < 3; i++) {
        uint8_t out[16];
        size_t n = 0;
        ck_assert_msg(dec(forms[i], out, sizeof(out), &n) == 0, "%s", forms[i]);
        ck_assert_uint_eq(n, 6);
        ck_assert_mem_eq(out, want, 6);
    }
    /* optional padding */
    uint8_t out[16];
    size_t n = 0;
    ck_assert_int_eq(dec("AQAB", out, sizeof(out), &n), 0); /* e = 65537 */
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(dec("AQ==", out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(dec("AQ", out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(dec("AQI=", out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 2);
    /* the strict header decoder refuses what the service may send */
    ck_assert_int_eq(kvs_b64url_decode_strict("+/+/", 4, out, sizeof(out), &n), -1);
    ck_assert_int_eq(kvs_b64url_decode_strict("AQ==", 4, out, sizeof(out), &n), -1);
    /* garbage */
    ck_assert_int_eq(dec("A", out, sizeof(out), &n), -1);
    ck_assert_int_eq(dec("AQ=A", out, sizeof(out), &n), -1);
    ck_assert_int_eq(dec("A Q", out, sizeof(out), &n), -1);
    ck_assert_int_eq(dec("AQAB", out, 2, &n), -1); /* too small */
}
END_TEST

START_TEST(test_modulus_with_leading_zero)
{
    /* a 512-byte modulus sent with a leading zero byte decodes to 513 bytes */
    uint8_t raw[513];
    char enc[1024];
    memset(raw, 0xa5, sizeof(raw));
    raw[0] = 0;
    ck_assert_int_eq(kvs_b64url_encode(raw, sizeof(raw), enc, sizeof(enc)), 0);
    uint8_t out[1025];
    size_t n = 0;
    ck_assert_int_eq(dec(enc, out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 513);
    ck_assert_mem_eq(out, raw, 513);
}
END_TEST

START_TEST(test_requests_use_base64url)
{
    kvs_sbuf b;
    static const uint8_t dek[32] = {0xfb, 0xff, 0xbf, 0xfe, 0x3f};
    kvs_sbuf_init(&b, 0);
    ck_assert_int_eq(kvs_sbuf_put_b64url(&b, dek, sizeof(dek)), 0);
    ck_assert_uint_eq(b.len, 43);
    ck_assert_ptr_null(strpbrk(b.p, "+/="));
    uint8_t back[32];
    size_t n = 0;
    ck_assert_int_eq(kvs_b64url_decode_strict(b.p, b.len, back, sizeof(back), &n), 0);
    ck_assert_mem_eq(back, dek, 32);
    kvs_sbuf_free(&b);
}
END_TEST

START_TEST(test_sbuf_limits_and_urlenc)
{
    kvs_sbuf b;
    kvs_sbuf_init(&b, 10);
    ck_assert_int_eq(kvs_sbuf_puts(&b, "0123456789"), 0);
    ck_assert_int_eq(kvs_sbuf_puts(&b, "x"), -1);
    ck_assert_str_eq(b.p, "0123456789");
    kvs_sbuf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(kvs_sbuf_put_urlenc(&b, "a b&c"), 0);
    ck_assert_str_eq(b.p, "a%20b%26c");
    kvs_sbuf_free(&b);
    kvs_sbuf_init(&b, 0);
    ck_assert_int_eq(kvs_sbuf_put_urlenc(&b, "https://vault.azure.net/.default?x=1~_-."), 0);
    ck_assert_str_eq(b.p, "https%3A%2F%2Fvault.azure.net%2F.default%3Fx%3D1~_-.");
    /* growth keeps content */
    for (int i = 0; i < 2000; i++) ck_assert_int_eq(kvs_sbuf_puts(&b, "0123456789"), 0);
    ck_assert_uint_eq(b.len, strlen("https%3A%2F%2Fvault.azure.net%2F.default%3Fx%3D1~_-.") + 20000);
    kvs_sbuf_free(&b);
    kvs_sbuf_free(&b); /* idempotent */
}
END_TEST

static Suite *b64_suite(void)
{
    Suite *s = suite_create("azure_b64");
    TCase *tc = tcase_create("b64");
    tcase_add_test(tc, test_both_alphabets);
    tcase_add_test(tc, test_modulus_with_leading_zero);
    tcase_add_test(tc, test_requests_use_base64url);
    tcase_add_test(tc, test_sbuf_limits_and_urlenc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(b64_suite());
}
