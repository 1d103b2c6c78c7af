/* Retry policy: retryable statuses, Retry-After (seconds and HTTP-date),
 * exponential back-off with jitter. */
#include <stdint.h>

#include "azure/retry.h"
#include "testutil.h"

START_TEST(test_retryable_statuses)
{
    static const long yes[] = {408, 429, 500, 502, 503, 504};
    static const long no[] = {200, 201, 400, 401, 403, 404, 409, 410, 501, 505, 0};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_assert_int_eq(kvs_retryable_status(yes[i], 0), 1);
        ck_assert_int_eq(kvs_retryable_status(yes[i], 1), 1);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(kvs_retryable_status(no[i], 0) == 0, "%ld retried", no[i]);
    /* IMDS also retries 404 and 410 */
    ck_assert_int_eq(kvs_retryable_status(404, 1), 1);
    ck_assert_int_eq(kvs_retryable_status(410, 1), 1);
    ck_assert_int_eq(kvs_retryable_status(400, 1), 0);
}
END_TEST

START_TEST(test_http_dates)
{
    int64_t t;
    ck_assert_int_eq(kvs_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(kvs_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(kvs_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    ck_assert_int_eq(t, 784111777);
    ck_assert_int_eq(kvs_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(kvs_http_date_parse("Tue, 29 Feb 2028 23:59:60 GMT", &t), 0);
    ck_assert_int_eq(t, 1835481600); /* leap day, leap second */
    static const char *const bad[] = {
        "", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x",
        "06 Nov 1994 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT", "12", "-5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(kvs_http_date_parse(bad[i], &t) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_retry_after)
{
    int64_t ms;
    ck_assert_int_eq(kvs_retry_after_parse("0", 1000, &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(kvs_retry_after_parse(" 7 ", 1000, &ms), 0);
    ck_assert_int_eq(ms, 7000);
    ck_assert_int_eq(kvs_retry_after_parse("99999999", 1000, &ms), 0);
    ck_assert_int_eq(ms, 86400LL * 1000); /* capped at one day */
    ck_assert_int_eq(kvs_retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", 784111777, &ms), 0);
    ck_assert_int_eq(ms, 10000);
    ck_assert_int_eq(kvs_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111800, &ms), 0);
    ck_assert_int_eq(ms, 0); /* in the past */
    ck_assert_int_eq(kvs_retry_after_parse("-1", 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_parse("1.5", 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_parse("soon", 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_parse("", 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_parse("12345678901", 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_parse(NULL, 0, &ms), -1);
    ck_assert_int_eq(kvs_retry_after_ms_parse("250", &ms), 0);
    ck_assert_int_eq(ms, 250);
    ck_assert_int_eq(kvs_retry_after_ms_parse("x", &ms), -1);
}
END_TEST

START_TEST(test_backoff)
{
    static const int64_t base[] = {1000, 2000, 4000, 8000, 16000, 16000, 16000};
    for (unsigned a = 0; a < sizeof(base) / sizeof(base[0]); a++) {
        int64_t lo = kvs_backoff_ms(a, 0), hi = kvs_backoff_ms(a, 999);
        ck_assert_int_eq(lo, base[a] * 8 / 10);
        ck_assert(hi < base[a] * 12 / 10 && hi > base[a]);
        for (uint32_t r = 0; r < 5000; r += 37) {
            int64_t d = kvs_backoff_ms(a, r * 2654435761u);
            ck_assert(d >= lo && d <= hi);
        }
    }
    ck_assert_int_eq(kvs_backoff_ms(1000, 0), 12800);
}
END_TEST

static Suite *retry_suite(void)
{
    Suite *s = suite_create("azure_retry");
    TCase *tc = tcase_create("retry");
    tcase_add_test(tc, test_retryable_statuses);
    tcase_add_test(tc, test_http_dates);
    tcase_add_test(tc, test_retry_after);
    tcase_add_test(tc, test_backoff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(retry_suite());
}
