/* Status names, categories and error detail formatting. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "kvseal/status.h"
#include "kvseal/version.h"
#include "testutil.h"

#define KVS_STATUS_LAST KVS_ERR_SIGNER

struct cat_row {
    kvs_status status;
    kvs_category cat;
};

static const struct cat_row categories[] = {
    {KVS_OK, KVS_CAT_OK},
    {KVS_ERR_USAGE, KVS_CAT_USAGE},
    {KVS_ERR_CONFIG, KVS_CAT_USAGE},
    {KVS_ERR_EXISTS, KVS_CAT_USAGE},
    {KVS_ERR_NOT_KVSEAL, KVS_CAT_INPUT},
    {KVS_ERR_FORMAT, KVS_CAT_INPUT},
    {KVS_ERR_AUTH, KVS_CAT_INPUT},
    {KVS_ERR_TRUNCATED, KVS_CAT_INPUT},
    {KVS_ERR_TRAILING_DATA, KVS_CAT_INPUT},
    {KVS_ERR_CONTEXT_MISMATCH, KVS_CAT_INPUT},
    {KVS_ERR_LIMIT, KVS_CAT_INPUT},
    {KVS_ERR_NO_RECIPIENT, KVS_CAT_KEY},
    {KVS_ERR_KEY, KVS_CAT_KEY},
    {KVS_ERR_KEY_ACCESS, KVS_CAT_KEY},
    {KVS_ERR_NETWORK, KVS_CAT_TRANSIENT},
    {KVS_ERR_IO, KVS_CAT_IO},
    {KVS_ERR_NOMEM, KVS_CAT_INTERNAL},
    {KVS_ERR_CRYPTO, KVS_CAT_INTERNAL},
    {KVS_ERR_INTERNAL, KVS_CAT_INTERNAL},
    {KVS_ERR_STATE, KVS_CAT_INTERNAL},
    {KVS_ERR_UNAVAILABLE, KVS_CAT_TRANSIENT},
    {KVS_ERR_RESOURCE_LIMIT, KVS_CAT_USAGE},
    {KVS_ERR_SIGNER, KVS_CAT_INPUT},
};

START_TEST(test_strerror_distinct)
{
    for (int a = KVS_OK; a <= KVS_STATUS_LAST; a++) {
        const char *sa = kvs_strerror((kvs_status)a);
        ck_assert_ptr_nonnull(sa);
        ck_assert_uint_gt(strlen(sa), 0);
        ck_assert_ptr_null(strchr(sa, '\n'));
        for (int b = a + 1; b <= KVS_STATUS_LAST; b++)
            ck_assert_msg(strcmp(sa, kvs_strerror((kvs_status)b)) != 0,
                          "statuses %d and %d share a name", a, b);
    }
    const char *unknown = kvs_strerror((kvs_status)999);
    ck_assert_ptr_nonnull(unknown);
    ck_assert_uint_gt(strlen(unknown), 0);
}
END_TEST

START_TEST(test_categories)
{
    size_t rows = sizeof(categories) / sizeof(categories[0]);
    ck_assert_uint_eq(rows, (size_t)KVS_STATUS_LAST + 1); /* every status listed */
    for (size_t i = 0; i < rows; i++)
        ck_assert_msg(kvs_status_category(categories[i].status) == categories[i].cat,
                      "status %d: category %d, want %d", (int)categories[i].status,
                      (int)kvs_status_category(categories[i].status), (int)categories[i].cat);
    ck_assert_int_eq(kvs_status_category((kvs_status)999), KVS_CAT_INTERNAL);
}
END_TEST

START_TEST(test_fail_formats)
{
    kvs_error err;
    kvs_error_clear(&err);
    ck_assert_int_eq(kvs_fail(&err, KVS_ERR_FORMAT, "bad %s at offset %d", "salt", 7),
                     KVS_ERR_FORMAT);
    ck_assert_int_eq(err.status, KVS_ERR_FORMAT);
    ck_assert_str_eq(err.detail, "bad salt at offset 7");
    ck_assert_str_eq(kvs_error_message(&err), "bad salt at offset 7");
}
END_TEST

START_TEST(test_fail_null_err)
{
    ck_assert_int_eq(kvs_fail(NULL, KVS_ERR_IO, "x %d", 1), KVS_ERR_IO);
    ck_assert_int_eq(kvs_fail_ossl(NULL, KVS_ERR_CRYPTO, "x"), KVS_ERR_CRYPTO);
}
END_TEST

START_TEST(test_fail_truncates_long_detail)
{
    char longtext[3 * KVS_ERROR_DETAIL_MAX];
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    kvs_error err;
    kvs_fail(&err, KVS_ERR_LIMIT, "detail: %s", longtext);
    size_t len = strlen(err.detail);
    ck_assert_uint_eq(len, KVS_ERROR_DETAIL_MAX - 1);
    ck_assert(strncmp(err.detail, "detail: xxx", 11) == 0);
    ck_assert_str_eq(err.detail + len - 3, "...");

    /* Exactly fitting text is not marked. */
    longtext[KVS_ERROR_DETAIL_MAX - 1] = '\0';
    kvs_fail(&err, KVS_ERR_LIMIT, "%s", longtext);
    ck_assert_str_eq(err.detail, longtext);
}
END_TEST

START_TEST(test_fail_one_line)
{
    kvs_error err;
    kvs_fail(&err, KVS_ERR_FORMAT, "line1\nline2\r\t%s", "\x1b[31mred");
    ck_assert_ptr_null(strchr(err.detail, '\n'));
    ck_assert_ptr_null(strchr(err.detail, '\r'));
    ck_assert_ptr_null(strchr(err.detail, '\x1b'));
    ck_assert(strncmp(err.detail, "line1 line2", 11) == 0);
}
END_TEST

START_TEST(test_message_falls_back_to_name)
{
    kvs_error err;
    kvs_fail(&err, KVS_ERR_AUTH, NULL);
    ck_assert_str_eq(kvs_error_message(&err), kvs_strerror(KVS_ERR_AUTH));
    kvs_fail(&err, KVS_ERR_AUTH, "%s", "");
    ck_assert_str_eq(kvs_error_message(&err), kvs_strerror(KVS_ERR_AUTH));
    kvs_error_clear(&err);
    ck_assert_int_eq(err.status, KVS_OK);
    ck_assert_str_eq(kvs_error_message(&err), kvs_strerror(KVS_OK));
    ck_assert_ptr_nonnull(kvs_error_message(NULL));
    kvs_error_clear(NULL);
}
END_TEST

START_TEST(test_error_copy)
{
    kvs_error a, b;
    kvs_fail(&a, KVS_ERR_KEY_ACCESS, "denied by %s", "vault");
    kvs_error_clear(&b);
    ck_assert_int_eq(kvs_error_copy(&b, &a), KVS_ERR_KEY_ACCESS);
    ck_assert_int_eq(b.status, KVS_ERR_KEY_ACCESS);
    ck_assert_str_eq(b.detail, "denied by vault");
    ck_assert_int_eq(kvs_error_copy(NULL, &a), KVS_ERR_KEY_ACCESS);
    ck_assert_int_eq(kvs_error_copy(&b, &b), KVS_ERR_KEY_ACCESS);
    ck_assert_int_eq(kvs_error_copy(&b, NULL), KVS_OK);
    ck_assert_int_eq(b.status, KVS_OK);
}
END_TEST

START_TEST(test_fail_ossl)
{
    kvs_error err;
    ERR_clear_error();
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "NO-SUCH-CIPHER-KVSEAL", NULL);
    ck_assert_ptr_null(c);
    ck_assert_uint_ne(ERR_peek_error(), 0);
    ck_assert_int_eq(kvs_fail_ossl(&err, KVS_ERR_CRYPTO, "cipher fetch"), KVS_ERR_CRYPTO);
    ck_assert_int_eq(err.status, KVS_ERR_CRYPTO);
    ck_assert(strncmp(err.detail, "cipher fetch: ", 14) == 0);
    ck_assert_uint_gt(strlen(err.detail), 14);
    ck_assert_uint_eq(ERR_peek_error(), 0); /* queue cleared */

    kvs_fail_ossl(&err, KVS_ERR_CRYPTO, "nothing queued");
    ck_assert_str_eq(err.detail, "nothing queued");
}
END_TEST

START_TEST(test_version)
{
    ck_assert_str_eq(kvs_version(), KVSEAL_VERSION_STRING);
}
END_TEST

static Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror_distinct);
    tcase_add_test(tc, test_categories);
    tcase_add_test(tc, test_fail_formats);
    tcase_add_test(tc, test_fail_null_err);
    tcase_add_test(tc, test_fail_truncates_long_detail);
    tcase_add_test(tc, test_fail_one_line);
    tcase_add_test(tc, test_message_falls_back_to_name);
    tcase_add_test(tc, test_error_copy);
    tcase_add_test(tc, test_fail_ossl);
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(status_suite());
}
