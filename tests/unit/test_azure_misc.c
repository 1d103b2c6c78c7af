/* Key Vault provider internals: DEK cache, token JSON, request ids, and the
 * providers' argument checks (no network). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/cred.h"
#include "azure/http.h"
#include "azure/kvjson.h"
#include "keys/dek_cache.h"
#include "kvseal/keyvault.h"
#include "testutil.h"

static kvs_recipient recipient(const char *kid, uint8_t fill)
{
    kvs_recipient r;
    memset(&r, 0, sizeof(r));
    memcpy(r.type, KVS_RECIPIENT_AZURE, sizeof(KVS_RECIPIENT_AZURE));
    memcpy(r.alg, KVS_ALG_OAEP_256, sizeof(KVS_ALG_OAEP_256));
    snprintf(r.key_id, sizeof(r.key_id), "%s", kid);
    memset(r.wrapped, fill, 512);
    r.wrapped_len = 512;
    return r;
}

START_TEST(test_dek_cache)
{
    kvs_dek_cache *c = kvs_dek_cache_new(4);
    ck_assert_ptr_nonnull(c);
    kvs_recipient a = recipient("https://v.vault.azure.net/keys/k/1", 1);
    kvs_recipient b = recipient("https://v.vault.azure.net/keys/k/2", 1); /* same bytes, other kid */
    uint8_t dek[32], got[32];
    memset(dek, 0x42, sizeof(dek));
    ck_assert_int_eq(kvs_dek_cache_get(c, &a, got), 0);
    kvs_dek_cache_put(c, &a, dek);
    ck_assert_int_eq(kvs_dek_cache_get(c, &a, got), 1);
    ck_assert_mem_eq(got, dek, 32);
    ck_assert_int_eq(kvs_dek_cache_get(c, &b, got), 0);
    kvs_recipient a2 = a;
    memcpy(a2.alg, "RSA-OAEP", sizeof("RSA-OAEP"));
    ck_assert_int_eq(kvs_dek_cache_get(c, &a2, got), 0);
    a2 = a;
    a2.wrapped_len = 511;
    ck_assert_int_eq(kvs_dek_cache_get(c, &a2, got), 0);
    /* bounded: the oldest entries give way */
    for (uint8_t i = 2; i < 10; i++) {
        kvs_recipient r = recipient("https://v.vault.azure.net/keys/k/1", i);
        dek[0] = i;
        kvs_dek_cache_put(c, &r, dek);
    }
    ck_assert_uint_eq(kvs_dek_cache_count(c), 4);
    ck_assert_int_eq(kvs_dek_cache_get(c, &a, got), 0);
    kvs_recipient last = recipient("https://v.vault.azure.net/keys/k/1", 9);
    ck_assert_int_eq(kvs_dek_cache_get(c, &last, got), 1);
    ck_assert_uint_eq(got[0], 9);
    kvs_dek_cache_put(c, &last, dek); /* same entry: no growth */
    ck_assert_uint_eq(kvs_dek_cache_count(c), 4);
    kvs_dek_cache_free(c);
    kvs_dek_cache_free(NULL);
}
END_TEST

START_TEST(test_token_json)
{
    kvs_token t;
    kvs_token_init(&t);
    const char *j = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"eyJ.a.b\"}";
    ck_assert_int_eq(kvs_token_from_json(j, strlen(j), "access_token", &t), 0);
    ck_assert_str_eq(t.text.p, "eyJ.a.b");
    ck_assert(t.expires_on - t.issued_at == 3599);
    const char *mi = "{\"access_token\":\"tok\",\"expires_on\":\"1900000000\",\"expires_in\":\"86399\"}";
    ck_assert_int_eq(kvs_token_from_json(mi, strlen(mi), "access_token", &t), 0);
    ck_assert_int_eq(t.expires_on, 1900000000);
    const char *cli = "{\"accessToken\":\"cli-tok\",\"expires_on\":1900000001}";
    ck_assert_int_eq(kvs_token_from_json(cli, strlen(cli), "accessToken", &t), 0);
    ck_assert_str_eq(t.text.p, "cli-tok");
    ck_assert_int_eq(kvs_token_from_json("{}", 2, "access_token", &t), -1);
    ck_assert_int_eq(kvs_token_from_json("{\"access_token\":\"a b\"}", 22, "access_token", &t), -1);
    ck_assert_int_eq(kvs_token_from_json("{\"access_token\":7}", 18, "access_token", &t), -1);
    kvs_token_free(&t);
}
END_TEST

START_TEST(test_json_numbers)
{
    cJSON *j = kvs_json_parse("{\"a\":5,\"b\":\"6\",\"c\":-1,\"d\":1.5,\"e\":\"x\",\"f\":true}", 47);
    int64_t v;
    int b;
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(kvs_json_i64(j, "a", &v), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(kvs_json_i64(j, "b", &v), 0);
    ck_assert_int_eq(v, 6);
    ck_assert_int_eq(kvs_json_i64(j, "c", &v), -1);
    ck_assert_int_eq(kvs_json_i64(j, "d", &v), -1);
    ck_assert_int_eq(kvs_json_i64(j, "e", &v), -1);
    ck_assert_int_eq(kvs_json_i64(j, "zz", &v), -1);
    ck_assert_int_eq(kvs_json_bool(j, "f", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(kvs_json_bool(j, "a", &b), -1);
    kvs_json_free_wiped(j);
    ck_assert_ptr_null(kvs_json_parse("{", 1));
}
END_TEST

START_TEST(test_uuid)
{
    char a[37], b[37];
    kvs_uuid4(a);
    kvs_uuid4(b);
    ck_assert_uint_eq(strlen(a), 36);
    ck_assert_str_ne(a, b);
    ck_assert(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    ck_assert(a[14] == '4');
    ck_assert(strchr("89ab", a[19]) != NULL);
}
END_TEST

START_TEST(test_provider_argument_checks)
{
    kvs_provider *p = NULL;
    kvs_error err;
    kvs_keyvault_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "cli";
    /* bad URLs never reach the network */
    ck_assert_int_eq(kvs_keyvault_provider_new("https://v.vault.azure.net/secrets/x", &cfg, &p, &err),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_keyvault_provider_new("http://v.vault.azure.net/keys/x", &cfg, &p, &err),
                     KVS_ERR_USAGE);
    /* a host that is not allowed is refused before any request */
    ck_assert_int_eq(kvs_keyvault_provider_new("https://evil.example/keys/x", &cfg, &p, &err),
                     KVS_ERR_CONFIG);
    ck_assert(strstr(err.detail, "KVSEAL_ALLOWED_HOSTS") != NULL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, "https://evil.example/keys/x", &p, &err),
                     KVS_ERR_CONFIG);
    cfg.credential = "bogus";
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, NULL, &p, &err), KVS_ERR_CONFIG);
    cfg.credential = "cli";
    cfg.allowed_hosts = "bad host";
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, NULL, &p, &err), KVS_ERR_CONFIG);
    cfg.allowed_hosts = NULL;

    /* the any-provider: matching, refusing non-allowed hosts without a request */
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, NULL, &p, &err), KVS_OK);
    ck_assert_int_eq(kvs_keyvault_is_provider(p), 1);
    kvs_recipient ok = recipient("https://v.vault.azure.net/keys/k/0123", 1);
    kvs_recipient evil = recipient("https://evil.example/keys/k/0123", 1);
    kvs_recipient noversion = recipient("https://v.vault.azure.net/keys/k", 1);
    kvs_recipient rsa15 = ok;
    memcpy(rsa15.alg, "RSA1_5", sizeof("RSA1_5"));
    kvs_recipient local = ok;
    memcpy(local.type, "rsa", sizeof("rsa"));
    ck_assert_int_eq(kvs_provider_matches(p, &ok), 1);
    ck_assert_int_eq(kvs_provider_matches(p, &evil), 1);
    ck_assert_int_eq(kvs_provider_matches(p, &noversion), 0);
    ck_assert_int_eq(kvs_provider_matches(p, &rsa15), 0);
    ck_assert_int_eq(kvs_provider_matches(p, &local), 0);
    uint8_t dek[32];
    ck_assert_int_eq(kvs_provider_unwrap(p, &evil, dek, &err), KVS_ERR_KEY_ACCESS);
    ck_assert(strstr(err.detail, "evil.example") != NULL);
    ck_assert(strstr(err.detail, "no request was sent") != NULL);
    kvs_recipient out;
    ck_assert_int_eq(kvs_provider_wrap(p, dek, &out, &err), KVS_ERR_USAGE);
    kvs_provider_free(p);

    /* restricted to one key, optionally one version */
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, "https://V.vault.azure.net/keys/K", &p, &err), KVS_OK);
    ck_assert_int_eq(kvs_provider_matches(p, &ok), 1);
    kvs_recipient other = recipient("https://v.vault.azure.net/keys/k2/0123", 1);
    ck_assert_int_eq(kvs_provider_matches(p, &other), 0);
    kvs_provider_free(p);
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, "https://v.vault.azure.net/keys/k/9999", &p, &err), KVS_OK);
    ck_assert_int_eq(kvs_provider_matches(p, &ok), 0);
    kvs_provider_free(p);
}
END_TEST

START_TEST(test_stats)
{
    kvs_keyvault_counts s;
    kvs_keyvault_stats_reset();
    kvs_keyvault_stats(&s);
    ck_assert_uint_eq(s.get_key + s.wrap + s.unwrap + s.token + s.http_requests, 0);
    /* kvs_keyvault_stats(NULL) is outside the contract now (KVS_NONNULL):
     * UBSan reports such a call, so it is not made here. */
}
END_TEST

static Suite *misc_suite(void)
{
    Suite *s = suite_create("azure_misc");
    TCase *tc = tcase_create("misc");
    tcase_add_test(tc, test_dek_cache);
    tcase_add_test(tc, test_token_json);
    tcase_add_test(tc, test_json_numbers);
    tcase_add_test(tc, test_uuid);
    tcase_add_test(tc, test_provider_argument_checks);
    tcase_add_test(tc, test_stats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* The provider checks must not depend on the caller's environment. */
    unsetenv("KVSEAL_ALLOWED_HOSTS");
    unsetenv("KVSEAL_CREDENTIAL");
    unsetenv("KVSEAL_CA_FILE");
    return kvs_test_run_suite(misc_suite());
}
