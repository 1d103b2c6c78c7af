/* The Azure cloud comes from configuration only (issue 15 item 2): a file
 * naming another cloud's vault must not make kvseal send a credential to
 * that cloud's sign-in host. */
#include <stdlib.h>
#include <string.h>

#include "azure/client_impl.h"
#include "core/error.h"
#include "testutil.h"

static void clean_env(void)
{
    unsetenv("KVSEAL_CLOUD");
    unsetenv("AZURE_AUTHORITY_HOST");
}

START_TEST(test_settings_cloud_and_authority)
{
    kvs_keyvault_config cfg;
    kvs_kv_settings s;
    kvs_error err = {0};
    clean_env();
    ck_assert_int_eq(kvs_kv_settings_resolve(NULL, &s, &err), KVS_OK);
    ck_assert_int_eq(s.cloud, KVS_KV_CLOUD_PUBLIC);
    ck_assert_str_eq(s.authority, "https://login.microsoftonline.com");
    memset(&cfg, 0, sizeof(cfg));
    cfg.cloud = "china";
    ck_assert_int_eq(kvs_kv_settings_resolve(&cfg, &s, &err), KVS_OK);
    ck_assert_str_eq(s.authority, "https://login.chinacloudapi.cn");
    setenv("KVSEAL_CLOUD", "usgov", 1);
    ck_assert_int_eq(kvs_kv_settings_resolve(NULL, &s, &err), KVS_OK);
    ck_assert_int_eq(s.cloud, KVS_KV_CLOUD_USGOV);
    ck_assert_str_eq(s.authority, "https://login.microsoftonline.us");
    setenv("AZURE_AUTHORITY_HOST", "login.example.test", 1);
    ck_assert_int_eq(kvs_kv_settings_resolve(NULL, &s, &err), KVS_OK);
    ck_assert_str_eq(s.authority, "https://login.example.test");
    setenv("KVSEAL_CLOUD", "mars", 1);
    ck_assert_int_eq(kvs_kv_settings_resolve(NULL, &s, &err), KVS_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.detail, "KVSEAL_CLOUD"));
    clean_env();
}
END_TEST

static kvs_status check(kvs_kv_client *c, const char *url, kvs_error *err)
{
    kvs_kv_keyref k;
    kvs_kv_hostinfo hi;
    ck_assert_int_eq(kvs_kv_parse_key_url(url, &k), 0);
    return kvs_kv_client_check_host(c, &k, &hi, KVS_ERR_KEY_ACCESS, err);
}

START_TEST(test_other_cloud_hosts_refused)
{
    kvs_keyvault_config cfg;
    kvs_kv_client *pub = NULL, *cn = NULL;
    kvs_error err = {0};
    clean_env();
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "cli";
    ck_assert_int_eq(kvs_kv_client_acquire(&cfg, &pub, &err), KVS_OK);
    cfg.cloud = "china";
    ck_assert_int_eq(kvs_kv_client_acquire(&cfg, &cn, &err), KVS_OK);
    ck_assert_ptr_ne(pub, cn);

    ck_assert_int_eq(check(pub, "https://x.vault.azure.net/keys/k", &err), KVS_OK);
    ck_assert_int_eq(check(pub, "https://x.vault.azure.cn/keys/k", &err), KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(err.detail, "refusing to contact x.vault.azure.cn"));
    ck_assert_ptr_nonnull(strstr(err.detail, "China"));
    ck_assert_ptr_nonnull(strstr(err.detail, "KVSEAL_CLOUD"));
    ck_assert_int_eq(check(pub, "https://h.managedhsm.usgovcloudapi.net/keys/k", &err),
                     KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(err.detail, "Managed HSM"));
    ck_assert_int_eq(check(cn, "https://x.vault.azure.cn/keys/k", &err), KVS_OK);
    ck_assert_int_eq(check(cn, "https://x.vault.azure.net/keys/k", &err), KVS_ERR_KEY_ACCESS);
    kvs_kv_client_release(pub);
    kvs_kv_client_release(cn);
}
END_TEST

/* A recording credential: any token request at all is a failure here. */
static int token_requests;
static char token_authority[512];

static kvs_status rec_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                            kvs_token *tok, kvs_error *err)
{
    (void)c, (void)http, (void)tok;
    token_requests++;
    strncpy(token_authority, r->authority, sizeof(token_authority) - 1);
    return kvs_fail(err, KVS_ERR_KEY_ACCESS, "recorder");
}

static const char *rec_describe(const kvs_cred *c)
{
    (void)c;
    return "recorder";
}

static void rec_free(kvs_cred *c)
{
    free(c);
}

static const kvs_cred_ops rec_ops = {rec_token, rec_describe, rec_free};

/* The reproducer: an unwrap for a kid on x.vault.azure.cn, public cloud
 * configured, no AZURE_AUTHORITY_HOST. Refused before any request; the
 * credential is never asked for a token. */
START_TEST(test_cross_cloud_call_sends_nothing)
{
    kvs_keyvault_config cfg;
    kvs_kv_client *c = NULL;
    kvs_error err = {0};
    kvs_kv_keyref k;
    cJSON *json = NULL;
    clean_env();
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "cli";
    cfg.retry_max_seconds = 1; /* bounds a run without the fix */
    ck_assert_int_eq(kvs_kv_client_acquire(&cfg, &c, &err), KVS_OK);
    kvs_cred *rec = calloc(1, sizeof(*rec));
    rec->ops = &rec_ops;
    kvs_cred_free(c->cred);
    c->cred = rec;
    ck_assert_int_eq(kvs_kv_parse_key_url("https://x.vault.azure.cn/keys/k/0123abcd", &k), 0);
    kvs_status st = kvs_kv_client_call(c, KVS_KV_OP_UNWRAP, &k, "{}", 2, &json, &err);
    ck_assert_int_eq(st, KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(err.detail, "refusing to contact x.vault.azure.cn"));
    ck_assert_ptr_nonnull(strstr(err.detail, "no request was sent"));
    ck_assert_ptr_null(json);
    ck_assert_int_eq(token_requests, 0);
    ck_assert_str_eq(c->set.authority, "https://login.microsoftonline.com");
    kvs_kv_client_release(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("azure_cloud");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_settings_cloud_and_authority);
    tcase_add_test(tc, test_other_cloud_hosts_refused);
    tcase_add_test(tc, test_cross_cloud_call_sends_nothing);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
