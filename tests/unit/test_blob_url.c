/* Blob URL parsing: accepted forms, the wire path, and one refusal per rule. */
#include <string.h>

#include "blob/blob_url.h"
#include "testutil.h"

static kvs_kv_allowlist al;

static void setup(void)
{
    ck_assert_int_eq(kvs_kv_allowlist_parse("127.0.0.1:10000, [::1]:10000, files.example.org,"
                                            "acct.blob.core.windows.net:8443",
                                            &al),
                     0);
}

START_TEST(test_virtual_host)
{
    kvs_blob_url u;
    kvs_error e;
    ck_assert_int_eq(kvs_blob_url_parse("https://MyAcct1.blob.core.windows.net/backups/db/a b%2Bc.kvs",
                                        &al, &u, &e), KVS_OK);
    ck_assert_int_eq(u.https, 1);
    ck_assert_int_eq(u.path_style, 0);
    ck_assert_str_eq(u.host, "myacct1.blob.core.windows.net");
    ck_assert_str_eq(u.account, "myacct1");
    ck_assert_str_eq(u.container, "backups");
    ck_assert_str_eq(u.blob, "db/a b+c.kvs");
    ck_assert_str_eq(u.base, "https://myacct1.blob.core.windows.net/backups/db/a%20b%2Bc.kvs");
    ck_assert_str_eq(u.wire_path, "/backups/db/a%20b%2Bc.kvs");
    ck_assert_int_eq(kvs_blob_url_parse("https://x12.blob.core.usgovcloudapi.net:443/c-1/b", &al,
                                        &u, &e), KVS_OK);
    ck_assert_str_eq(u.base, "https://x12.blob.core.usgovcloudapi.net/c-1/b");
    ck_assert_int_eq(kvs_blob_url_parse("https://x12.blob.core.chinacloudapi.cn/abc/%C3%A9t%C3%A9",
                                        &al, &u, &e), KVS_OK);
    ck_assert_str_eq(u.blob, "\xc3\xa9t\xc3\xa9");
    ck_assert_str_eq(u.wire_path, "/abc/%C3%A9t%C3%A9");
}
END_TEST

START_TEST(test_path_style)
{
    kvs_blob_url u;
    kvs_error e;
    ck_assert_int_eq(kvs_blob_url_parse("http://127.0.0.1:10000/devstoreaccount1/c0n/x/y.kvs",
                                        &al, &u, &e), KVS_OK);
    ck_assert_int_eq(u.https, 0);
    ck_assert_int_eq(u.path_style, 1);
    ck_assert_str_eq(u.account, "devstoreaccount1");
    ck_assert_str_eq(u.container, "c0n");
    ck_assert_str_eq(u.blob, "x/y.kvs");
    ck_assert_str_eq(u.base, "http://127.0.0.1:10000/devstoreaccount1/c0n/x/y.kvs");
    ck_assert_str_eq(u.wire_path, "/devstoreaccount1/c0n/x/y.kvs");
    ck_assert_int_eq(kvs_blob_url_parse("https://[::1]:10000/acc/con/b", &al, &u, &e), KVS_OK);
    ck_assert_str_eq(u.base, "https://[::1]:10000/acc/con/b");
    ck_assert_int_eq(kvs_blob_url_parse("https://files.example.org/acc/con/b", &al, &u, &e),
                     KVS_OK);
    /* An allowed virtual-host name on another port stays virtual-host style. */
    ck_assert_int_eq(kvs_blob_url_parse("https://acct.blob.core.windows.net:8443/con/b", &al, &u,
                                        &e), KVS_OK);
    ck_assert_int_eq(u.path_style, 0);
    ck_assert_str_eq(u.account, "acct");
}
END_TEST

START_TEST(test_rejects)
{
    static const char *const bad[] = {
        "ftp://acct.blob.core.windows.net/con/b",                /* scheme */
        "https://user@acct.blob.core.windows.net/con/b",         /* user info */
        "https://u:p@127.0.0.1:10000/acc/con/b",                 /* user info */
        "https://acct.blob.core.windows.net/con/b?sv=1&sig=abc", /* query */
        "https://acct.blob.core.windows.net/con/b#frag",         /* fragment */
        "https://acct.blob.core.windows.net/con/",               /* empty blob path */
        "https://acct.blob.core.windows.net/con",                /* no blob */
        "https://acct.blob.core.windows.net/",                   /* no container */
        "https://acct.blob.core.windows.net",                    /* no path */
        "https://acct.blob.core.windows.net/con/a/../b",         /* .. segment */
        "https://acct.blob.core.windows.net/con/..",             /* .. segment */
        "https://acct.blob.core.windows.net/con/a/%2E%2E/b",     /* escaped .. */
        "https://acct.blob.core.windows.net/con/./b",            /* . segment */
        "https://acct.blob.core.windows.net/con/a//b",           /* empty segment */
        "https://acct.blob.core.windows.net/con/a/",             /* trailing / */
        "https://acct.blob.core.windows.net/con/a%0Ab",          /* control char */
        "https://acct.blob.core.windows.net/con/a%zzb",          /* bad escape */
        "https://acct.blob.core.windows.net/con/a%4",            /* short escape */
        "https://acct.blob.core.windows.net/co/b",               /* container too short */
        "https://acct.blob.core.windows.net/Con/b",              /* uppercase container */
        "https://acct.blob.core.windows.net/-con/b",             /* leading - */
        "https://acct.blob.core.windows.net/con-/b",             /* trailing - */
        "https://acct.blob.core.windows.net/co--n/b",            /* double - */
        "https://acct.blob.core.windows.net/co_n/b",             /* bad character */
        "https://acct.blob.core.windows.net/"
        "a123456789012345678901234567890123456789012345678901234567890123/b", /* 64 chars */
        "https://a.blob.core.windows.net/con/b",                 /* account too short */
        "https://a-b.blob.core.windows.net/con/b",               /* bad account */
        "https://x.y.blob.core.windows.net/con/b",               /* two labels */
        "https://acct.blob.core.windows.net:8080/con/b",         /* port not allowed */
        "http://acct.blob.core.windows.net/con/b",               /* plain http, not loopback */
        "http://files.example.org/acc/con/b",                    /* plain http, allowed host */
        "https://evil.example.com/acc/con/b",                    /* host not allowed */
        "https://127.0.0.1:10001/acc/con/b",                     /* port not allowed */
        "http://127.0.0.1/acc/con/b",                            /* port 80 not allowed */
        "https://127.0.0.1:10000/ac/con/b",                      /* account too short */
        "https://127.0.0.1:10000/acc",                           /* no container */
        "https://127.0.0.1:10000/acc/con",                       /* no blob */
        "https://acct.blob.core.windows.net/con/b\\c",           /* backslash */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kvs_blob_url u;
        kvs_error e;
        memset(&e, 0, sizeof(e));
        kvs_status st = kvs_blob_url_parse(bad[i], &al, &u, &e);
        ck_assert_msg(st == KVS_ERR_USAGE, "accepted %s", bad[i]);
        ck_assert_ptr_null(strstr(e.detail, "sig=")); /* the query is never shown */
        ck_assert_ptr_null(strstr(e.detail, "#frag"));
        ck_assert_ptr_null(strstr(e.detail, "u:p")); /* nor user info */
        ck_assert_ptr_null(strstr(e.detail, "user@"));
    }
}
END_TEST

START_TEST(test_long_path)
{
    char url[3300], *p;
    kvs_blob_url u;
    kvs_error e;
    strcpy(url, "https://acct.blob.core.windows.net/con/");
    p = url + strlen(url);
    memset(p, 'a', 1024);
    p[1024] = '\0';
    ck_assert_int_eq(kvs_blob_url_parse(url, &al, &u, &e), KVS_OK);
    p[1024] = 'b';
    p[1025] = '\0';
    ck_assert_int_eq(kvs_blob_url_parse(url, &al, &u, &e), KVS_ERR_USAGE);
    /* 1024 bytes that each need escaping still fit the wire form. */
    for (size_t i = 0; i < 1024; i++) memcpy(url + 39 + 3 * i, "%20", 3);
    url[39 + 3 * 1024] = '\0';
    ck_assert_int_eq(kvs_blob_url_parse(url, &al, &u, &e), KVS_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blob_url");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_virtual_host);
    tcase_add_test(tc, test_path_style);
    tcase_add_test(tc, test_rejects);
    tcase_add_test(tc, test_long_path);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
