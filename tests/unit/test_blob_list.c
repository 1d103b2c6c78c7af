/* Listing blobs under a prefix (issue 13): the prefix URL rules, the strict
 * List Blobs XML reader against hostile answers, and the REST listing over
 * a scripted transport: request shape, paging by NextMarker, and that a
 * looping or lying service cannot make it run forever. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob_url.h"
#include "blob/list_xml.h"
#include "blob/rest_store.h"
#include "fake_clock.h"
#include "fake_transport.h"
#include "testutil.h"

#define CON "https://acct1.blob.core.windows.net/con"
#define KEY "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXktc2VjcmV0LWtleSE="
#define HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" \
             "<EnumerationResults ServiceEndpoint=\"https://acct1.blob.core.windows.net/\" " \
             "ContainerName=\"con\"><Prefix>d/</Prefix><MaxResults>2</MaxResults><Blobs>"
#define BLOB(n, len) "<Blob><Name>" n "</Name><Properties><Last-Modified>Mon, 07 Dec 2026 " \
                     "10:00:00 GMT</Last-Modified><Etag>0x8D1</Etag><Content-Length>" len   \
                     "</Content-Length><BlobType>BlockBlob</BlobType></Properties>"         \
                     "<OrMetadata /></Blob>"
#define TAIL(next) "</Blobs>" next "</EnumerationResults>"

static void setup(void)
{
    static const char *const scrub[] = {
        "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
        "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET_FILE",
        "KVSEAL_CA_FILE", "KVSEAL_CREDENTIAL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
        "IMDS_ENDPOINT", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
        "KVSEAL_ALLOWED_HOSTS"};
    for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) unsetenv(scrub[i]);
    setenv("PATH", "/nonexistent", 1);
    setenv("AZURE_STORAGE_ACCOUNT", "acct1", 1);
    setenv("AZURE_STORAGE_KEY", KEY, 1);
    fake_clock_install(1800000000);
    fake_transport_install();
}

static void teardown(void)
{
    fake_transport_uninstall();
    fake_clock_uninstall();
}

static kvs_status parse(const char *xml, kvs_blob_page *pg, kvs_error *e)
{
    return kvs_blob_list_parse(xml, strlen(xml), pg, e);
}

/* ---- prefix URLs ---------------------------------------------------------- */

START_TEST(test_prefix_urls)
{
    kvs_kv_allowlist none;
    memset(&none, 0, sizeof(none));
    kvs_blob_url u;
    kvs_error e;
    ck_assert_int_eq(kvs_blob_url_parse_prefix(CON "/", &none, &u, &e), KVS_OK);
    ck_assert_str_eq(u.blob, "");
    ck_assert_str_eq(u.base, CON);
    ck_assert_str_eq(u.wire_path, "/con");
    ck_assert_int_eq(kvs_blob_url_parse_prefix(CON "/a%20b/c/", &none, &u, &e), KVS_OK);
    ck_assert_str_eq(u.blob, "a b/c/");
    ck_assert_str_eq(u.base, CON);
    static const char *const bad[] = {
        CON, CON "/dir", CON "/dir//", CON "//", CON "/../", CON "/a/./", CON "/a/?sig=x",
        CON "/a/#f", "https://evil.example/con/", "http://acct1.blob.core.windows.net/con/",
        CON "/%00/", CON "/%zz/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(kvs_blob_url_parse_prefix(bad[i], &none, &u, &e) == KVS_ERR_USAGE, "%s",
                      bad[i]);
        ck_assert_ptr_null(strstr(e.detail, "sig=x"));
    }
    /* A blob URL is not a prefix, and a prefix is not a blob URL. */
    ck_assert_int_eq(kvs_blob_url_parse(CON "/dir/", &none, &u, &e), KVS_ERR_USAGE);
    /* Path-style, for an allowed host; plain http only to loopback. */
    kvs_kv_allowlist local;
    ck_assert_int_eq(kvs_kv_allowlist_parse("127.0.0.1:10000", &local), 0);
    ck_assert_int_eq(kvs_blob_url_parse_prefix("http://127.0.0.1:10000/devstoreaccount1/con/p/",
                                               &local, &u, &e), KVS_OK);
    ck_assert_str_eq(u.base, "http://127.0.0.1:10000/devstoreaccount1/con");
    ck_assert_str_eq(u.wire_path, "/devstoreaccount1/con");
    ck_assert_str_eq(u.blob, "p/");
    ck_assert_int_eq(kvs_blob_url_parse_prefix("http://127.0.0.1:10000/devstoreaccount1/", &local,
                                               &u, &e), KVS_ERR_USAGE);
}
END_TEST

/* ---- the XML reader --------------------------------------------------------- */

START_TEST(test_xml_good)
{
    kvs_blob_page pg;
    kvs_error e;
    ck_assert_int_eq(parse("\xEF\xBB\xBF" HEAD BLOB("d/a.kvs", "123")
                           BLOB("d/x &amp; y&#x263A;&#65;&lt;&gt;&quot;&apos;", "0")
                           TAIL("<NextMarker>2!8!ZC94</NextMarker>") "\n", &pg, &e), KVS_OK);
    ck_assert_uint_eq(pg.n, 2);
    ck_assert_str_eq(pg.blobs[0].name, "d/a.kvs");
    ck_assert_uint_eq(pg.blobs[0].size, 123);
    ck_assert_str_eq(pg.blobs[1].name, "d/x & y\xE2\x98\xBA" "A<>\"'");
    ck_assert_uint_eq(pg.blobs[1].size, 0);
    ck_assert_str_eq(pg.next_marker, "2!8!ZC94");
    kvs_blob_page_free(&pg);
    /* Empty: no blobs, a self-closed NextMarker, Azurite's shapes. */
    ck_assert_int_eq(parse("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>", &pg,
                           &e), KVS_OK);
    ck_assert_uint_eq(pg.n, 0);
    ck_assert_str_eq(pg.next_marker, "");
    kvs_blob_page_free(&pg);
    ck_assert_int_eq(parse("<EnumerationResults ServiceEndpoint='x' ContainerName = \"c\" >"
                           "<Prefix/><Blobs>\n  " BLOB("z", "7") "\n</Blobs>"
                           "<NextMarker></NextMarker></EnumerationResults>", &pg, &e), KVS_OK);
    ck_assert_uint_eq(pg.n, 1);
    kvs_blob_page_free(&pg);
}
END_TEST

static char *repeat(const char *pre, const char *unit, size_t n, const char *post)
{
    size_t len = strlen(pre) + strlen(unit) * n + strlen(post) + 1;
    char *s = malloc(len);
    ck_assert_ptr_nonnull(s);
    size_t at = strlen(pre), ul = strlen(unit);
    memcpy(s, pre, at);
    for (size_t i = 0; i < n; i++, at += ul) memcpy(s + at, unit, ul);
    strcpy(s + at, post);
    return s;
}

START_TEST(test_xml_hostile)
{
    static const char *const bad[] = {
        "",
        "<Other/>",
        "<EnumerationResults>",
        "<EnumerationResults></EnumerationResult>",
        "<EnumerationResults><Blobs>" BLOB("a", "1") "</Blobs></EnumerationResults>junk",
        /* missing or doubled fields */
        "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Properties><Content-Length>1</Content-Length>"
        "</Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name>a</Name><Name>b</Name><Properties>"
        "<Content-Length>1</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name></Name><Properties><Content-Length>1"
        "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a", "-1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a", "99999999999999999999") "</Blobs>"
        "</EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a", "1") "</Blobs><NextMarker>m</NextMarker>"
        "<NextMarker>n</NextMarker></EnumerationResults>",
        /* entity tricks: DTDs, external or unknown entities, bad references */
        "<!DOCTYPE r [<!ENTITY x \"aaaa\">]><EnumerationResults><Blobs/></EnumerationResults>",
        "<EnumerationResults><!DOCTYPE r><Blobs/></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("&x;", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("&amp", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a&#0;", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a&#10;b", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a&#xD800;", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a&#x110000;", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a&#x000000041;", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("a\x01", "1") "</Blobs></EnumerationResults>",
        /* comments, CDATA, processing instructions, mixed content */
        "<EnumerationResults><!-- x --><Blobs/></EnumerationResults>",
        "<EnumerationResults><Blobs>" BLOB("<![CDATA[a]]>", "1") "</Blobs></EnumerationResults>",
        "<EnumerationResults><?pi x?><Blobs/></EnumerationResults>",
        "<EnumerationResults>text<Blobs/></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Name>a<b/></Name><Properties><Content-Length>1"
        "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
        /* malformed tags and attributes */
        "<EnumerationResults a=\"1<\"><Blobs/></EnumerationResults>",
        "<EnumerationResults a=1><Blobs/></EnumerationResults>",
        "<EnumerationResults a=\"1\"b=\"2\"><Blobs/></EnumerationResults>",
        "<EnumerationResults><Blobs></ Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>a > b</Blobs></EnumerationResults>",
        "<?xml version=\"1.0\"><EnumerationResults/>",
    };
    kvs_blob_page pg;
    kvs_error e;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kvs_status st = parse(bad[i], &pg, &e);
        ck_assert_msg(st == KVS_ERR_FORMAT, "accepted #%zu: %s", i, bad[i]);
        if (strstr(bad[i], "<!") || strstr(bad[i], "<?pi"))
            ck_assert_msg(strstr(e.detail, "DOCTYPE") != NULL, "#%zu: %s", i, e.detail);
        ck_assert_ptr_null(pg.blobs);
        ck_assert_uint_eq(pg.n, 0);
    }
    /* Deep nesting stops at the depth limit, not at the stack's end. */
    char *deep = repeat("<EnumerationResults>", "<a>", 100000, "");
    ck_assert_int_eq(parse(deep, &pg, &e), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.detail, "deep"));
    free(deep);
    /* A huge name, a huge text elsewhere, a huge tag name. */
    char *huge = repeat("<EnumerationResults><Blobs><Blob><Name>", "n", 1025,
                        "</Name><Properties><Content-Length>1</Content-Length></Properties>"
                        "</Blob></Blobs></EnumerationResults>");
    ck_assert_int_eq(parse(huge, &pg, &e), KVS_ERR_FORMAT);
    free(huge);
    huge = repeat("<EnumerationResults><Prefix>", "&amp;", 5000, "</Prefix></EnumerationResults>");
    ck_assert_int_eq(parse(huge, &pg, &e), KVS_ERR_FORMAT);
    free(huge);
    huge = repeat("<EnumerationResults><", "T", 100, "/></EnumerationResults>");
    ck_assert_int_eq(parse(huge, &pg, &e), KVS_ERR_FORMAT);
    free(huge);
    /* Exactly 1024 bytes of name is the limit. */
    huge = repeat(HEAD "<Blob><Name>", "n", 1024,
                  "</Name><Properties><Content-Length>1</Content-Length></Properties></Blob>"
                  TAIL(""));
    ck_assert_int_eq(parse(huge, &pg, &e), KVS_OK);
    ck_assert_uint_eq(strlen(pg.blobs[0].name), 1024);
    kvs_blob_page_free(&pg);
    free(huge);
    /* More than a page's 5000 blobs. */
    huge = repeat(HEAD, BLOB("a", "1"), 5001, TAIL(""));
    ck_assert_int_eq(parse(huge, &pg, &e), KVS_ERR_FORMAT);
    free(huge);
    /* Every prefix of a good answer is refused (truncation). */
    const char *good = HEAD BLOB("d/a", "1") TAIL("<NextMarker>m</NextMarker>");
    for (size_t n = 0; n + 1 < strlen(good); n++) {
        ck_assert_msg(kvs_blob_list_parse(good, n, &pg, &e) == KVS_ERR_FORMAT, "cut at %zu", n);
    }
}
END_TEST

/* ---- the REST listing ------------------------------------------------------------ */

typedef struct seen {
    char names[16][64];
    char urls[16][256];
    uint64_t sizes[16];
    size_t n;
    size_t stop_at; /* 0: never */
} seen;

static int collect(void *arg, const kvs_blob_entry *b)
{
    seen *s = arg;
    ck_assert_uint_lt(s->n, 16);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", b->name);
    snprintf(s->urls[s->n], sizeof(s->urls[0]), "%s", b->url);
    s->sizes[s->n] = b->size;
    s->n++;
    return s->stop_at && s->n == s->stop_at;
}

START_TEST(test_list_pages)
{
    seen s;
    memset(&s, 0, sizeof(s));
    kvs_error e;
    const char *q1 = CON "?restype=container&comp=list&maxresults=2&prefix=d%2F";
    fake_respond("GET", q1, 200, NULL,
                 HEAD BLOB("d/a.kvs", "10") BLOB("d/sub/b c.kvs", "20")
                 TAIL("<NextMarker>2!12!bWs-</NextMarker>"));
    fake_respond("GET", CON "?restype=container&comp=list&maxresults=2&prefix=d%2F&marker=2%2112%21bWs-",
                 200, NULL, HEAD BLOB("d/z", "30") TAIL("<NextMarker />"));
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_OK);
    ck_assert_uint_eq(fake_mismatches(), 0);
    ck_assert_uint_eq(fake_request_count(), 2);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_str_eq(s.names[0], "a.kvs");
    ck_assert_str_eq(s.names[1], "sub/b c.kvs");
    ck_assert_str_eq(s.urls[1], CON "/d/sub/b%20c.kvs");
    ck_assert_str_eq(s.names[2], "z");
    ck_assert_uint_eq(s.sizes[2], 30);
    ck_assert_int_eq(fake_request_at(0).secret, 1); /* Shared Key, signed */

    /* The container alone: no prefix parameter; the public function pages by
     * 5000. */
    memset(&s, 0, sizeof(s));
    fake_respond("GET", CON "?restype=container&comp=list&maxresults=5000", 200, NULL,
                 "<EnumerationResults><Blobs>" BLOB("x", "1") "</Blobs><NextMarker/>"
                 "</EnumerationResults>");
    ck_assert_int_eq(kvs_blob_list(CON "/", NULL, collect, &s, &e), KVS_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.urls[0], CON "/x");
    ck_assert_uint_eq(fake_mismatches(), 0);

    /* A callback that stops. */
    memset(&s, 0, sizeof(s));
    s.stop_at = 1;
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("d/a", "1") BLOB("d/b", "1") TAIL(""));
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_STATE);
    ck_assert_uint_eq(s.n, 1);
}
END_TEST

START_TEST(test_list_sas_and_errors)
{
    seen s;
    memset(&s, 0, sizeof(s));
    kvs_error e;
    setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-12-02&sp=rl&sig=SECRETSIG", 1);
    fake_respond("GET", CON "?restype=container&comp=list&maxresults=5000&sv=2021-12-02", 403,
                 "x-ms-error-code: AuthorizationPermissionMismatch\r\n", NULL);
    ck_assert_int_eq(kvs_blob_list(CON "/", NULL, collect, &s, &e), KVS_ERR_KEY_ACCESS);
    ck_assert_uint_eq(fake_mismatches(), 0);
    ck_assert_ptr_null(strstr(e.detail, "SECRETSIG"));
    ck_assert_int_eq(fake_request_at(0).secret, 0);
    unsetenv("AZURE_STORAGE_SAS_TOKEN");
    fake_respond("GET", CON "?", 404, "x-ms-error-code: ContainerNotFound\r\n", NULL);
    ck_assert_int_eq(kvs_blob_list(CON "/", NULL, collect, &s, &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "no such container"));
    fake_respond("GET", CON "?", 200, NULL, "<EnumerationResults><Blobs>");
    ck_assert_int_eq(kvs_blob_list(CON "/", NULL, collect, &s, &e), KVS_ERR_FORMAT);
    /* Refused before anything is sent. */
    size_t sent = fake_request_count();
    ck_assert_int_eq(kvs_blob_list(CON "/d", NULL, collect, &s, &e), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_blob_list(CON "/d/?sig=SECRETSIG", NULL, collect, &s, &e), KVS_ERR_USAGE);
    ck_assert_ptr_null(strstr(e.detail, "SECRETSIG"));
    ck_assert_uint_eq(fake_request_count(), sent);
    ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_list_liars)
{
    seen s;
    kvs_error e;
    /* A NextMarker that loops back to the same page: stopped on the second. */
    memset(&s, 0, sizeof(s));
    fake_queue((fake_reply){"GET", CON "?", 200, KVS_NET_NONE, NULL,
                            HEAD BLOB("d/a", "1") TAIL("<NextMarker>m1</NextMarker>"), 0, -1});
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_uint_le(fake_request_count(), 2);
    fake_transport_install();
    /* Two markers that alternate, repeating pages: names go backwards. */
    memset(&s, 0, sizeof(s));
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("d/a", "1") TAIL("<NextMarker>m1</NextMarker>"));
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("d/b", "1") TAIL("<NextMarker>m2</NextMarker>"));
    fake_queue((fake_reply){"GET", CON "?", 200, KVS_NET_NONE, NULL,
                            HEAD BLOB("d/a", "1") TAIL("<NextMarker>m1</NextMarker>"), 0, -1});
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.detail, "order"));
    ck_assert_uint_eq(s.n, 2);
    fake_transport_install();
    /* Empty pages forever, each with a new marker: bounded. */
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < 200; i++) {
        static char bodies[200][128];
        snprintf(bodies[i], sizeof(bodies[i]),
                 "<EnumerationResults><Blobs/><NextMarker>m%03d</NextMarker></EnumerationResults>",
                 i);
        fake_respond("GET", CON "?", 200, NULL, bodies[i]);
    }
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
    ck_assert_uint_le(fake_request_count(), KVS_BLOB_LIST_EMPTY_PAGES_MAX + 1);
    fake_transport_install();
    /* A name outside the prefix, or the prefix itself. */
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("e/a", "1") TAIL(""));
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("d/", "1") TAIL(""));
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
    /* More blobs than asked for in one page. */
    fake_respond("GET", CON "?", 200, NULL, HEAD BLOB("d/a", "1") BLOB("d/b", "1") BLOB("d/c", "1")
                 TAIL(""));
    ck_assert_int_eq(kvs_blob_rest_list(CON "/d/", NULL, 2, collect, &s, &e), KVS_ERR_FORMAT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blob_list");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_prefix_urls);
    tcase_add_test(tc, test_xml_good);
    tcase_add_test(tc, test_xml_hostile);
    tcase_add_test(tc, test_list_pages);
    tcase_add_test(tc, test_list_sas_and_errors);
    tcase_add_test(tc, test_list_liars);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
