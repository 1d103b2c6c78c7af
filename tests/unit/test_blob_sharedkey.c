/* Shared Key: kvseal's string to sign and signature against the known
 * answers Microsoft's SDK computed (tests/blob/sk_vectors.json, made by
 * tests/blob/sk_vectors.py); the connection string parser; the block list
 * XML reader on hostile input. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "blob/blob_cred.h"
#include "blob/blocklist_xml.h"
#include "blob/shared_key.h"
#include "core/b64url.h"
#include "testutil.h"

START_TEST(test_sdk_vectors)
{
    char path[4096];
    size_t n = 0;
    uint8_t *text = kvs_test_read_file(kvs_test_src_path("tests/blob/sk_vectors.json", path,
                                                         sizeof(path)), &n);
    cJSON *root = cJSON_ParseWithLength((const char *)text, n);
    ck_assert_ptr_nonnull(root);
    int cases = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, root)
    {
        const char *hdrs[32];
        size_t nh = 0;
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(v, "headers")) hdrs[nh++] = h->valuestring;
        hdrs[nh] = NULL;
        kvs_sbuf sts;
        kvs_sbuf_init(&sts, 0);
        const char *account = cJSON_GetObjectItem(v, "account")->valuestring;
        ck_assert_int_eq(kvs_blob_sk_string_to_sign(
                             account, cJSON_GetObjectItem(v, "method")->valuestring, hdrs,
                             cJSON_GetObjectItem(v, "path")->valuestring,
                             cJSON_GetObjectItem(v, "query")->valuestring, &sts),
                         0);
        ck_assert_str_eq(sts.p, cJSON_GetObjectItem(v, "string_to_sign")->valuestring);
        uint8_t key[64];
        size_t klen = 0;
        const char *kb = cJSON_GetObjectItem(v, "key")->valuestring;
        ck_assert_int_eq(kvs_b64_decode_lenient(kb, strlen(kb), key, sizeof(key), &klen), 0);
        char line[200], want[220];
        ck_assert_int_eq(kvs_blob_sk_header(key, klen, account, &sts, line, sizeof(line), NULL),
                         KVS_OK);
        snprintf(want, sizeof(want), "Authorization: %s",
                 cJSON_GetObjectItem(v, "authorization")->valuestring);
        ck_assert_str_eq(line, want);
        kvs_sbuf_free(&sts);
        cases++;
    }
    ck_assert_int_ge(cases, 6);
    cJSON_Delete(root);
    free(text);
}
END_TEST

START_TEST(test_sts_refuses)
{
    kvs_sbuf sts;
    kvs_sbuf_init(&sts, 0);
    const char *bad_hdr[] = {"no colon here", NULL};
    ck_assert_int_eq(kvs_blob_sk_string_to_sign("acct", "GET", bad_hdr, "/c/b", "", &sts), -1);
    kvs_sbuf_reset(&sts);
    ck_assert_int_eq(kvs_blob_sk_string_to_sign("acct", "GET", NULL, "/c/b", "comp=a&comp=b",
                                                &sts), -1);
    kvs_sbuf_reset(&sts);
    ck_assert_int_eq(kvs_blob_sk_string_to_sign("acct", "GET", NULL, "/c/b", "a=%4", &sts), -1);
    kvs_sbuf_reset(&sts);
    ck_assert_int_eq(kvs_blob_sk_string_to_sign("acct", "GET", NULL, "/c/b", "novalue", &sts),
                     -1);
    kvs_sbuf_free(&sts);
}
END_TEST

START_TEST(test_connection_string)
{
    kvs_blob_cred c;
    kvs_error e;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(kvs_blob_cred_from_connection_string(
                         "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                         "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6"
                         "tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/"
                         "devstoreaccount1;",
                         &c, &e),
                     KVS_OK);
    ck_assert_str_eq(c.account, "devstoreaccount1");
    ck_assert_uint_eq(c.key_len, 64);
    kvs_blob_cred_free(&c);
    static const char *const bad[] = {
        "AccountName=acct",                                  /* no key */
        "AccountKey=AAAA",                                   /* no account */
        "AccountName=acct;AccountKey=!!!!",                  /* bad base64 */
        "AccountName=acct;AccountKey=AAAA;Bogus=1",          /* unknown field */
        "AccountName=acct;AccountKey=AAAA;justtext",         /* not k=v */
        "AccountName=ab;AccountKey=AAAA",                    /* account too short */
        "AccountName=secretsecret;AccountKey=c2VjcmV0c2VjcmV0;Junk", /* no key in message */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(kvs_blob_cred_from_connection_string(bad[i], &c, &e), KVS_ERR_CONFIG);
        ck_assert_ptr_null(strstr(e.detail, "AAAA"));
        ck_assert_ptr_null(strstr(e.detail, "c2VjcmV0"));
        kvs_blob_cred_free(&c);
    }
}
END_TEST

START_TEST(test_blocklist_xml)
{
    kvs_blob_block *b = NULL;
    size_t n = 0;
    kvs_error e;
    const char *ok = "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>"
                     "<CommittedBlocks><Block><Name>QUFB</Name><Size>12</Size></Block>\n"
                     "<Block><Name>QUJD</Name><Size>4194304000</Size></Block></CommittedBlocks>"
                     "<UncommittedBlocks /></BlockList>\n";
    ck_assert_int_eq(kvs_blob_blocklist_parse(ok, strlen(ok), &b, &n, &e), KVS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(b[0].id, "QUFB");
    ck_assert_uint_eq(b[1].size, 4194304000u);
    ck_assert_int_eq(b[1].committed, 1);
    free(b);
    const char *empty = "<BlockList><CommittedBlocks /></BlockList>";
    ck_assert_int_eq(kvs_blob_blocklist_parse(empty, strlen(empty), &b, &n, &e), KVS_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(b);
    static const char *const bad[] = {
        "",
        "<BlockList>",
        "<BlockList><CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QUFB</Name></Block></CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QU&amp;B</Name><Size>1</Size></Block>"
        "</CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name></Name><Size>1</Size></Block>"
        "</CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QUFB</Name><Size>-1</Size></Block>"
        "</CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QUFB</Name><Size>9999999999999</Size>"
        "</Block></CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks/></BlockList>trailing",
        "<BlockList><CommittedBlocks/><UncommittedBlocks><Block><Name>QUFB</Name><Size>1</Size>"
        "</Block></UncommittedBlocks></BlockList>",
        "<?xml version=\"1.0\"<BlockList><CommittedBlocks/></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QUFB</Name><Size>1</Size></Block>",
        /* the shared strict reader: nothing but the block list's own elements */
        "<BlockList><Foo/><CommittedBlocks/></BlockList>",
        "<BlockList><CommittedBlocks/><CommittedBlocks/></BlockList>",
        "<BlockList><UncommittedBlocks/><CommittedBlocks/></BlockList>",
        "<BlockList></BlockList>",
        "<BlockList><CommittedBlocks><Block><Size>1</Size><Name>QUFB</Name></Block>"
        "</CommittedBlocks></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name>QUFB</Name><Name>QUFB</Name><Size>1</Size>"
        "</Block></CommittedBlocks></BlockList>",
        "<!DOCTYPE b [<!ENTITY x \"QUFB\">]><BlockList><CommittedBlocks/></BlockList>",
        "<BlockList><!-- c --><CommittedBlocks/></BlockList>",
        "<BlockList>text<CommittedBlocks/></BlockList>",
        "<BlockList><CommittedBlocks><Block><Name><![CDATA[QUFB]]></Name><Size>1</Size>"
        "</Block></CommittedBlocks></BlockList>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(kvs_blob_blocklist_parse(bad[i], strlen(bad[i]), &b, &n, &e) ==
                          KVS_ERR_FORMAT,
                      "accepted case %zu", i);
        ck_assert_ptr_null(b);
    }
    /* An id longer than any valid one. */
    char big[400];
    snprintf(big, sizeof(big),
             "<BlockList><CommittedBlocks><Block><Name>%0100d</Name><Size>1</Size></Block>"
             "</CommittedBlocks></BlockList>", 0);
    ck_assert_int_eq(kvs_blob_blocklist_parse(big, strlen(big), &b, &n, &e), KVS_ERR_FORMAT);
}
END_TEST

START_TEST(test_blocklist_count_bound)
{
    static const char blk[] = "<Block><Name>QUFB</Name><Size>1</Size></Block>";
    size_t count = KVS_BLOB_MAX_BLOCKS + 1, len = 64 + count * (sizeof(blk) - 1);
    char *x = malloc(len);
    ck_assert_ptr_nonnull(x);
    size_t o = (size_t)sprintf(x, "<BlockList><CommittedBlocks>");
    for (size_t i = 0; i < count; i++, o += sizeof(blk) - 1) memcpy(x + o, blk, sizeof(blk) - 1);
    o += (size_t)sprintf(x + o, "</CommittedBlocks></BlockList>");
    kvs_blob_block *b = NULL;
    size_t n = 0;
    kvs_error e;
    ck_assert_int_eq(kvs_blob_blocklist_parse(x, o, &b, &n, &e), KVS_ERR_FORMAT);
    ck_assert_ptr_null(b);
    free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blob_sharedkey");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sdk_vectors);
    tcase_add_test(tc, test_sts_refuses);
    tcase_add_test(tc, test_connection_string);
    tcase_add_test(tc, test_blocklist_xml);
    tcase_add_test(tc, test_blocklist_count_bound);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
