/* The Key Vault pacer (src/azure/pacer.c) on a simulated clock: learning a
 * throttle's limit from a 429 without Retry-After, holding requests back
 * until the 10 s window frees, Retry-After for every caller, forgetting. */
#include <stdio.h>
#include <stdlib.h>

#include "azure/pacer.h"
#include "fake_clock.h"
#include "testutil.h"

static const char *const HOST = "v.vault.azure.net";

/* n requests sent at t0, t0+step, ..., all admitted. */
static void send_admitted(kvs_pacer *p, int n, int64_t t0, int64_t step)
{
    for (int i = 0; i < n; i++) {
        uint64_t ticket = 0;
        ck_assert_int_eq(kvs_pacer_try(p, HOST, t0 + i * step, &ticket), 0);
        ck_assert_int_eq(kvs_pacer_done_at(p, HOST, ticket, 0, -1, 0, t0 + i * step + 5), 0);
    }
}

START_TEST(test_unpaced_until_throttled)
{
    kvs_pacer *p = kvs_pacer_new();
    send_admitted(p, 1000, 0, 1);
    ck_assert_uint_eq(kvs_pacer_limit(p, HOST), 0);
    kvs_pacer_free(p);
}
END_TEST

START_TEST(test_learns_limit_and_waits_for_window)
{
    kvs_pacer *p = kvs_pacer_new();
    send_admitted(p, 250, 0, 8); /* 250 admitted in t = 0 .. 1992 ms */
    uint64_t ticket = 0;
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 2100, &ticket), 0);
    /* 429 without Retry-After: learn, and let acquire hold the retry back. */
    ck_assert_int_eq(kvs_pacer_done_at(p, HOST, ticket, 1, -1, 0, 2110), 0);
    ck_assert_uint_eq(kvs_pacer_limit(p, HOST), 250);
    int64_t wait = kvs_pacer_try(p, HOST, 2200, &ticket);
    ck_assert_int_eq(wait, 0 + KVS_PACER_WINDOW_MS + KVS_PACER_MARGIN_MS - 2200);
    /* At t = 10050 the 7 requests sent at 0 .. 48 ms have left the window:
     * exactly 7 more may go, then the next waits for the one sent at 56 ms. */
    int sent = 0;
    while (kvs_pacer_try(p, HOST, 10050, &ticket) == 0 && sent < 100) sent++;
    ck_assert_int_eq(sent, 7);
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 10050, &ticket), 56 + KVS_PACER_WINDOW_MS + KVS_PACER_MARGIN_MS - 10050);
    kvs_pacer_free(p);
}
END_TEST

START_TEST(test_retry_after_closes_host)
{
    kvs_pacer *p = kvs_pacer_new();
    uint64_t ticket = 0;
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 0, &ticket), 0);
    ck_assert_int_eq(kvs_pacer_done_at(p, HOST, ticket, 1, 3000, 0, 10), 3000);
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 1010, &ticket), 2000);
    ck_assert_int_eq(kvs_pacer_try(p, "other.vault.azure.net", 1010, &ticket), 0);
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 3010, &ticket), 0);
    kvs_pacer_free(p);
}
END_TEST

START_TEST(test_forgets_and_falls_back)
{
    kvs_pacer *p = kvs_pacer_new();
    send_admitted(p, 10, 0, 1);
    uint64_t ticket = 0;
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 100, &ticket), 0);
    ck_assert_int_eq(kvs_pacer_done_at(p, HOST, ticket, 1, -1, 0, 100), 0);
    ck_assert_uint_eq(kvs_pacer_limit(p, HOST), 10);
    /* A call still throttled after its paced retries backs off instead. */
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 10100, &ticket), 0);
    ck_assert_int_ge(kvs_pacer_done_at(p, HOST, ticket, 1, -1, KVS_PACER_LEARN_TRIES, 10100), 800);
    /* Nothing learned from a window with no admitted request: back off. */
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 30000, &ticket), 0);
    ck_assert_int_ge(kvs_pacer_done_at(p, HOST, ticket, 1, -1, 0, 30000), 800);
    /* 60 s after the last 429 the limit is forgotten. */
    ck_assert_int_eq(kvs_pacer_try(p, HOST, 100 + KVS_PACER_FORGET_MS + 1, &ticket), 0);
    ck_assert_uint_eq(kvs_pacer_limit(p, HOST), 0);
    kvs_pacer_free(p);
}
END_TEST

START_TEST(test_acquire_waits_on_the_clock)
{
    /* kvs_pacer_acquire on virtual time: it sleeps exactly until the window
     * frees, and gives up (ticket 0, unpaced) at the deadline. */
    fake_clock_install(1700000000);
    kvs_pacer *p = kvs_pacer_new();
    int64_t t0 = fake_clock_mono_ms();
    uint64_t first = kvs_pacer_acquire(p, HOST, t0 + 60000);
    ck_assert_uint_ne(first, 0);
    kvs_pacer_done(p, HOST, first, 0, -1, 0);
    fake_clock_advance(100);
    uint64_t second = kvs_pacer_acquire(p, HOST, t0 + 60000);
    ck_assert_int_eq(kvs_pacer_done(p, HOST, second, 1, -1, 0), 0); /* learns 1 */
    ck_assert_uint_eq(kvs_pacer_limit(p, HOST), 1);
    ck_assert_int_eq(fake_clock_slept_ms(), 0);
    uint64_t third = kvs_pacer_acquire(p, HOST, t0 + 60000);
    ck_assert_uint_ne(third, 0);
    ck_assert_int_eq(fake_clock_mono_ms() - t0, KVS_PACER_WINDOW_MS + KVS_PACER_MARGIN_MS);
    /* The window is full again: with only 1 s left, acquire gives up then. */
    int64_t t1 = fake_clock_mono_ms();
    ck_assert_uint_eq(kvs_pacer_acquire(p, HOST, t1 + 1000), 0);
    ck_assert_int_eq(fake_clock_mono_ms() - t1, 1000);
    /* A Retry-After closes the host for every caller for that long. */
    kvs_pacer_done(p, HOST, third, 1, 4000, 0);
    int64_t t2 = fake_clock_mono_ms();
    ck_assert_uint_ne(kvs_pacer_acquire(p, "other.vault.azure.net", t2 + 60000), 0);
    ck_assert_int_eq(fake_clock_mono_ms(), t2);
    ck_assert_uint_ne(kvs_pacer_acquire(p, HOST, t2 + 60000), 0);
    ck_assert_int_eq(fake_clock_mono_ms() - t2, 4000);
    kvs_pacer_free(p);
    fake_clock_uninstall();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("azure_pacer");
    TCase *tc = tcase_create("pacer");
    tcase_add_test(tc, test_unpaced_until_throttled);
    tcase_add_test(tc, test_learns_limit_and_waits_for_window);
    tcase_add_test(tc, test_retry_after_closes_host);
    tcase_add_test(tc, test_forgets_and_falls_back);
    tcase_add_test(tc, test_acquire_waits_on_the_clock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
