/* The REST blob store over a scripted transport and a virtual clock: how
 * each answer maps to a status, retries, request shape (query, headers,
 * credentials), limits, and that no secret reaches a message. */
#include <stdlib.h>
#include <string.h>

#include "azure/transport.h"
#include "blob/rest_store.h"
#include "fake_clock.h"
#include "fake_transport.h"
#include "testutil.h"

#define URL "https://acct1.blob.core.windows.net/con/dir/b.kvs"
#define BASE "https://acct1.blob.core.windows.net/con/dir/b.kvs"
#define KEY "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXktc2VjcmV0LWtleSE="

#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define TOKEN_URL "https://login.microsoftonline.com/" TENANT "/oauth2/v2.0/token"
#define TOKEN_JSON "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"tok-1\"}"

static void setup(void)
{
    /* No Entra ID source unless a test sets one (not even an 'az' on PATH). */
    static const char *const scrub[] = {
        "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
        "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET_FILE",
        "KVSEAL_CA_FILE", "KVSEAL_CREDENTIAL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
        "IMDS_ENDPOINT"};
    for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) unsetenv(scrub[i]);
    setenv("PATH", "/nonexistent", 1);
    unsetenv("AZURE_STORAGE_SAS_TOKEN");
    unsetenv("AZURE_STORAGE_CONNECTION_STRING");
    unsetenv("KVSEAL_ALLOWED_HOSTS");
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

static kvs_blob_store *open_store(void)
{
    kvs_blob_store *s = NULL;
    kvs_error e;
    ck_assert_int_eq(kvs_blob_store_open(URL, NULL, &s, &e), KVS_OK);
    return s;
}

static void assert_clean(const kvs_error *e)
{
    ck_assert_ptr_null(strstr(e->detail, KEY));
    ck_assert_ptr_null(strstr(e->detail, "SECRETSIG"));
}

START_TEST(test_open_refusals)
{
    kvs_blob_store *s = NULL;
    kvs_error e;
    kvs_blob_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(kvs_blob_store_open("https://evil.example/a/b/c", NULL, &s, &e),
                     KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_blob_store_open(URL "?sig=SECRETSIG", NULL, &s, &e), KVS_ERR_USAGE);
    assert_clean(&e);
    cfg.credential = "bogus";
    ck_assert_int_eq(kvs_blob_store_open(URL, &cfg, &s, &e), KVS_ERR_USAGE);
    cfg.credential = "entra";
    ck_assert_int_eq(kvs_blob_store_open(URL, &cfg, &s, &e), KVS_ERR_CONFIG);
    cfg.credential = "sas"; /* none configured */
    ck_assert_int_eq(kvs_blob_store_open(URL, &cfg, &s, &e), KVS_ERR_CONFIG);
    setenv("AZURE_STORAGE_ACCOUNT", "other", 1);
    ck_assert_int_eq(kvs_blob_store_open(URL, NULL, &s, &e), KVS_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.detail, "other"));
    unsetenv("AZURE_STORAGE_ACCOUNT");
    ck_assert_int_eq(kvs_blob_store_open(URL, NULL, &s, &e), KVS_ERR_CONFIG);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(fake_request_count(), 0); /* nothing sent */
}
END_TEST

START_TEST(test_properties)
{
    kvs_blob_store *s = open_store();
    kvs_blob_props p;
    kvs_error e;
    fake_respond("HEAD", BASE, 200, "ETag: \"0x8D1\"\r\nContent-Length: 12345\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK);
    ck_assert_uint_eq(p.size, 12345);
    ck_assert_str_eq(p.etag, "\"0x8D1\"");
    fake_request q = fake_request_at(0);
    ck_assert_str_eq(q.url, BASE); /* Shared Key: nothing in the query */
    ck_assert_int_eq(q.secret, 1);
    ck_assert_int_eq(q.bearer, 0);

    fake_respond("HEAD", BASE, 404, "x-ms-error-code: BlobNotFound\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "no such blob"));
    fake_respond("HEAD", BASE, 404, "x-ms-error-code: ContainerNotFound\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "no such container"));
    fake_respond("HEAD", BASE, 403, "x-ms-error-code: AuthenticationFailed\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(e.detail, "Storage Blob Data Reader"));
    assert_clean(&e);

    /* Throttled twice (the service's delay honoured), then an answer. */
    fake_queue((fake_reply){"HEAD", BASE, 503, KVS_NET_NONE, "x-ms-retry-after-ms: 1500\r\n",
                            NULL, 0, 2});
    fake_respond("HEAD", BASE, 200, "ETag: \"e\"\r\nContent-Length: 1\r\n", NULL);
    int64_t slept = fake_clock_slept_ms();
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK);
    ck_assert_int_ge(fake_clock_slept_ms() - slept, 3000);
    /* A reset connection is retried too. */
    fake_queue((fake_reply){"HEAD", BASE, 0, KVS_NET_DROPPED, NULL, NULL, 0, 1});
    fake_respond("HEAD", BASE, 200, "ETag: \"e\"\r\nContent-Length: 1\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK);
    /* No ETag: refused rather than trusted. */
    fake_respond("HEAD", BASE, 200, "Content-Length: 1\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_IO);
    /* Failing past the retry budget. */
    fake_queue((fake_reply){"HEAD", BASE, 500, KVS_NET_NONE, NULL, NULL, 0, -1});
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_UNAVAILABLE);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

START_TEST(test_read_range)
{
    kvs_blob_store *s = open_store();
    kvs_error e;
    uint8_t buf[5];
    fake_respond("GET", BASE, 206, "Content-Range: bytes 10-14/100\r\nETag: \"e\"\r\n", "hello");
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 5, "\"e\"", &e), KVS_OK);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    fake_respond("GET", BASE, 412, "x-ms-error-code: ConditionNotMet\r\n", "<Error/>");
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 5, "\"e\"", &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "the blob changed"));
    fake_respond("GET", BASE, 416, NULL, NULL);
    ck_assert_int_eq(s->ops->read_range(s, 100, buf, 5, NULL, &e), KVS_ERR_TRUNCATED);
    fake_respond("GET", BASE, 206, "Content-Range: bytes 97-99/100\r\n", "abc");
    ck_assert_int_eq(s->ops->read_range(s, 97, buf, 5, NULL, &e), KVS_ERR_TRUNCATED);
    fake_respond("GET", BASE, 206, "Content-Range: bytes 0-4/100\r\n", "hello");
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 5, NULL, &e), KVS_ERR_TRUNCATED);
    fake_respond("GET", BASE, 206, "Content-Range: bytes 10-14/100\r\n", "hello, world");
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 5, NULL, &e), KVS_ERR_NETWORK);
    fake_respond("GET", BASE, 200, NULL, "hello");
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 5, NULL, &e), KVS_ERR_IO);
    ck_assert_int_eq(s->ops->read_range(s, 10, buf, 0, NULL, &e), KVS_ERR_USAGE);
    ck_assert_int_eq(s->ops->read_range(s, 1, buf, 5, "\"a\r\nX: y\"", &e), KVS_ERR_USAGE);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

START_TEST(test_put_block)
{
    kvs_blob_store *s = open_store();
    kvs_error e;
    static const uint8_t data[16] = "0123456789abcdef";
    fake_respond("PUT", BASE "?comp=block&blockid=QUFBQQ%3D%3D", 201, NULL, NULL);
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", data, sizeof(data), &e), KVS_OK);
    fake_request q = fake_request_at(0);
    ck_assert_int_eq(q.body, 1);
    fake_respond("PUT", BASE "?comp=block", 403, "x-ms-error-code: AuthorizationPermissionMismatch\r\n",
                 NULL);
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", data, sizeof(data), &e), KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(e.detail, "Storage Blob Data Contributor"));
    assert_clean(&e);
    fake_respond("PUT", BASE "?comp=block", 400, "x-ms-error-code: Md5Mismatch\r\n", NULL);
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", data, sizeof(data), &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "Md5Mismatch"));
    ck_assert_int_eq(s->ops->put_block(s, "QU&B", data, sizeof(data), &e), KVS_ERR_USAGE);
    ck_assert_int_eq(s->ops->put_block(s, "", data, sizeof(data), &e), KVS_ERR_USAGE);
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", data, 0, &e), KVS_ERR_USAGE);
    /* The service's block limit, checked before a byte is read or sent. */
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", data, ((size_t)4000 << 20) + 1, &e),
                     KVS_ERR_LIMIT);
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

/* A list of two staged blocks, QUFBQQ== and QUFBQg==. */
static void two_blocks(kvs_blob_block b[2])
{
    memset(b, 0, 2 * sizeof(b[0]));
    strcpy(b[0].id, "QUFBQQ==");
    strcpy(b[1].id, "QUFBQg==");
}

START_TEST(test_put_block_list)
{
    kvs_blob_store *s = open_store();
    kvs_error e;
    kvs_blob_block b[2];
    two_blocks(b);
    b[1].committed = 1;
    kvs_blob_meta m[] = {{"kvseal_version", "1"}};
    kvs_blob_commit c = {b, 2, m, 1, NULL, 1};
    fake_respond("PUT", BASE "?comp=blocklist", 201, NULL, NULL);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_OK);
    fake_respond("PUT", BASE "?comp=blocklist", 409, "x-ms-error-code: BlobAlreadyExists\r\n", NULL);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_EXISTS);
    c.if_none_match_any = 0;
    c.if_match = "\"0x1\"";
    fake_respond("PUT", BASE "?comp=blocklist", 412, "x-ms-error-code: ConditionNotMet\r\n", NULL);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_IO);
    fake_respond("PUT", BASE "?comp=blocklist", 400, "x-ms-error-code: InvalidBlockList\r\n", NULL);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "InvalidBlockList"));
    ck_assert_ptr_nonnull(strstr(e.detail, "another upload of this blob"));
    kvs_blob_meta bad_meta[] = {{"Bad-Name", "1"}};
    kvs_blob_commit bm = {b, 2, bad_meta, 1, NULL, 0};
    ck_assert_int_eq(s->ops->put_block_list(s, &bm, &e), KVS_ERR_USAGE);
    kvs_blob_meta bad_val[] = {{"ok", "a\r\nx-ms-meta-evil: 1"}};
    kvs_blob_commit bv = {b, 2, bad_val, 1, NULL, 0};
    ck_assert_int_eq(s->ops->put_block_list(s, &bv, &e), KVS_ERR_USAGE);
    strcpy(b[1].id, "</Latest>");
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_USAGE);
    /* The service's block count limit (Azurite does not enforce it). */
    size_t many = 50001;
    kvs_blob_block *lots = calloc(many, sizeof(*lots));
    ck_assert_ptr_nonnull(lots);
    for (size_t i = 0; i < many; i++) strcpy(lots[i].id, "QUFBQQ==");
    kvs_blob_commit big = {lots, many, NULL, 0, NULL, 1};
    ck_assert_int_eq(s->ops->put_block_list(s, &big, &e), KVS_ERR_LIMIT);
    big.n_blocks = 0;
    ck_assert_int_eq(s->ops->put_block_list(s, &big, &e), KVS_ERR_LIMIT);
    free(lots);
    ck_assert_uint_eq(fake_request_count(), 4);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

/* A commit whose first try was applied but whose answer was lost: the
 * retry's 409 is checked against the committed list. */
START_TEST(test_commit_retried)
{
    kvs_blob_store *s = open_store();
    kvs_error e;
    kvs_blob_block b[2];
    two_blocks(b);
    kvs_blob_commit c = {b, 2, NULL, 0, NULL, 1};
    static const char *const ours =
        "<BlockList><CommittedBlocks><Block><Name>QUFBQQ==</Name><Size>1</Size></Block>"
        "<Block><Name>QUFBQg==</Name><Size>1</Size></Block></CommittedBlocks></BlockList>";
    static const char *const theirs =
        "<BlockList><CommittedBlocks><Block><Name>WFhYWA==</Name><Size>1</Size></Block>"
        "</CommittedBlocks></BlockList>";
    fake_queue((fake_reply){"PUT", BASE "?comp=blocklist", 0, KVS_NET_DROPPED, NULL, NULL, 0, 1});
    fake_respond("PUT", BASE "?comp=blocklist", 409, "x-ms-error-code: BlobAlreadyExists\r\n", NULL);
    fake_respond("GET", BASE "?comp=blocklist&blocklisttype=committed", 200, "ETag: \"x\"\r\n",
                 ours);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_OK);
    fake_queue((fake_reply){"PUT", BASE "?comp=blocklist", 0, KVS_NET_DROPPED, NULL, NULL, 0, 1});
    fake_respond("PUT", BASE "?comp=blocklist", 409, "x-ms-error-code: BlobAlreadyExists\r\n", NULL);
    fake_respond("GET", BASE "?comp=blocklist&blocklisttype=committed", 200, "ETag: \"x\"\r\n",
                 theirs);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_EXISTS);
    /* Without a retry a 409 is taken as it is: no extra request. */
    fake_respond("PUT", BASE "?comp=blocklist", 409, "x-ms-error-code: BlobAlreadyExists\r\n", NULL);
    ck_assert_int_eq(s->ops->put_block_list(s, &c, &e), KVS_ERR_EXISTS);
    ck_assert_uint_eq(fake_request_count(), 7);
    ck_assert_uint_eq(fake_pending(), 0);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

/* The blob headers the HTTP client captures, through its real parser. */
START_TEST(test_resp_headers)
{
    kvs_http_resp r;
    kvs_http_resp_init(&r);
    ck_assert_int_eq(r.content_length, -1);
    static const char *const lines[] = {
        "HTTP/1.1 206 Partial Content\r\n", "ETag: \"0x8DC\"\r\n",
        "content-length:   42 \r\n", "Content-Range: bytes 0-41/100\r\n",
        "x-ms-error-code: None\r\n"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        kvs_http_resp_header(&r, lines[i], strlen(lines[i]));
    ck_assert_str_eq(r.etag, "\"0x8DC\"");
    ck_assert_int_eq(r.content_length, 42);
    ck_assert_str_eq(r.content_range, "bytes 0-41/100");
    ck_assert_str_eq(r.error_code, "None");
    static const char *const bad_len[] = {"Content-Length: -1\r\n", "Content-Length: 1e3\r\n",
                                          "Content-Length: 1234567890123456789\r\n",
                                          "Content-Length: \r\n"};
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
        kvs_http_resp_header(&r, bad_len[i], strlen(bad_len[i]));
        ck_assert_int_eq(r.content_length, -1);
    }
    /* A new status line (after 100 Continue) forgets what came before. */
    kvs_http_resp_header(&r, "HTTP/1.1 200 OK\r\n", 17);
    ck_assert_str_eq(r.etag, "");
    ck_assert_str_eq(r.error_code, "");
    kvs_http_resp_free(&r);
}
END_TEST

START_TEST(test_committed_blocks)
{
    kvs_blob_store *s = open_store();
    kvs_error e;
    kvs_blob_block *b = NULL;
    size_t n = 0;
    kvs_blob_props p;
    fake_respond("GET", BASE "?comp=blocklist&blocklisttype=committed", 200, "ETag: \"x\"\r\n",
                 "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><CommittedBlocks><Block>"
                 "<Name>QUFBQQ==</Name><Size>10</Size></Block><Block><Name>QUFBQg==</Name>"
                 "<Size>5</Size></Block></CommittedBlocks></BlockList>");
    ck_assert_int_eq(s->ops->committed_blocks(s, &b, &n, &p, &e), KVS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(b[1].id, "QUFBQg==");
    ck_assert_uint_eq(p.size, 15);
    ck_assert_str_eq(p.etag, "\"x\"");
    free(b);
    fake_respond("GET", BASE "?comp=blocklist", 200, "ETag: \"x\"\r\n", "<BlockList><Evil>");
    ck_assert_int_eq(s->ops->committed_blocks(s, &b, &n, &p, &e), KVS_ERR_FORMAT);
    ck_assert_ptr_null(b);
    fake_respond("GET", BASE "?comp=blocklist", 404, "x-ms-error-code: BlobNotFound\r\n", NULL);
    ck_assert_int_eq(s->ops->committed_blocks(s, &b, &n, &p, &e), KVS_ERR_IO);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

START_TEST(test_sas)
{
    setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-12-02&sp=r&sig=SECRETSIG", 1);
    kvs_blob_store *s = open_store(); /* SAS comes before Shared Key */
    kvs_error e;
    kvs_blob_props p;
    uint8_t buf[2] = {1, 2};
    fake_respond("HEAD", BASE "?sv=2021-12-02&sp=r&sig=SECRETSIG", 403,
                 "x-ms-error-code: AuthorizationFailure\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(e.detail, "SAS"));
    assert_clean(&e);
    ck_assert_int_eq(fake_request_at(0).secret, 0);
    fake_respond("PUT", BASE "?comp=block&blockid=QUFBQQ%3D%3D&sv=2021-12-02&sp=r&sig=SECRETSIG",
                 201, NULL, NULL);
    ck_assert_int_eq(s->ops->put_block(s, "QUFBQQ==", buf, sizeof(buf), &e), KVS_OK);
    fake_queue((fake_reply){"GET", BASE, 0, KVS_NET_DNS, NULL, NULL, 0, 1});
    ck_assert_int_eq(s->ops->read_range(s, 0, buf, 2, NULL, &e), KVS_ERR_NETWORK);
    assert_clean(&e);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
    unsetenv("AZURE_STORAGE_SAS_TOKEN");
}
END_TEST

static void use_entra(void)
{
    setenv("AZURE_CLIENT_ID", "app1", 1);
    setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
    setenv("AZURE_TENANT_ID", TENANT, 1);
}

START_TEST(test_entra)
{
    use_entra(); /* first in BLOB.md's order, before the Shared Key set up */
    kvs_blob_store *s = open_store();
    kvs_error e;
    kvs_blob_props p;
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
    fake_respond("HEAD", BASE, 200, "ETag: \"e\"\r\nContent-Length: 3\r\n", NULL);
    fake_respond("HEAD", BASE, 200, "ETag: \"e\"\r\nContent-Length: 3\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK); /* the cached token */
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_int_eq(fake_request_at(1).bearer, 1);
    ck_assert_int_eq(fake_request_at(2).bearer, 1);
    /* A 401: one fresh token, one more try; a 403 names the role. */
    fake_respond("HEAD", BASE, 401, "x-ms-error-code: InvalidAuthenticationInfo\r\n", NULL);
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
    fake_respond("HEAD", BASE, 403, "x-ms-error-code: AuthorizationPermissionMismatch\r\n", NULL);
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_ERR_KEY_ACCESS);
    ck_assert_ptr_nonnull(strstr(e.detail, "Storage Blob Data Reader"));
    ck_assert_ptr_null(strstr(e.detail, "tok-1"));
    ck_assert_uint_eq(fake_pending(), 0);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

START_TEST(test_entra_never_plain_http)
{
    use_entra();
    setenv("KVSEAL_ALLOWED_HOSTS", "127.0.0.1:10000", 1);
    kvs_blob_store *s = NULL;
    kvs_error e;
    kvs_blob_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "entra";
    ck_assert_int_eq(kvs_blob_store_open("http://127.0.0.1:10000/acct1/con/b", &cfg, &s, &e),
                     KVS_ERR_USAGE);
    /* auto skips Entra ID for plain http and takes the Shared Key. */
    ck_assert_int_eq(kvs_blob_store_open("http://127.0.0.1:10000/acct1/con/b", NULL, &s, &e),
                     KVS_OK);
    fake_respond("HEAD", "http://127.0.0.1:10000/acct1/con/b", 200,
                 "ETag: \"e\"\r\nContent-Length: 3\r\n", NULL);
    kvs_blob_props p;
    ck_assert_int_eq(s->ops->properties(s, &p, &e), KVS_OK);
    ck_assert_int_eq(fake_request_at(0).bearer, 0);
    ck_assert_int_eq(fake_request_at(0).secret, 1);
    s->ops->free(s);
    unsetenv("KVSEAL_ALLOWED_HOSTS");
}
END_TEST

/* A token of the configured cloud never goes to another cloud's blob host;
 * Shared Key and SAS, which send no reusable secret, may. */
START_TEST(test_entra_only_to_the_configured_cloud)
{
    use_entra();
    unsetenv("KVSEAL_CLOUD");
    kvs_blob_store *s = NULL;
    kvs_error e;
    kvs_blob_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "entra";
    const char *china = "https://acct1.blob.core.chinacloudapi.cn/con/b";
    ck_assert_int_eq(kvs_blob_store_open(china, &cfg, &s, &e), KVS_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(e.detail, "China cloud"));
    ck_assert_ptr_null(s);
    ck_assert_int_eq(kvs_blob_store_open(china, NULL, &s, &e), KVS_ERR_USAGE); /* auto: Entra */
    ck_assert_uint_eq(fake_request_count(), 0);
    setenv("KVSEAL_CLOUD", "china", 1);
    ck_assert_int_eq(kvs_blob_store_open(china, &cfg, &s, &e), KVS_OK);
    s->ops->free(s);
    ck_assert_int_eq(kvs_blob_store_open(URL, &cfg, &s, &e), KVS_ERR_USAGE); /* public host */
    unsetenv("KVSEAL_CLOUD");
    cfg.credential = "shared-key";
    ck_assert_int_eq(kvs_blob_store_open(china, &cfg, &s, &e), KVS_OK);
    s->ops->free(s);
}
END_TEST

/* ---- faults on Put Block and ranged Get: retried, bounded ------------- */

/* _i of the fault tests: bit 0 the operation (Put Block, ranged Get), bit 1
 * the credential (Shared Key, SAS). */
static kvs_blob_store *fault_store(int i)
{
    if (i & 2) setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=2021-12-02&sp=rw&sig=SECRETSIG", 1);
    kvs_blob_store *s = open_store();
    unsetenv("AZURE_STORAGE_SAS_TOKEN");
    return s;
}

static const char *fault_method(int i)
{
    return (i & 1) ? "GET" : "PUT";
}

static const char *fault_prefix(int i)
{
    return (i & 1) ? BASE : BASE "?comp=block&blockid=QUFBQQ%3D%3D";
}

static void fault_queue(int i, long status, kvs_net_fail fail, const char *headers, int times)
{
    fake_queue((fake_reply){fault_method(i), fault_prefix(i), status, fail, headers, NULL, 0,
                            times});
}

static void fault_ok(int i)
{
    if (i & 1)
        fake_respond("GET", BASE, 206, "Content-Range: bytes 10-14/100\r\nETag: \"e\"\r\n",
                     "hello");
    else
        fake_respond("PUT", fault_prefix(i), 201, NULL, NULL);
}

static kvs_status fault_op(kvs_blob_store *s, int i, kvs_error *e)
{
    static const uint8_t data[16] = "0123456789abcdef";
    uint8_t buf[5] = {0};
    if (!(i & 1)) return s->ops->put_block(s, "QUFBQQ==", data, sizeof(data), e);
    kvs_status st = s->ops->read_range(s, 10, buf, sizeof(buf), "\"e\"", e);
    if (st == KVS_OK) ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    return st;
}

/* The operation's name as the error text gives it. */
static const char *fault_what(int i)
{
    return (i & 1) ? "read of 'https://acct1.blob.core.windows.net/con/dir/b.kvs'"
                   : "Put Block of 'https://acct1.blob.core.windows.net/con/dir/b.kvs'";
}

/* 503 and 429 (with the service's delay), 500 and a dropped connection:
 * each retried, the whole request again, then the answer taken. */
START_TEST(test_block_and_range_faults_retried)
{
    kvs_blob_store *s = fault_store(_i);
    kvs_error e;
    int64_t slept = fake_clock_slept_ms();
    fault_queue(_i, 503, KVS_NET_NONE, "x-ms-retry-after-ms: 1500\r\n", 2);
    fault_queue(_i, 500, KVS_NET_NONE, NULL, 1);
    fault_queue(_i, 429, KVS_NET_NONE, "Retry-After: 2\r\n", 1);
    fault_queue(_i, 0, KVS_NET_DROPPED, NULL, 1);
    fault_ok(_i);
    ck_assert_msg(fault_op(s, _i, &e) == KVS_OK, "%s", e.detail);
    ck_assert_uint_eq(fake_request_count(), 6);
    ck_assert_int_ge(fake_clock_slept_ms() - slept, 3000 + 2000);
    for (size_t k = 0; k < 6; k++) {
        fake_request q = fake_request_at(k);
        ck_assert_str_eq(q.method, fault_method(_i));
        ck_assert_int_eq(q.body, !(_i & 1)); /* a Put Block resends its block */
    }
    ck_assert_uint_eq(fake_pending(), 0);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

/* _i / 4 picks the fault that never ends: 503 with x-ms-retry-after-ms, 500,
 * 429 with Retry-After, a dropped connection. The retries stop at the budget
 * (KVSEAL_RETRY_MAX_SECONDS, 60 s; for 429 KVSEAL_THROTTLE_MAX_SECONDS,
 * 900 s) with one line naming the operation and no secret. */
START_TEST(test_block_and_range_faults_bounded)
{
    int i = _i % 4, fault = _i / 4;
    kvs_blob_store *s = fault_store(i);
    kvs_error e;
    int64_t slept = fake_clock_slept_ms(), budget_ms = fault == 2 ? 900000 : 60000;
    if (fault == 0) fault_queue(i, 503, KVS_NET_NONE, "x-ms-retry-after-ms: 1500\r\n", -1);
    if (fault == 1) fault_queue(i, 500, KVS_NET_NONE, NULL, -1);
    if (fault == 2) fault_queue(i, 429, KVS_NET_NONE, "Retry-After: 2\r\n", -1);
    if (fault == 3) fault_queue(i, 0, KVS_NET_DROPPED, NULL, -1);
    kvs_status st = fault_op(s, i, &e);
    size_t n = fake_request_count();
    ck_assert_int_eq(st, fault == 3 ? KVS_ERR_NETWORK : KVS_ERR_UNAVAILABLE);
    ck_assert_uint_ge(n, 2);
    if (fault == 0) ck_assert_uint_le(n, 60000 / 1500 + 1);
    if (fault == 2) ck_assert_uint_le(n, 900000 / 2000 + 1);
    if (fault == 1 || fault == 3) ck_assert_uint_le(n, 60); /* back-off grows */
    ck_assert_int_le(fake_clock_slept_ms() - slept, budget_ms);
    ck_assert_msg(strstr(e.detail, fault_what(i)) != NULL, "%s", e.detail);
    ck_assert_ptr_null(strchr(e.detail, '\n'));
    if (fault == 3) {
        char tries[64];
        snprintf(tries, sizeof(tries), "dropped (after %zu attempts)", n);
        ck_assert_msg(strstr(e.detail, tries) != NULL, "%s", e.detail);
    } else {
        ck_assert_ptr_nonnull(strstr(e.detail, fault == 0 ? "HTTP 503" : fault == 1 ? "HTTP 500"
                                                                                   : "HTTP 429"));
    }
    assert_clean(&e);
    ck_assert_ptr_null(strstr(e.detail, "sig="));
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

/* A block the service found damaged in transit is refused at once. */
START_TEST(test_block_md5_mismatch_not_retried)
{
    kvs_blob_store *s = fault_store(_i * 2);
    kvs_error e;
    fault_queue(0, 400, KVS_NET_NONE, "x-ms-error-code: Md5Mismatch\r\n", 1);
    ck_assert_int_eq(fault_op(s, 0, &e), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.detail, "Md5Mismatch"));
    ck_assert_ptr_nonnull(strstr(e.detail, fault_what(0)));
    assert_clean(&e);
    ck_assert_uint_eq(fake_request_count(), 1);
    ck_assert_uint_eq(fake_pending(), 0);
    ck_assert_uint_eq(fake_mismatches(), 0);
    s->ops->free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blob_rest");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_open_refusals);
    tcase_add_test(tc, test_properties);
    tcase_add_test(tc, test_read_range);
    tcase_add_test(tc, test_put_block);
    tcase_add_test(tc, test_put_block_list);
    tcase_add_test(tc, test_commit_retried);
    tcase_add_loop_test(tc, test_block_and_range_faults_retried, 0, 4);
    tcase_add_loop_test(tc, test_block_and_range_faults_bounded, 0, 16);
    tcase_add_loop_test(tc, test_block_md5_mismatch_not_retried, 0, 2);
    tcase_add_test(tc, test_resp_headers);
    tcase_add_test(tc, test_committed_blocks);
    tcase_add_test(tc, test_sas);
    tcase_add_test(tc, test_entra);
    tcase_add_test(tc, test_entra_never_plain_http);
    tcase_add_test(tc, test_entra_only_to_the_configured_cloud);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
