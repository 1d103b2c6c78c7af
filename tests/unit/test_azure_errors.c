/* Mapping Key Vault and Entra ID error answers to statuses and messages. */
#include <string.h>

#include "azure/kverror.h"
#include "testutil.h"

static kvs_status map(long status, const char *body, int hsm, kvs_error *err)
{
    kvs_kv_errbody b;
    kvs_kv_errbody_parse(body, body ? strlen(body) : 0, &b);
    kvs_kv_errctx x = {"unwrapkey", "backup", "0123abcd", "v.vault.azure.net", hsm,
                       "11111111-2222-4333-8444-555555555555", "req-42"};
    kvs_error_clear(err);
    return kvs_kv_http_error(err, status, &b, &x);
}

#define HAS(err, text) ck_assert_msg(strstr((err).detail, (text)) != NULL, "no [%s] in: %s", (text), (err).detail)

START_TEST(test_body_parse)
{
    kvs_kv_errbody b;
    const char *j = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not authorized.\\r\\n"
                    "more lines\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}";
    kvs_kv_errbody_parse(j, strlen(j), &b);
    ck_assert_str_eq(b.code, "Forbidden");
    ck_assert_str_eq(b.inner, "ForbiddenByRbac");
    ck_assert_str_eq(b.message, "Caller is not authorized."); /* first line only */
    kvs_kv_errbody_parse("not json", 8, &b);
    ck_assert_str_eq(b.code, "");
    kvs_kv_errbody_parse(NULL, 0, &b);
    ck_assert_str_eq(b.message, "");
    const char *hostile = "{\"error\":{\"code\":\"X\\u001b[31m\",\"message\":\"\\u0007bell\"}}";
    kvs_kv_errbody_parse(hostile, strlen(hostile), &b);
    ck_assert_str_eq(b.code, "X?[31m");
    ck_assert_str_eq(b.message, "?bell");
    char longmsg[4000];
    memset(longmsg, 'm', sizeof(longmsg));
    memcpy(longmsg, "{\"error\":{\"message\":\"", 21);
    memcpy(longmsg + sizeof(longmsg) - 4, "\"}}", 4);
    kvs_kv_errbody_parse(longmsg, strlen(longmsg), &b);
    ck_assert_uint_eq(strlen(b.message), sizeof(b.message) - 1);
    ck_assert(strstr(b.message, "...") != NULL);
}
END_TEST

START_TEST(test_403_variants)
{
    kvs_error err;
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not "
                              "authorized\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}", 0, &err),
                     KVS_ERR_KEY_ACCESS);
    HAS(err, "Key Vault Crypto Service Encryption User");
    HAS(err, "unwrapkey");
    HAS(err, "11111111-2222-4333-8444-555555555555");
    HAS(err, "req-42");
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"code\":"
                              "\"ForbiddenByRbac\"}}}", 1, &err), KVS_ERR_KEY_ACCESS);
    HAS(err, "Managed HSM Crypto Service Encryption User");
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"code\":"
                              "\"AccessDenied\"}}}", 0, &err), KVS_ERR_KEY_ACCESS);
    HAS(err, "get, wrapKey and unwrapKey");
    HAS(err, "access policy");
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"code\":"
                              "\"ForbiddenByFirewall\"}}}", 0, &err), KVS_ERR_KEY_ACCESS);
    HAS(err, "firewall");
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation "
                              "unwrapKey is not allowed on a disabled key.\"}}", 0, &err), KVS_ERR_KEY);
    HAS(err, "disabled");
    ck_assert_int_eq(map(403, "{\"error\":{\"code\":\"Forbidden\",\"innererror\":{\"code\":"
                              "\"KeyDisabled\"}}}", 0, &err), KVS_ERR_KEY);
    ck_assert_int_eq(map(403, "", 0, &err), KVS_ERR_KEY_ACCESS); /* no body: still the role */
    HAS(err, "Key Vault Crypto Service Encryption User");
}
END_TEST

START_TEST(test_other_statuses)
{
    kvs_error err;
    ck_assert_int_eq(map(404, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"A key with "
                              "(name/id) backup was not found\"}}", 0, &err), KVS_ERR_KEY);
    HAS(err, "key 'backup' version '0123abcd'");
    HAS(err, "not found");
    HAS(err, "KeyNotFound");
    ck_assert_int_eq(map(401, "{\"error\":{\"code\":\"Unauthorized\"}}", 0, &err), KVS_ERR_KEY_ACCESS);
    ck_assert_int_eq(map(400, "{\"error\":{\"code\":\"BadParameter\",\"message\":\"bad alg\"}}", 0, &err),
                     KVS_ERR_KEY);
    HAS(err, "bad alg");
    ck_assert_int_eq(map(429, "{\"error\":{\"code\":\"Throttled\"}}", 0, &err), KVS_ERR_NETWORK);
    HAS(err, "throttled");
    ck_assert_int_eq(map(503, NULL, 0, &err), KVS_ERR_NETWORK);
    HAS(err, "HTTP 503");
    ck_assert_int_eq(map(500, "<html>", 0, &err), KVS_ERR_NETWORK);
    ck_assert_int_eq(map(302, "", 0, &err), KVS_ERR_NETWORK);
    ck_assert_int_eq(map(418, "", 0, &err), KVS_ERR_NETWORK);
}
END_TEST

START_TEST(test_entra_errors)
{
    char out[200];
    const char *j = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid "
                    "client secret provided.\\r\\nTrace ID: abc\",\"error_codes\":[7000215]}";
    kvs_entra_error_text(j, strlen(j), out, sizeof(out));
    ck_assert_str_eq(out, "AADSTS7000215: Invalid client secret provided.");
    kvs_entra_error_text("{\"error\":\"invalid_request\"}", 27, out, sizeof(out));
    ck_assert_str_eq(out, "invalid_request");
    kvs_entra_error_text("{\"message\":\"No managed identity\"}", 34, out, sizeof(out));
    ck_assert_str_eq(out, "No managed identity");
    kvs_entra_error_text("oops", 4, out, sizeof(out));
    ck_assert_str_eq(out, "(no error description)");
}
END_TEST

START_TEST(test_sanitize_and_ids)
{
    char out[8], ids[200];
    kvs_text_sanitize("abc\x01" "def", out, sizeof(out));
    ck_assert_str_eq(out, "abc?def");
    kvs_text_sanitize("abcdefghijkl", out, sizeof(out));
    ck_assert_str_eq(out, "abcd...");
    kvs_text_sanitize(NULL, out, sizeof(out));
    ck_assert_str_eq(out, "");
    kvs_request_ids("c1", "s1", ids, sizeof(ids));
    ck_assert_str_eq(ids, " [client-request-id c1, x-ms-request-id s1]");
    kvs_request_ids("c1", "", ids, sizeof(ids));
    ck_assert_str_eq(ids, " [client-request-id c1]");
    kvs_request_ids(NULL, NULL, ids, sizeof(ids));
    ck_assert_str_eq(ids, "");
}
END_TEST

static Suite *errors_suite(void)
{
    Suite *s = suite_create("azure_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_body_parse);
    tcase_add_test(tc, test_403_variants);
    tcase_add_test(tc, test_other_statuses);
    tcase_add_test(tc, test_entra_errors);
    tcase_add_test(tc, test_sanitize_and_ids);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(errors_suite());
}
