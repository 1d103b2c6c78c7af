/* The header's `signer` member (FORMAT.md "Signed files"): encode and parse
 * round trips for both kinds of signer, and every hostile variant refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "testutil.h"

#define SALT "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8"
#define KEYID "sha256:7565d62d742a2f55ad6e8d077e2cd7eb028b81ccd4a41c7e36ec91f9492e7ccd"
#define KID "https://v.vault.azure.net/keys/sign-1/0123abcd"
#define RSA_RECIP                                                                          \
    "{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"sha256:"                      \
    "0000000000000000000000000000000000000000000000000000000000000000\",\"wrapped_key\":"  \
    "\"AAAA\"}"

static char *with_signer(const char *signer)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"" SALT
             "\",\"recipients\":[" RSA_RECIP "]%s%s}",
             signer ? ",\"signer\":" : "", signer ? signer : "");
    return buf;
}

static kvs_status parse(const char *json, kvs_header **h, kvs_error *err)
{
    return kvs_header_parse((const uint8_t *)json, strlen(json), h, err);
}

START_TEST(unsigned_header_has_no_signer)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(with_signer(NULL), &h, &err), KVS_OK);
    ck_assert_str_eq(h->signer.type, "");
    kvs_header_free(h);
}
END_TEST

START_TEST(parse_both_kinds)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(
        parse(with_signer("{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}"), &h,
              &err),
        KVS_OK);
    ck_assert_str_eq(h->signer.type, "key");
    ck_assert_str_eq(h->signer.id, KEYID);
    ck_assert_str_eq(h->signer.alg, "ES256");
    kvs_header_free(h);
    /* Unknown members inside signer are ignored, like unknown members elsewhere. */
    ck_assert_int_eq(parse(with_signer("{\"alg\":\"PS512\",\"x-note\":[1,2],\"type\":"
                                       "\"azure-keyvault\",\"kid\":\"" KID "\"}"),
                           &h, &err),
                     KVS_OK);
    ck_assert_str_eq(h->signer.type, "azure-keyvault");
    ck_assert_str_eq(h->signer.id, KID);
    ck_assert_str_eq(h->signer.alg, "PS512");
    kvs_header_free(h);
}
END_TEST

/* A signature covers `created` whole: a signed header whose created the
 * struct would shorten is refused; an unsigned one keeps it shortened. */
START_TEST(signed_long_created_refused)
{
    char json[9000], created[200];
    memset(created, '9', 100);
    created[100] = 0;
    const char *base = with_signer("{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}");
    snprintf(json, sizeof json, "%.*s,\"created\":\"%s\"}", (int)strlen(base) - 1, base, created);
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(json, &h, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "created"));
    base = with_signer(NULL);
    snprintf(json, sizeof json, "%.*s,\"created\":\"%s\"}", (int)strlen(base) - 1, base, created);
    ck_assert_int_eq(parse(json, &h, &err), KVS_OK);
    kvs_header_free(h);
}
END_TEST

static const char *const bad_signers[] = {
    "null",
    "\"key\"",
    "[]",
    "{}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\"}",                         /* no alg */
    "{\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}",                        /* no type */
    "{\"type\":\"key\",\"alg\":\"ES256\"}",                                /* no key_id */
    "{\"type\":\"key\",\"kid\":\"" KID "\",\"alg\":\"ES256\"}",            /* kid for key */
    "{\"type\":\"azure-keyvault\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}",
    "{\"type\":\"rsa\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}",       /* unknown type */
    "{\"type\":\"Key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}",
    "{\"type\":1,\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"es256\"}",       /* case */
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"RS256\"}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES512\"}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"none\"}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"\"}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":256}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":null}",
    "{\"type\":\"key\",\"key_id\":\"" KEYID "0\",\"alg\":\"ES256\"}",      /* 65 hex */
    "{\"type\":\"key\",\"key_id\":\"sha256:A9853C5F38B1F987E99FBD04B795952427F4327FAED29B40"
    "5FA4F904C2EFC043\",\"alg\":\"ES256\"}",                               /* upper case */
    "{\"type\":\"key\",\"key_id\":\"sha1:a9853c5f38b1f987e99fbd04b795952427f4327faed29b405f"
    "a4f904c2efc043aa\",\"alg\":\"ES256\"}",
    "{\"type\":\"key\",\"key_id\":\"\",\"alg\":\"ES256\"}",
    "{\"type\":\"key\",\"key_id\":7,\"alg\":\"ES256\"}",
    /* versionless, plain http, query, another host form: the recipients' kid grammar */
    "{\"type\":\"azure-keyvault\",\"kid\":\"https://v.vault.azure.net/keys/sign-1\","
    "\"alg\":\"ES256\"}",
    "{\"type\":\"azure-keyvault\",\"kid\":\"http://v.vault.azure.net/keys/sign-1/0123abcd\","
    "\"alg\":\"ES256\"}",
    "{\"type\":\"azure-keyvault\",\"kid\":\"" KID "?x=1\",\"alg\":\"ES256\"}",
    "{\"type\":\"azure-keyvault\",\"kid\":\"https://v.vault.azure.net/secrets/sign-1/0123abcd\","
    "\"alg\":\"ES256\"}",
    "{\"type\":\"azure-keyvault\",\"kid\":\"\",\"alg\":\"ES256\"}",
    /* duplicate members inside signer */
    "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\",\"alg\":\"ES384\"}",
};

START_TEST(hostile_signer_refused)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(parse(with_signer(bad_signers[_i]), &h, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(strstr(err.detail, "malformed header"));
}
END_TEST

START_TEST(signer_twice_refused)
{
    kvs_header *h = NULL;
    kvs_error err = {0};
    const char *one = "{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES256\"}";
    char twice[1024];
    snprintf(twice, sizeof twice, "%s,\"signer\":%s", one, one);
    ck_assert_int_eq(parse(with_signer(twice), &h, &err), KVS_ERR_FORMAT);
    ck_assert_ptr_null(h);
}
END_TEST

static kvs_header *base_header(void)
{
    kvs_header *h = kvs_header_new();
    h->chunk_size = 65536;
    for (int i = 0; i < 32; i++) h->salt[i] = (uint8_t)i;
    h->recipients = calloc(1, sizeof(kvs_recipient));
    h->n_recipients = 1;
    snprintf(h->recipients[0].type, sizeof h->recipients[0].type, "rsa");
    snprintf(h->recipients[0].alg, sizeof h->recipients[0].alg, "RSA-OAEP-256");
    snprintf(h->recipients[0].key_id, sizeof h->recipients[0].key_id, "%s", KEYID);
    h->recipients[0].wrapped_len = 384;
    return h;
}

static kvs_header *roundtrip(const kvs_header *h, char *json_out, size_t cap)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_header_encode(h, &bytes, &len, &err), KVS_OK);
    snprintf(json_out, cap, "%.*s", (int)(len - 12), (const char *)bytes + 12);
    kvs_header *back = NULL;
    ck_assert_int_eq(kvs_header_parse(bytes + 12, len - 12, &back, &err), KVS_OK);
    free(bytes);
    return back;
}

START_TEST(encode_parse_roundtrip)
{
    char json[4096];
    kvs_header *h = base_header();
    /* Unsigned: no member at all. */
    kvs_header *back = roundtrip(h, json, sizeof json);
    ck_assert_ptr_null(strstr(json, "signer"));
    ck_assert_str_eq(back->signer.type, "");
    kvs_header_free(back);

    snprintf(h->signer.type, sizeof h->signer.type, "%s", KVS_SIGNER_KEY);
    snprintf(h->signer.id, sizeof h->signer.id, "%s", KEYID);
    snprintf(h->signer.alg, sizeof h->signer.alg, "ES384");
    back = roundtrip(h, json, sizeof json);
    ck_assert_ptr_nonnull(
        strstr(json, "\"signer\":{\"type\":\"key\",\"key_id\":\"" KEYID "\",\"alg\":\"ES384\"}"));
    ck_assert_str_eq(back->signer.type, "key");
    ck_assert_str_eq(back->signer.id, KEYID);
    ck_assert_str_eq(back->signer.alg, "ES384");
    kvs_header_free(back);

    snprintf(h->signer.type, sizeof h->signer.type, "%s", KVS_SIGNER_KEYVAULT);
    snprintf(h->signer.id, sizeof h->signer.id, "%s", KID);
    snprintf(h->signer.alg, sizeof h->signer.alg, "PS256");
    back = roundtrip(h, json, sizeof json);
    ck_assert_ptr_nonnull(strstr(json, "\"signer\":{\"type\":\"azure-keyvault\",\"kid\":\"" KID
                                       "\",\"alg\":\"PS256\"}"));
    ck_assert_str_eq(back->signer.type, "azure-keyvault");
    ck_assert_str_eq(back->signer.id, KID);
    ck_assert_str_eq(back->signer.alg, "PS256");
    kvs_header_free(back);
    kvs_header_free(h);
}
END_TEST

static Suite *header_signer_suite(void)
{
    Suite *s = suite_create("header_signer");
    TCase *tc = tcase_create("signer");
    tcase_add_test(tc, unsigned_header_has_no_signer);
    tcase_add_test(tc, parse_both_kinds);
    tcase_add_test(tc, signed_long_created_refused);
    tcase_add_loop_test(tc, hostile_signer_refused, 0,
                        (int)(sizeof bad_signers / sizeof bad_signers[0]));
    tcase_add_test(tc, signer_twice_refused);
    tcase_add_test(tc, encode_parse_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(header_signer_suite());
}
