/* The Key Vault pacer (src/azure/pacer.c) on a simulated clock: learning a
 * throttle's limit from a 429 without Retry-After, holding requests back
 * until the 10 s window frees, Retry-After for every caller, forgetting. */
#include <stdio.h>
#include <stdlib.h>

#include "azure/pacer.h"
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

int main(void)
{
    Suite *s = suite_create("azure_pacer");
    TCase *tc = tcase_create("pacer");
    tcase_add_test(tc, test_unpaced_until_throttled);
    tcase_add_test(tc, test_learns_limit_and_waits_for_window);
    tcase_add_test(tc, test_retry_after_closes_host);
    tcase_add_test(tc, test_forgets_and_falls_back);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
