/* Base64url: RFC 4648 vectors, round trips, strict and lenient rejection. */
#include <stdint.h>
#include <string.h>

#include "core/b64url.h"
#include "testutil.h"

struct b64_vec {
    const char *raw;
    const char *enc;
};

/* RFC 4648 section 10, without padding. */
static const struct b64_vec rfc4648[] = {
    {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

static int strict(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    return kvs_b64url_decode_strict(s, strlen(s), out, cap, len);
}

static int lenient(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    return kvs_b64_decode_lenient(s, strlen(s), out, cap, len);
}

START_TEST(test_rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const struct b64_vec *v = &rfc4648[i];
        size_t n = strlen(v->raw);
        char enc[32];
        ck_assert_uint_eq(kvs_b64url_encoded_len(n), strlen(v->enc));
        ck_assert_int_eq(kvs_b64url_encode((const uint8_t *)v->raw, n, enc, sizeof(enc)), 0);
        ck_assert_str_eq(enc, v->enc);

        uint8_t dec[16];
        size_t len = 99;
        ck_assert_int_eq(strict(v->enc, dec, sizeof(dec), &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(dec, v->raw, n) == 0);
        len = 99;
        ck_assert_int_eq(lenient(v->enc, dec, sizeof(dec), &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(dec, v->raw, n) == 0);
    }
}
END_TEST

START_TEST(test_url_alphabet)
{
    static const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
    char enc[16];
    ck_assert_int_eq(kvs_b64url_encode(raw, sizeof(raw), enc, sizeof(enc)), 0);
    ck_assert_str_eq(enc, "-_-_-_8");

    uint8_t dec[8];
    size_t len = 0;
    ck_assert_int_eq(strict("-_-_-_8", dec, sizeof(dec), &len), 0);
    ck_assert_uint_eq(len, sizeof(raw));
    ck_assert(memcmp(dec, raw, sizeof(raw)) == 0);
}
END_TEST

static void fill_pattern(uint8_t *buf, size_t n, size_t seed)
{
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 37 + seed * 101 + (i >> 3));
}

START_TEST(test_round_trip_all_lengths)
{
    for (size_t n = 0; n <= 100; n++) {
        uint8_t raw[100], dec[100];
        char enc[140];
        fill_pattern(raw, n, n);
        size_t elen = kvs_b64url_encoded_len(n);
        ck_assert_uint_eq(elen, (n * 4 + 2) / 3);
        ck_assert_int_eq(kvs_b64url_encode(raw, n, enc, elen + 1), 0);
        ck_assert_uint_eq(strlen(enc), elen);
        ck_assert(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                  elen);

        size_t len = 0;
        ck_assert_int_eq(kvs_b64url_decode_strict(enc, elen, dec, n, &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(dec, raw, n) == 0);

        /* Lenient accepts the same text, and its padded form. */
        char padded[144];
        memcpy(padded, enc, elen);
        size_t plen = elen;
        while (plen % 4 != 0) padded[plen++] = '=';
        ck_assert_int_eq(kvs_b64_decode_lenient(enc, elen, dec, n, &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(dec, raw, n) == 0);
        ck_assert_int_eq(kvs_b64_decode_lenient(padded, plen, dec, n, &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(dec, raw, n) == 0);
        if (plen != elen) /* strict never accepts padding */
            ck_assert_int_eq(kvs_b64url_decode_strict(padded, plen, dec, n, &len), -1);
    }
}
END_TEST

START_TEST(test_strict_rejects)
{
    static const char *bad[] = {
        "Zg==", "Zg=", "Zm8=", "Zm9vYg==", "=", "====", /* padding */
        "Zm9v+A", "Zm9v/A", "+_8", "-/8",               /* standard alphabet */
        " Zg", "Zg ", "Zg\n", "Zm\t9v", "Zm9v\r\n",        /* whitespace */
        "Z", "Zm9vY", "Zm9vYmFyZ",                       /* length % 4 == 1 */
        "Zh", "Zm9", "Zm9vYh", "Zm9vYmF",                /* non-zero trailing bits */
        "Zm9v.A", "Zm9v*", "Zm\xc3\xa9v", "Zm~v",          /* other characters */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[16];
        size_t len = 1234;
        ck_assert_msg(strict(bad[i], out, sizeof(out), &len) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(len, 1234); /* untouched on failure */
    }
    /* An embedded NUL is a bad character, not a terminator. */
    uint8_t out[8];
    size_t len = 0;
    ck_assert_int_eq(kvs_b64url_decode_strict("Zm9v\0AAA", 8, out, sizeof(out), &len), -1);
}
END_TEST

START_TEST(test_strict_failure_clears_output)
{
    uint8_t out[8];
    size_t len = 0;
    memset(out, 0x55, sizeof(out));
    /* The bad character is last: earlier bytes were decoded, then wiped. */
    ck_assert_int_eq(strict("Zm9vYmF!", out, sizeof(out), &len), -1);
    for (size_t i = 0; i < 6; i++) ck_assert_uint_eq(out[i], 0);
}
END_TEST

START_TEST(test_buffer_too_small)
{
    uint8_t out[8];
    size_t len = 0;
    ck_assert_int_eq(strict("Zm9vYmFy", out, 5, &len), -1);
    ck_assert_int_eq(strict("Zm9vYmFy", out, 6, &len), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(lenient("Zm9vYg==", out, 3, &len), -1);
    ck_assert_int_eq(strict("Zg", NULL, 0, &len), -1);
    ck_assert_int_eq(strict("", NULL, 0, &len), 0);
    ck_assert_uint_eq(len, 0);

    char enc[8];
    static const uint8_t raw[] = {'f', 'o', 'o'};
    ck_assert_int_eq(kvs_b64url_encode(raw, 3, enc, 4), -1); /* no room for NUL */
    ck_assert_int_eq(kvs_b64url_encode(raw, 3, enc, 5), 0);
    ck_assert_int_eq(kvs_b64url_encode(raw, 3, NULL, 5), -1);
    ck_assert_int_eq(kvs_b64url_encode(NULL, 0, enc, 1), 0);
    ck_assert_str_eq(enc, "");
    ck_assert_int_eq(strict("Zg", out, sizeof(out), NULL), -1);
}
END_TEST

START_TEST(test_lenient_accepts)
{
    uint8_t out[16];
    size_t len = 0;
    ck_assert_int_eq(lenient("+/8=", out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_uint_eq(out[0], 0xfb);
    ck_assert_uint_eq(out[1], 0xff);
    ck_assert_int_eq(lenient("-_8", out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert_uint_eq(out[0], 0xfb);
    ck_assert_int_eq(lenient("+/-_", out, sizeof(out), &len), 0); /* mixed alphabets */
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(lenient("Zm9vYg==", out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 4);
    ck_assert(memcmp(out, "foob", 4) == 0);
    ck_assert_int_eq(lenient("Zm9vYmE=", out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert(memcmp(out, "fooba", 5) == 0);
    ck_assert_int_eq(lenient("", out, sizeof(out), &len), 0);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_lenient_rejects)
{
    static const char *bad[] = {
        "Zm9vYg=", "Zm9vYg===", "Zm9vYmE==", "Zm9v=", "Zm9v====", "====", "=",
        "Zg=a", "Z===", "Zm=vYmE=", "Zm9vYmFy=", "Zg==Zg==",
        " Zg==", "Zg==\n", "Zm 9v", "Z", "Zm9vY", "Zm9v.A", "Zm9v\xff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[16];
        size_t len = 0;
        ck_assert_msg(lenient(bad[i], out, sizeof(out), &len) == -1, "accepted \"%s\"", bad[i]);
    }
}
END_TEST

static Suite *b64url_suite(void)
{
    Suite *s = suite_create("b64url");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rfc4648_vectors);
    tcase_add_test(tc, test_url_alphabet);
    tcase_add_test(tc, test_round_trip_all_lengths);
    tcase_add_test(tc, test_strict_rejects);
    tcase_add_test(tc, test_strict_failure_clears_output);
    tcase_add_test(tc, test_buffer_too_small);
    tcase_add_test(tc, test_lenient_accepts);
    tcase_add_test(tc, test_lenient_rejects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(b64url_suite());
}
