/* The CLI's exit codes: every status through its category to one documented
 * code (README.md and docs/CLI.md, "Exit codes"), built with src/cli/exitcode.c. */
#include <stdio.h>

#include "cli/cli.h"
#include "testutil.h"

cli_globals g_cli; /* exitcode.c reads --quiet from here */

struct exit_row {
    kvs_status status;
    int code;
};

/* The documented table, restated by hand: a change of category must show here. */
static const struct exit_row exits[] = {
    {KVS_OK, 0},
    {KVS_ERR_USAGE, 1},
    {KVS_ERR_CONFIG, 1},
    {KVS_ERR_NOT_KVSEAL, 2},
    {KVS_ERR_FORMAT, 2},
    {KVS_ERR_AUTH, 2},
    {KVS_ERR_TRUNCATED, 2},
    {KVS_ERR_TRAILING_DATA, 2},
    {KVS_ERR_CONTEXT_MISMATCH, 2},
    {KVS_ERR_NO_RECIPIENT, 3},
    {KVS_ERR_KEY, 3},
    {KVS_ERR_KEY_ACCESS, 3},
    {KVS_ERR_NETWORK, 7},
    {KVS_ERR_IO, 4},
    {KVS_ERR_NOMEM, 5},
    {KVS_ERR_LIMIT, 2},
    {KVS_ERR_CRYPTO, 5},
    {KVS_ERR_INTERNAL, 5},
    {KVS_ERR_EXISTS, 1},
    {KVS_ERR_STATE, 5},
    {KVS_ERR_UNAVAILABLE, 7},
    {KVS_ERR_RESOURCE_LIMIT, 1},
    {KVS_ERR_SIGNER, 2},
};

START_TEST(test_every_status_has_its_exit_code)
{
    size_t rows = sizeof exits / sizeof exits[0];
    ck_assert_uint_eq(rows, (size_t)KVS_ERR_SIGNER + 1); /* every status listed */
    for (size_t i = 0; i < rows; i++) {
        ck_assert_int_eq((int)exits[i].status, (int)i);
        ck_assert_msg(cli_exit_code(exits[i].status) == exits[i].code,
                      "status %d (%s): exit %d, want %d", (int)exits[i].status,
                      kvs_strerror(exits[i].status), cli_exit_code(exits[i].status),
                      exits[i].code);
    }
    ck_assert_int_eq(cli_exit_code((kvs_status)999), CLI_EXIT_INTERNAL);
}
END_TEST

START_TEST(test_categories_map_to_distinct_codes)
{
    ck_assert_int_eq(CLI_EXIT_OK, 0);
    ck_assert_int_eq(CLI_EXIT_USAGE, 1);
    ck_assert_int_eq(CLI_EXIT_INPUT, 2);
    ck_assert_int_eq(CLI_EXIT_KEY, 3);
    ck_assert_int_eq(CLI_EXIT_IO, 4);
    ck_assert_int_eq(CLI_EXIT_INTERNAL, 5);
    ck_assert_int_eq(CLI_EXIT_TRANSIENT, 7); /* 6 is audit's "findings" */
    ck_assert_int_eq(cli_exit_code(KVS_ERR_NETWORK), CLI_EXIT_TRANSIENT);
    ck_assert_int_eq(kvs_status_category(KVS_ERR_UNAVAILABLE), KVS_CAT_TRANSIENT);
}
END_TEST

START_TEST(test_failure_never_exits_zero)
{
    g_cli.quiet = 1;
    kvs_error err;
    kvs_error_clear(&err); /* a failure whose status was left unset */
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(stderr);
    int code = cli_error_status("test", NULL, &err);
    err.status = KVS_ERR_UNAVAILABLE;
    int transient = cli_error_status("test", "file", &err);
    fclose(stderr);
    stderr = saved;
    ck_assert_int_eq(code, CLI_EXIT_INTERNAL);
    ck_assert_int_eq(transient, CLI_EXIT_TRANSIENT);
}
END_TEST

static Suite *exitcode_suite(void)
{
    Suite *s = suite_create("exitcode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_every_status_has_its_exit_code);
    tcase_add_test(tc, test_categories_map_to_distinct_codes);
    tcase_add_test(tc, test_failure_never_exits_zero);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(exitcode_suite());
}
