/* Key URL / kid parsing, host allow-listing and the known clouds. */
#include <stdio.h>
#include <string.h>

#include "azure/kvurl.h"
#include "testutil.h"

START_TEST(test_parse_key_urls)
{
    kvs_kv_keyref k;
    ck_assert_int_eq(kvs_kv_parse_key_url("https://myvault.vault.azure.net/keys/backup-key", &k), 0);
    ck_assert_str_eq(k.host, "myvault.vault.azure.net");
    ck_assert_uint_eq(k.port, 0);
    ck_assert_str_eq(k.name, "backup-key");
    ck_assert_str_eq(k.version, "");

    ck_assert_int_eq(kvs_kv_parse_key_url("HTTPS://MyVault.Vault.Azure.NET:443/keys/K1/"
                                          "0123456789abcdef0123456789abcdef", &k), 0);
    ck_assert_str_eq(k.host, "myvault.vault.azure.net");
    ck_assert_uint_eq(k.port, 0);
    ck_assert_str_eq(k.name, "K1");
    ck_assert_str_eq(k.version, "0123456789abcdef0123456789abcdef");

    ck_assert_int_eq(kvs_kv_parse_key_url("https://localhost:8443/keys/k/", &k), 0);
    ck_assert_uint_eq(k.port, 8443);
    ck_assert_str_eq(k.version, "");
    ck_assert_int_eq(kvs_kv_parse_key_url("https://[::1]:8443/keys/k/v1/", &k), 0);
    ck_assert_str_eq(k.host, "[::1]");
    ck_assert_str_eq(k.version, "v1");

    char buf[512];
    ck_assert_int_eq(kvs_kv_format_key_url(&k, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "https://[::1]:8443/keys/k/v1");
    ck_assert_int_eq(kvs_kv_hostport(&k, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "[::1]:8443");
    ck_assert_int_eq(kvs_kv_format_key_url(&k, buf, 10), -1);
}
END_TEST

START_TEST(test_parse_key_urls_rejects)
{
    static const char *const bad[] = {
        "http://v.vault.azure.net/keys/k",
        "https://v.vault.azure.net/secrets/k",
        "https://v.vault.azure.net/keys/",
        "https://v.vault.azure.net/keys",
        "https://v.vault.azure.net/keys/k_1",
        "https://v.vault.azure.net/keys/k/v/wrapkey",
        "https://v.vault.azure.net/keys/k/v-1",
        "https://v.vault.azure.net/keys/k//",
        "https://v.vault.azure.net/keys/k?api-version=7.4",
        "https://v.vault.azure.net/keys/k#x",
        "https://user@v.vault.azure.net/keys/k",
        "https://v.vault.azure.net:0/keys/k",
        "https://v.vault.azure.net:65536/keys/k",
        "https://v.vault.azure.net:/keys/k",
        "https://v.vault.azure.net:-1/keys/k",
        "https://v.vault.azure.net:0443/keys/k",
        "https://v.vault.azure.net:443:443/keys/k",
        "https://v..vault.azure.net/keys/k",
        "https://-v.vault.azure.net/keys/k",
        "https://v_v.vault.azure.net/keys/k",
        "https:///keys/k",
        "https://[::1/keys/k",
        "https://[zz]/keys/k",
        "https://v.vault.azure.net/keys/k%2f",
        "https://v.vault.azure.net/keys/../k",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kvs_kv_keyref k;
        ck_assert_msg(kvs_kv_parse_key_url(bad[i], &k) == -1, "accepted %s", bad[i]);
    }
    /* name length limit */
    char url[400] = "https://v.vault.azure.net/keys/";
    size_t n = strlen(url);
    memset(url + n, 'a', 128);
    url[n + 128] = '\0';
    kvs_kv_keyref k;
    ck_assert_int_eq(kvs_kv_parse_key_url(url, &k), -1);
    url[n + 127] = '\0';
    ck_assert_int_eq(kvs_kv_parse_key_url(url, &k), 0);
}
END_TEST

/* Parse "https://" host [":" port] "/keys/" name "/" version as a kid, with
 * name and version of the given lengths. Returns kvs_kv_parse_kid's result. */
static int kid_parts(const char *host, const char *port, size_t name_len, size_t version_len,
                     kvs_kv_keyref *k)
{
    char kid[600], name[200], version[100];
    memset(name, 'n', name_len);
    name[name_len] = '\0';
    memset(version, 'V', version_len);
    version[version_len] = '\0';
    snprintf(kid, sizeof kid, "https://%s%s%s/keys/%s/%s", host, port[0] ? ":" : "", port, name,
             version);
    return kvs_kv_parse_kid(kid, k);
}

/* A host of labels of the given lengths ("a" repeated), dots between. */
static const char *labels(char *buf, const size_t *len, size_t n)
{
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = '.';
        memset(p, 'a', len[i]);
        p += len[i];
    }
    *p = '\0';
    return buf;
}

START_TEST(test_parse_kid_boundaries)
{
    static const char v[] = "v.vault.azure.net";
    char host[300];
    kvs_kv_keyref k;
    /* FORMAT.md §5 boundaries, each just inside and just outside. */
    ck_assert_int_eq(kid_parts(v, "65535", 3, 32, &k), 0);
    ck_assert_uint_eq(k.port, 65535);
    ck_assert_int_eq(kid_parts(v, "65536", 3, 32, &k), -1);
    ck_assert_int_eq(kid_parts(v, "1", 3, 32, &k), 0);
    ck_assert_int_eq(kid_parts(v, "0", 3, 32, &k), -1);
    ck_assert_int_eq(kid_parts(v, "08443", 3, 32, &k), -1);
    ck_assert_int_eq(kid_parts(v, "", 127, 32, &k), 0);
    ck_assert_uint_eq(strlen(k.name), 127);
    ck_assert_int_eq(kid_parts(v, "", 128, 32, &k), -1);
    ck_assert_int_eq(kid_parts(v, "", 0, 32, &k), -1);
    ck_assert_int_eq(kid_parts(v, "", 3, 64, &k), 0);
    ck_assert_uint_eq(strlen(k.version), 64);
    ck_assert_int_eq(kid_parts(v, "", 3, 65, &k), -1);
    ck_assert_int_eq(kid_parts(v, "", 3, 0, &k), -1);
    size_t l63[] = {63, 3}, l64[] = {64, 3}, h253[] = {63, 63, 63, 61}, h254[] = {63, 63, 63, 62};
    ck_assert_int_eq(kid_parts(labels(host, l63, 2), "", 3, 32, &k), 0);
    ck_assert_int_eq(kid_parts(labels(host, l64, 2), "", 3, 32, &k), -1);
    ck_assert_uint_eq(strlen(labels(host, h253, 4)), 253);
    ck_assert_int_eq(kid_parts(host, "", 3, 32, &k), 0);
    ck_assert_int_eq(kid_parts(labels(host, h254, 4), "", 3, 32, &k), -1);
    /* The host is compared case-insensitively: parsed in lowercase. */
    ck_assert_int_eq(kvs_kv_parse_kid("https://V.Vault.Azure.NET/keys/K/AbC", &k), 0);
    ck_assert_str_eq(k.host, "v.vault.azure.net");
    ck_assert_str_eq(k.version, "AbC");
}
END_TEST

START_TEST(test_parse_kid_rejects)
{
    /* Each is a key URL a user may type (kvs_kv_parse_key_url takes it) but not
     * a kid, or neither. */
    static const char *const not_kid[] = {
        "HTTPS://v.vault.azure.net/keys/k/v1",      /* the scheme is exact in a kid */
        "https://v.vault.azure.net/keys/k",         /* versionless */
        "https://v.vault.azure.net/keys/k/",        /* versionless, trailing slash */
        "https://v.vault.azure.net/keys/k/v1/",     /* trailing slash */
        "https://[::1]:8443/keys/k/v1",             /* IP literal */
    };
    kvs_kv_keyref k;
    for (size_t i = 0; i < sizeof(not_kid) / sizeof(not_kid[0]); i++) {
        ck_assert_msg(kvs_kv_parse_key_url(not_kid[i], &k) == 0, "URL refused: %s", not_kid[i]);
        ck_assert_msg(kvs_kv_parse_kid(not_kid[i], &k) == -1, "kid accepted: %s", not_kid[i]);
    }
    static const char *const bad[] = {
        "https://v_x.vault.azure.net/keys/k/v1",
        "https://v.vault.azure.net:443:443/keys/k/v1",
        "https://v.vault.azure.net:/keys/k/v1",
        "https://v..vault.azure.net/keys/k/v1",
        "https://.v.vault.azure.net/keys/k/v1",
        "https://v.vault.azure.net./keys/k/v1",
        "https://-v.vault.azure.net/keys/k/v1",
        "https://v-.vault.azure.net/keys/k/v1",
        "https://v.vault.azure.net/keys/k/v-1",
        "https://v.vault.azure.net/keys/k/v_1",
        "https://v.vault.azure.net/keys/k_1/v1",
        "https://v.vault.azure.net/keys/k/v1?x",
        "https://v.vault.azure.net/keys/k/v1#x",
        "https://v.vault.azure.net/keys/k/v%31",
        "https://u@v.vault.azure.net/keys/k/v1",
        "https://v.vault.azure.net/keys/k/v1/wrapkey",
        "https://v.vault.azure.net/Keys/k/v1",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++)
        ck_assert_msg(kvs_kv_parse_kid(bad[i], &k) == -1, "kid accepted: %s", bad[i]);
    ck_assert_int_eq(kvs_kv_parse_kid(NULL, &k), -1);
}
END_TEST

START_TEST(test_known_clouds)
{
    int hsm = -1;
    ck_assert_int_eq(kvs_kv_cloud_of_host("myvault.vault.azure.net", &hsm), KVS_KV_CLOUD_PUBLIC);
    ck_assert_int_eq(hsm, 0);
    ck_assert_int_eq(kvs_kv_cloud_of_host("h1.managedhsm.azure.net", &hsm), KVS_KV_CLOUD_PUBLIC);
    ck_assert_int_eq(hsm, 1);
    ck_assert_int_eq(kvs_kv_cloud_of_host("v.vault.azure.cn", &hsm), KVS_KV_CLOUD_CHINA);
    ck_assert_int_eq(kvs_kv_cloud_of_host("h.managedhsm.azure.cn", &hsm), KVS_KV_CLOUD_CHINA);
    ck_assert_int_eq(hsm, 1);
    ck_assert_int_eq(kvs_kv_cloud_of_host("v.vault.usgovcloudapi.net", &hsm), KVS_KV_CLOUD_USGOV);
    ck_assert_int_eq(kvs_kv_cloud_of_host("h.managedhsm.usgovcloudapi.net", &hsm), KVS_KV_CLOUD_USGOV);
    /* not vault hosts */
    ck_assert_int_eq(kvs_kv_cloud_of_host("vault.azure.net", &hsm), KVS_KV_CLOUD_NONE);
    ck_assert_int_eq(kvs_kv_cloud_of_host("a.b.vault.azure.net", &hsm), KVS_KV_CLOUD_NONE);
    ck_assert_int_eq(kvs_kv_cloud_of_host("evilvault.azure.net", &hsm), KVS_KV_CLOUD_NONE);
    ck_assert_int_eq(kvs_kv_cloud_of_host("v.vault.azure.net.evil.example", &hsm), KVS_KV_CLOUD_NONE);
    ck_assert_int_eq(kvs_kv_cloud_of_host("v.vault.azure.com", &hsm), KVS_KV_CLOUD_NONE);
    ck_assert_int_eq(kvs_kv_cloud_of_host("login.microsoftonline.com", &hsm), KVS_KV_CLOUD_NONE);

    ck_assert_str_eq(kvs_kv_cloud_authority(KVS_KV_CLOUD_PUBLIC), "https://login.microsoftonline.com");
    ck_assert_str_eq(kvs_kv_cloud_authority(KVS_KV_CLOUD_CHINA), "https://login.chinacloudapi.cn");
    ck_assert_str_eq(kvs_kv_cloud_authority(KVS_KV_CLOUD_USGOV), "https://login.microsoftonline.us");
}
END_TEST

START_TEST(test_allowlist)
{
    kvs_kv_allowlist al;
    kvs_kv_hostinfo hi;
    ck_assert_int_eq(kvs_kv_allowlist_parse(" localhost:8443 , Vault.Internal,,[::1]:9000,127.0.0.1", &al), 0);
    ck_assert_uint_eq(al.n, 4);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "localhost", 8443, &hi), 1);
    ck_assert_int_eq(hi.explicit_allow, 1);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "localhost", 8444, &hi), 0);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "localhost", 0, &hi), 0);
    /* A bare host allows its https port only (issue 15.5): 0 and 443 are that. */
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "vault.internal", 1234, &hi), 0);
    ck_assert_int_eq(hi.explicit_allow, 0);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "127.0.0.1", 5, &hi), 0);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "127.0.0.1", 8443, &hi), 0);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "vault.internal", 0, &hi), 1);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "vault.internal", 443, &hi), 1);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "127.0.0.1", 0, &hi), 1);
    ck_assert_uint_eq(al.e[1].port, 443);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "[::1]", 9000, &hi), 1);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "[::1]", 0, &hi), 0);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "evil.example", 0, &hi), 0);
    /* known clouds: default port only, never explicit */
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "v.vault.azure.net", 0, &hi), 1);
    ck_assert_int_eq(hi.explicit_allow, 0);
    ck_assert_int_eq(hi.cloud, KVS_KV_CLOUD_PUBLIC);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "v.vault.azure.net", 443, &hi), 1);
    ck_assert_int_eq(kvs_kv_host_allowed(&al, "v.vault.azure.net", 8443, &hi), 0);
    ck_assert_int_eq(kvs_kv_host_allowed(NULL, "h.managedhsm.azure.net", 0, &hi), 1);
    ck_assert_int_eq(hi.managed_hsm, 1);
    ck_assert_int_eq(kvs_kv_host_allowed(NULL, "localhost", 0, &hi), 0);

    ck_assert_int_eq(kvs_kv_allowlist_parse(NULL, &al), 0);
    ck_assert_uint_eq(al.n, 0);
    ck_assert_int_eq(kvs_kv_allowlist_parse("", &al), 0);
    static const char *const bad[] = {"local host", "host:", "host:0", "host:99999", "host:08443",
                                      "https://host", "host/x", "[::1", "a..b", "user@host"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(kvs_kv_allowlist_parse(bad[i], &al) == -1, "accepted %s", bad[i]);
    char many[128];
    for (int i = 0; i < 40; i++) memcpy(many + 2 * i, "h,", 2);
    many[80] = '\0';
    ck_assert_int_eq(kvs_kv_allowlist_parse(many, &al), -1);
}
END_TEST

START_TEST(test_https_split_and_loopback)
{
    char host[256];
    unsigned port;
    const char *path;
    ck_assert_int_eq(kvs_https_url_split("https://Login.Example:8443/t/oauth2?x#y", host,
                                         sizeof(host), &port, &path), 0);
    ck_assert_str_eq(host, "login.example");
    ck_assert_uint_eq(port, 8443);
    ck_assert_str_eq(path, "/t/oauth2?x#y");
    ck_assert_int_eq(kvs_https_url_split("https://a.example", host, sizeof(host), &port, &path), 0);
    ck_assert_str_eq(path, "");
    ck_assert_int_eq(kvs_https_url_split("http://a.example", host, sizeof(host), &port, &path), -1);
    ck_assert_int_eq(kvs_https_url_split("https://a@b/", host, sizeof(host), &port, &path), -1);

    ck_assert_int_eq(kvs_host_is_loopback("localhost"), 1);
    ck_assert_int_eq(kvs_host_is_loopback("127.0.0.1"), 1);
    ck_assert_int_eq(kvs_host_is_loopback("127.1.2.3"), 1);
    ck_assert_int_eq(kvs_host_is_loopback("[::1]"), 1);
    ck_assert_int_eq(kvs_host_is_loopback("127.0.0.1.evil.example"), 0);
    ck_assert_int_eq(kvs_host_is_loopback("localhost.evil.example"), 0);
    ck_assert_int_eq(kvs_host_is_loopback("169.254.169.254"), 0);
    ck_assert_int_eq(kvs_host_is_loopback("127.0.0.1."), 0);
    ck_assert_int_eq(kvs_host_is_loopback("127..0.1"), 0);
    ck_assert_int_eq(kvs_host_is_link_local("169.254.169.254"), 1);
    ck_assert_int_eq(kvs_host_is_link_local("169.254.129.2"), 1);
    ck_assert_int_eq(kvs_host_is_link_local("169.254.1"), 0);
    ck_assert_int_eq(kvs_host_is_link_local("169.254.1.2.3"), 0);
    ck_assert_int_eq(kvs_host_is_link_local("169.254.1.2.evil.example"), 0);
    ck_assert_int_eq(kvs_host_is_link_local("169.2541.1.2"), 0);
}
END_TEST

static Suite *hosts_suite(void)
{
    Suite *s = suite_create("azure_hosts");
    TCase *tc = tcase_create("hosts");
    tcase_add_test(tc, test_parse_key_urls);
    tcase_add_test(tc, test_parse_key_urls_rejects);
    tcase_add_test(tc, test_parse_kid_boundaries);
    tcase_add_test(tc, test_parse_kid_rejects);
    tcase_add_test(tc, test_known_clouds);
    tcase_add_test(tc, test_allowlist);
    tcase_add_test(tc, test_https_split_and_loopback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(hosts_suite());
}
