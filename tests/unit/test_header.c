/* Header JSON parsing: the valid shapes and every refusal of FORMAT.md §4-§5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "testutil.h"

#define SALT "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8"
#define KEYID "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define RSA_RECIP "{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"" KEYID "\",\"wrapped_key\":\"AAAA\"}"
#define KV_RECIP "{\"type\":\"azure-keyvault\",\"alg\":\"RSA-OAEP\",\"kid\":\"https://v.vault.azure.net/keys/k-1/0123abcd\",\"wrapped_key\":\"AAAA\"}"

static kvs_status parse(const char *json, kvs_header **h, kvs_error *err)
{
    return kvs_header_parse((const uint8_t *)json, strlen(json), h, err);
}

static char *with(const char *chunk, const char *salt, const char *recipients, const char *extra)
{
    static char buf[200000];
    snprintf(buf, sizeof buf,
             "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":%s,\"salt\":\"%s\","
             "\"recipients\":[%s]%s}",
             chunk, salt, recipients, extra);
    return buf;
}

START_TEST(valid_minimal)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, ""), &h, &err), KVS_OK);
    ck_assert_uint_eq(h->chunk_size, 4096);
    ck_assert_uint_eq(h->n_recipients, 1);
    ck_assert_str_eq(h->recipients[0].key_id, KEYID);
    ck_assert_uint_eq(h->recipients[0].wrapped_len, 3);
    ck_assert_uint_eq(h->salt[0], 0x80);
    ck_assert_uint_eq(h->salt[31], 0x9f);
    ck_assert_str_eq(h->created, "");
    kvs_header_free(h);
}
END_TEST

START_TEST(valid_full)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    const char *json = with("67108864", SALT, RSA_RECIP "," KV_RECIP ",{\"type\":\"future\",\"alg\":\"RSA-OAEP-256\",\"wrapped_key\":\"AA\"}",
                            ",\"context\":{\"host\":\"db1\",\"caf\\u00e9\":\"\xc3\xa9t\xc3\xa9\"},"
                            "\"created\":\"2026-11-28T10:00:00Z\",\"x-future\":[1,{\"a\":2}]");
    ck_assert_int_eq(parse(json, &h, &err), KVS_OK);
    ck_assert_uint_eq(h->chunk_size, 67108864);
    ck_assert_uint_eq(h->n_recipients, 3);
    ck_assert_str_eq(h->recipients[1].type, "azure-keyvault");
    ck_assert_str_eq(h->recipients[1].key_id, "https://v.vault.azure.net/keys/k-1/0123abcd");
    ck_assert_str_eq(h->recipients[2].type, "future");
    ck_assert_str_eq(h->recipients[2].key_id, "");
    ck_assert_uint_eq(h->n_context, 2);
    ck_assert_str_eq(h->context[1].key, "caf\xc3\xa9");
    ck_assert_str_eq(h->created, "2026-11-28T10:00:00Z");
    kvs_header_free(h);
}
END_TEST

START_TEST(escapes_accepted)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP,
                                ",\"created\":\"\\ud83d\\ude00 \\u00e9\\n\\\"\\/\""),
                           &h, &err), KVS_OK);
    ck_assert_str_eq(h->created, "\xf0\x9f\x98\x80 \xc3\xa9\n\"/");
    kvs_header_free(h);
}
END_TEST

START_TEST(long_created_is_shortened)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    char extra[400];
    snprintf(extra, sizeof extra, ",\"created\":\"%0200d\"", 0);
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_OK);
    ck_assert_uint_eq(strlen(h->created), sizeof h->created - 1);
    ck_assert_ptr_nonnull(strstr(h->created, "..."));
    kvs_header_free(h);
}
END_TEST

/* Each entry must be refused with KVS_ERR_FORMAT. */
static const char *bad_headers[] = {
    "", "{}", "[]", "null", "\"str\"", "{", "{\"suite\":}",
    /* suite */
    "{\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-128-GCM\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":1,\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    /* trailing garbage, comments, trailing comma */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]} x",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}{}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],}",
    "/*c*/{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "\xef\xbb\xbf{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "\x0b{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    /* duplicates */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"chunk_size\":8192,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"1\",\"a\":\"2\"}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"su\\u0069te\":\"x\"}",
    /* NUL, \u0000, bad UTF-8, control character in a string */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"x\\u0000y\"}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"\xff\"}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"\xc0\xaf\"}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"\xed\xa0\x80\"}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":\"tab\there\"}}",
    /* escapes: bad hex digit (cJSON reads it as U+0000), lone surrogates, unknown escape */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\u12G4\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\ud800\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\udc00\\ud800\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\ud800\\u0041\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\x41\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":\"\\u00\"}",
    /* chunk_size */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":\"4096\",\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096.0,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4.096e3,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":04096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "]}",
    /* salt */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "=\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp9\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"AAAA\",\"recipients\":[" RSA_RECIP "]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":42,\"recipients\":[" RSA_RECIP "]}",
    /* recipients */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\"}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":{}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[1]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA1_5\",\"key_id\":\"" KEYID "\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"" KEYID "\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"" KEYID "\",\"wrapped_key\":\"\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"" KEYID "\",\"wrapped_key\":\"AA==\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"sha256:ABCD\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"azure-keyvault\",\"alg\":\"RSA-OAEP-256\",\"kid\":\"https://v.vault.azure.net/keys/k\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"azure-keyvault\",\"alg\":\"RSA-OAEP-256\",\"kid\":\"http://v.vault.azure.net/keys/k/1\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"azure-keyvault\",\"alg\":\"RSA-OAEP-256\",\"kid\":\"https://v.vault.azure.net/keys/k/1/extra\",\"wrapped_key\":\"AAAA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[{\"type\":\"azure-keyvault\",\"alg\":\"RSA-OAEP-256\",\"kid\":\"https://v.vault.azure.net/secrets/k/1\",\"wrapped_key\":\"AAAA\"}]}",
    /* context and created */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":[]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"context\":{\"a\":1}}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP "],\"created\":0}",
    /* an unknown recipient type still needs a valid alg and wrapped_key (§5) */
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP ",{\"type\":\"future\",\"wrapped_key\":\"AA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP ",{\"type\":\"future\",\"alg\":\"RSA1_5\",\"wrapped_key\":\"AA\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP ",{\"type\":\"future\",\"alg\":\"RSA-OAEP-256\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP ",{\"type\":\"future\",\"alg\":\"RSA-OAEP-256\",\"wrapped_key\":\"AB\"}]}",
    "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT "\",\"recipients\":[" RSA_RECIP ",{\"type\":7,\"alg\":\"RSA-OAEP-256\",\"wrapped_key\":\"AA\"}]}",
};

START_TEST(refused)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    const char *json = bad_headers[_i];
    kvs_status st = kvs_header_parse((const uint8_t *)json, strlen(json), &h, &err);
    ck_assert_msg(st == KVS_ERR_FORMAT, "case %d accepted or wrong status %d: %s", _i, st, json);
    ck_assert_ptr_null(h);
    ck_assert_msg(strncmp(err.detail, "malformed header", 16) == 0 ||
                      strncmp(err.detail, "unsupported suite", 17) == 0,
                  "case %d message: %s", _i, err.detail);
}
END_TEST

static const char *chunk_sizes_bad[] = {"0", "1", "2048", "4095", "4097", "12288", "134217728",
                                        "-4096", "1e309", "4294967296"};

START_TEST(chunk_size_refused)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(with(chunk_sizes_bad[_i], SALT, RSA_RECIP, ""), &h, &err), KVS_ERR_FORMAT);
}
END_TEST

START_TEST(chunk_size_powers_accepted)
{
    for (unsigned shift = 12; shift <= 26; shift++) {
        char n[16];
        snprintf(n, sizeof n, "%u", 1u << shift);
        kvs_header *h = NULL;
        kvs_error err = {0};
        ck_assert_int_eq(parse(with(n, SALT, RSA_RECIP, ""), &h, &err), KVS_OK);
        ck_assert_uint_eq(h->chunk_size, 1u << shift);
        kvs_header_free(h);
    }
}
END_TEST

static char *recipients_list(int n)
{
    size_t cap = (size_t)n * (sizeof RSA_RECIP + 1) + 1;
    char *s = calloc(1, cap);
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, ",");
        strcat(s, RSA_RECIP);
    }
    return s;
}

START_TEST(recipient_count_limits)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    char *r64 = recipients_list(64), *r65 = recipients_list(65);
    ck_assert_int_eq(parse(with("4096", SALT, r64, ""), &h, &err), KVS_OK);
    ck_assert_uint_eq(h->n_recipients, 64);
    kvs_header_free(h);
    h = NULL;
    ck_assert_int_eq(parse(with("4096", SALT, r65, ""), &h, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.detail, "65 recipients"));
    free(r64);
    free(r65);
}
END_TEST

START_TEST(depth_limit)
{
    char extra[200];
    kvs_header *h = NULL;
    kvs_error err = {0};
    /* depth 8 total (root + 7) is fine; 9 is refused */
    snprintf(extra, sizeof extra, ",\"x\":[[[[[[[]]]]]]]");
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_OK);
    kvs_header_free(h);
    h = NULL;
    snprintf(extra, sizeof extra, ",\"x\":[[[[[[[[]]]]]]]]");
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.detail, "deeper"));
}
END_TEST

START_TEST(deep_nesting_10000)
{
    size_t n = 10000;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = 0;
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(s, &h, &err), KVS_ERR_FORMAT);
    free(s);
}
END_TEST

START_TEST(context_limits)
{
    static char extra[150000];
    kvs_header *h = NULL;
    kvs_error err = {0};
    size_t off = (size_t)snprintf(extra, sizeof extra, ",\"context\":{");
    for (int i = 0; i < 65; i++)
        off += (size_t)snprintf(extra + off, sizeof extra - off, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(extra + off, sizeof extra - off, "}");
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_ERR_FORMAT);
    char big[1100];
    memset(big, 'a', 1025);
    big[1025] = 0;
    snprintf(extra, sizeof extra, ",\"context\":{\"k\":\"%s\"}", big);
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_ERR_FORMAT);
    big[1024] = 0;
    snprintf(extra, sizeof extra, ",\"context\":{\"k\":\"%s\"}", big);
    ck_assert_int_eq(parse(with("4096", SALT, RSA_RECIP, extra), &h, &err), KVS_OK);
    kvs_header_free(h);
}
END_TEST

START_TEST(prefix_rules)
{
    uint8_t p[KVS_PREFIX_LEN];
    uint32_t len = 0;
    kvs_error err = {0};
    static const uint32_t bad[] = {0, 1, 65537, 0xFFFFFFFFu};
    memcpy(p, kvs_magic, KVS_MAGIC_LEN);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p[8] = (uint8_t)(bad[i] >> 24);
        p[9] = (uint8_t)(bad[i] >> 16);
        p[10] = (uint8_t)(bad[i] >> 8);
        p[11] = (uint8_t)bad[i];
        ck_assert_int_eq(kvs_prefix_parse(p, &len, &err), KVS_ERR_FORMAT);
    }
    p[8] = 0; p[9] = 1; p[10] = 0; p[11] = 0; /* 65536 */
    ck_assert_int_eq(kvs_prefix_parse(p, &len, &err), KVS_OK);
    ck_assert_uint_eq(len, 65536);
    p[7] = 0x02; /* a future version */
    ck_assert_int_eq(kvs_prefix_parse(p, &len, &err), KVS_ERR_NOT_KVSEAL);
    ck_assert_str_eq(err.detail, "not a kvseal file");
}
END_TEST

START_TEST(encode_parse_roundtrip)
{
    kvs_header *h = kvs_header_new();
    kvs_error err = {0};
    kvs_context_pair ctx[] = {{"env", "prod"}, {"quote\"key", "line\nbreak"}};
    h->chunk_size = 65536;
    for (int i = 0; i < 32; i++) h->salt[i] = (uint8_t)i;
    h->recipients = calloc(1, sizeof(kvs_recipient));
    h->n_recipients = 1;
    snprintf(h->recipients[0].type, sizeof h->recipients[0].type, "rsa");
    snprintf(h->recipients[0].alg, sizeof h->recipients[0].alg, "RSA-OAEP-256");
    snprintf(h->recipients[0].key_id, sizeof h->recipients[0].key_id, KEYID);
    h->recipients[0].wrapped_len = 512;
    ck_assert_int_eq(kvs_header_set_context(h, ctx, 2, &err), KVS_OK);
    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(kvs_header_encode(h, &bytes, &len, &err), KVS_OK);
    kvs_header *back = NULL;
    ck_assert_int_eq(kvs_header_parse(bytes + 12, len - 12, &back, &err), KVS_OK);
    ck_assert_uint_eq(back->chunk_size, 65536);
    ck_assert_mem_eq(back->salt, h->salt, 32);
    ck_assert_uint_eq(back->recipients[0].wrapped_len, 512);
    ck_assert_str_eq(back->context[1].key, "quote\"key");
    ck_assert_str_eq(back->context[1].value, "line\nbreak");
    free(bytes);
    kvs_header_free(back);
    kvs_header_free(h);
}
END_TEST

START_TEST(geometry)
{
    kvs_header h = {0};
    uint64_t pt = 0, n = 0;
    h.chunk_size = 4096;
    h.header_len = 100;
    uint64_t off = kvs_header_payload_offset(&h);
    ck_assert_uint_eq(off, 144);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 16, &pt, &n), KVS_OK);
    ck_assert_uint_eq(pt, 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 4112, &pt, &n), KVS_OK);
    ck_assert_uint_eq(pt, 4096);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 4112 + 17, &pt, &n), KVS_OK);
    ck_assert_uint_eq(pt, 4097);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 4112 + 16, &pt, &n), KVS_ERR_FORMAT);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 4112 + 5, &pt, &n), KVS_ERR_TRUNCATED);
    ck_assert_int_eq(kvs_header_payload_geometry(&h, off + 15, &pt, &n), KVS_ERR_TRUNCATED);
}
END_TEST

static Suite *header_suite(void)
{
    Suite *s = suite_create("header");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, valid_minimal);
    tcase_add_test(tc, valid_full);
    tcase_add_test(tc, long_created_is_shortened);
    tcase_add_test(tc, escapes_accepted);
    tcase_add_loop_test(tc, refused, 0, (int)(sizeof bad_headers / sizeof bad_headers[0]));
    tcase_add_loop_test(tc, chunk_size_refused, 0, (int)(sizeof chunk_sizes_bad / sizeof chunk_sizes_bad[0]));
    tcase_add_test(tc, chunk_size_powers_accepted);
    tcase_add_test(tc, recipient_count_limits);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, deep_nesting_10000);
    tcase_add_test(tc, context_limits);
    tcase_add_test(tc, prefix_rules);
    tcase_add_test(tc, encode_parse_roundtrip);
    tcase_add_test(tc, geometry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(header_suite());
}
