/* The versioned key-provider interface (kvs_provider_new) as a third party
 * uses it, and the checks kvs_provider_* apply to every provider: an
 * unwrapped value that is not exactly 32 bytes is KVS_ERR_AUTH (FORMAT.md
 * section 5) whatever the provider says, malformed wrap output is refused,
 * and rewrap refuses a 65th recipient as a configuration limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvseal/kvseal.h"
#include "testutil.h"

/* A stub provider: "wraps" by copying the DEK, unwraps to unwrap_len bytes.
 * It writes "rsa" recipients, the type the format lets a provider open. */
typedef struct stub {
    char key_id[KVS_MAX_KEY_ID_LEN + 1]; /* "sha256:<64 hex>" */
    size_t unwrap_len; /* bytes its unwrap returns */
    int destroyed;
} stub;

static kvs_status stub_wrap(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                            kvs_error *err)
{
    const stub *s = impl;
    (void)err;
    snprintf(out->type, sizeof out->type, "%s", KVS_RECIPIENT_RSA);
    snprintf(out->alg, sizeof out->alg, "%s", KVS_ALG_OAEP_256);
    snprintf(out->key_id, sizeof out->key_id, "%s", s->key_id);
    memcpy(out->wrapped, dek, KVS_DEK_LEN);
    out->wrapped_len = KVS_DEK_LEN;
    return KVS_OK;
}

static int stub_matches(const void *impl, const kvs_recipient *r)
{
    const stub *s = impl;
    return strcmp(r->type, KVS_RECIPIENT_RSA) == 0 && strcmp(r->key_id, s->key_id) == 0;
}

static kvs_status stub_unwrap(void *impl, const kvs_recipient *r, uint8_t *out, size_t cap,
                              size_t *out_len, kvs_error *err)
{
    const stub *s = impl;
    (void)err;
    ck_assert_uint_eq(cap, KVS_MAX_WRAPPED_LEN);
    memset(out, 0x5a, s->unwrap_len);
    memcpy(out, r->wrapped, r->wrapped_len < s->unwrap_len ? r->wrapped_len : s->unwrap_len);
    *out_len = s->unwrap_len;
    return KVS_OK;
}

static void stub_destroy(void *impl)
{
    ((stub *)impl)->destroyed++;
}

static const kvs_provider_ops stub_ops = {
    .name = "test-stub",
    .wrap = stub_wrap,
    .matches = stub_matches,
    .unwrap = stub_unwrap,
    .destroy = stub_destroy,
};

static kvs_provider *make(stub *s, unsigned id, size_t unwrap_len)
{
    memset(s, 0, sizeof *s);
    snprintf(s->key_id, sizeof s->key_id, "sha256:%064x", id);
    s->unwrap_len = unwrap_len;
    kvs_provider *p = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_provider_new(&stub_ops, sizeof stub_ops, s, &p, &err), KVS_OK);
    return p;
}

START_TEST(test_unwrap_length_is_enforced_for_every_provider)
{
    static const size_t lens[] = {0, 1, 31, 33, 64, KVS_MAX_WRAPPED_LEN};
    uint8_t dek[KVS_DEK_LEN], back[KVS_DEK_LEN];
    memset(dek, 0x11, sizeof dek);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        stub s;
        kvs_provider *p = make(&s, 1, lens[i]);
        kvs_recipient r;
        kvs_error err = {0};
        ck_assert_int_eq(kvs_provider_wrap(p, dek, &r, &err), KVS_OK);
        memset(back, 0xee, sizeof back);
        ck_assert_int_eq(kvs_provider_unwrap(p, &r, back, &err), KVS_ERR_AUTH);
        ck_assert_int_eq(err.status, KVS_ERR_AUTH);
        ck_assert_ptr_nonnull(strstr(err.detail, "not a 32-byte data key"));
        for (size_t j = 0; j < sizeof back; j++) ck_assert_uint_eq(back[j], 0xee); /* untouched */
        kvs_provider_free(p);
        ck_assert_int_eq(s.destroyed, 1);
    }
    stub s;
    kvs_provider *p = make(&s, 1, KVS_DEK_LEN);
    kvs_recipient r;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_provider_wrap(p, dek, &r, &err), KVS_OK);
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, back, &err), KVS_OK);
    ck_assert_mem_eq(back, dek, sizeof dek);
    kvs_provider_free(p);
}
END_TEST

/* A whole decryption through the engine fails as "not authentic" (exit 2),
 * not as a wrong key, and releases no plaintext. */
START_TEST(test_decrypt_with_31_or_33_byte_unwrap_is_auth)
{
    static const char plain[] = "secret payload";
    stub s;
    kvs_provider *p = make(&s, 1, KVS_DEK_LEN);
    size_t cap = kvs_encrypt_mem_bound(sizeof plain, 0), len = 0, out_len = 99;
    uint8_t *file = malloc(cap), out[sizeof plain];
    kvs_error err = {0};
    ck_assert_int_eq(kvs_encrypt_mem(plain, sizeof plain, file, cap, &len, NULL, &p, 1, &err),
                     KVS_OK);
    ck_assert_int_eq(kvs_decrypt_mem(file, len, out, sizeof out, &out_len, NULL, &p, 1, NULL,
                                     &err), KVS_OK);
    ck_assert_mem_eq(out, plain, sizeof plain);
    static const size_t bad[] = {31, 33};
    for (size_t i = 0; i < 2; i++) {
        s.unwrap_len = bad[i];
        out_len = 99;
        ck_assert_int_eq(kvs_decrypt_mem(file, len, out, sizeof out, &out_len, NULL, &p, 1, NULL,
                                         &err), KVS_ERR_AUTH);
        ck_assert_int_eq(kvs_status_category(err.status), KVS_CAT_INPUT);
        ck_assert_uint_eq(out_len, 0);
    }
    kvs_provider_free(p);
    free(file);
}
END_TEST

START_TEST(test_ops_table_versioning)
{
    stub s = {.key_id = "sha256:1", .unwrap_len = KVS_DEK_LEN};
    kvs_provider *p = (kvs_provider *)&s; /* must be reset to NULL on failure */
    kvs_error err = {0};
    /* Older than version 1 (no destroy member): refused. */
    ck_assert_int_eq(kvs_provider_new(&stub_ops, sizeof stub_ops - sizeof(void *), &s, &p, &err),
                     KVS_ERR_USAGE);
    ck_assert_ptr_null(p);
    /* A newer table whose extra members are unset: accepted. */
    struct {
        kvs_provider_ops v1;
        void (*future)(void);
    } newer = {stub_ops, NULL};
    ck_assert_int_eq(kvs_provider_new(&newer.v1, sizeof newer, &s, &p, &err), KVS_OK);
    ck_assert_ptr_eq(kvs_provider_impl(p, &newer.v1), &s);
    ck_assert_ptr_null(kvs_provider_impl(p, &stub_ops)); /* identity is the table's address */
    kvs_provider_free(p);
    /* ... but one that sets a member this library does not know: refused. */
    newer.future = abort;
    ck_assert_int_eq(kvs_provider_new(&newer.v1, sizeof newer, &s, &p, &err), KVS_ERR_USAGE);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(s.destroyed, 1); /* impl stays the caller's on failure */
}
END_TEST

static kvs_status wrap_bad_len(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                               kvs_error *err)
{
    kvs_status st = stub_wrap(impl, dek, out, err);
    out->wrapped_len = KVS_MAX_WRAPPED_LEN + 1;
    return st;
}

START_TEST(test_required_members_and_checked_wrap)
{
    stub s = {.key_id = "sha256:1", .unwrap_len = KVS_DEK_LEN};
    kvs_provider *p = NULL;
    kvs_error err = {0};
    kvs_provider_ops ops = stub_ops;
    ops.matches = NULL;
    ck_assert_int_eq(kvs_provider_new(&ops, sizeof ops, &s, &p, &err), KVS_ERR_USAGE);
    ops = stub_ops;
    ops.name = NULL;
    ck_assert_int_eq(kvs_provider_new(&ops, sizeof ops, &s, &p, &err), KVS_ERR_USAGE);
    ops = stub_ops;
    ops.wrap = NULL;
    ops.unwrap = NULL;
    ck_assert_int_eq(kvs_provider_new(&ops, sizeof ops, &s, &p, &err), KVS_ERR_USAGE);

    /* Unwrap-only: wrap is a usage error; identify falls back to the name. */
    ops = stub_ops;
    ops.wrap = NULL;
    ops.destroy = NULL;
    ck_assert_int_eq(kvs_provider_new(&ops, sizeof ops, &s, &p, &err), KVS_OK);
    uint8_t dek[KVS_DEK_LEN] = {1};
    kvs_recipient r;
    ck_assert_int_eq(kvs_provider_wrap(p, dek, &r, &err), KVS_ERR_USAGE);
    ck_assert_str_eq(kvs_provider_identify(p), "test-stub");
    kvs_provider_free(p);
    ck_assert_int_eq(s.destroyed, 0); /* no destroy member: impl untouched */

    /* A wrap that fills a length past the record is refused, record wiped. */
    ops = stub_ops;
    ops.wrap = wrap_bad_len;
    ck_assert_int_eq(kvs_provider_new(&ops, sizeof ops, &s, &p, &err), KVS_OK);
    ck_assert_int_eq(kvs_provider_wrap(p, dek, &r, &err), KVS_ERR_INTERNAL);
    ck_assert_uint_eq(r.wrapped_len, 0);
    kvs_provider_free(p);
    ck_assert_str_eq(kvs_provider_identify(NULL), "(none)");
    ck_assert_int_eq(kvs_provider_matches(NULL, &r), 0);
}
END_TEST

/* A 65th recipient is a limit of what the caller asked for (exit 1), not a
 * defect of the file (exit 2). */
START_TEST(test_rewrap_65th_recipient_is_a_resource_limit)
{
    char dir[] = "/tmp/kvs-provider-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f.kvs", dir);
    stub s[KVS_MAX_RECIPIENTS + 1];
    kvs_provider *p[KVS_MAX_RECIPIENTS + 1];
    for (int i = 0; i <= KVS_MAX_RECIPIENTS; i++) {
        p[i] = make(&s[i], (unsigned)i, KVS_DEK_LEN);
    }
    kvs_error err = {0};
    uint8_t file[8192];
    size_t len = 0;
    ck_assert_int_eq(kvs_encrypt_mem("x", 1, file, sizeof file, &len, NULL, p, 1, &err), KVS_OK);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(file, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    kvs_status st = kvs_rewrap_path(path, NULL, p, 1, p + 1, KVS_MAX_RECIPIENTS, NULL, &err);
    ck_assert_int_eq(st, KVS_ERR_RESOURCE_LIMIT);
    ck_assert_int_eq(kvs_status_category(st), KVS_CAT_USAGE);
    ck_assert_ptr_nonnull(strstr(err.detail, "65 recipients"));
    /* 64 in all is fine. */
    ck_assert_int_eq(kvs_rewrap_path(path, NULL, p, 1, p + 1, KVS_MAX_RECIPIENTS - 1, NULL, &err),
                     KVS_OK);
    for (int i = 0; i <= KVS_MAX_RECIPIENTS; i++) kvs_provider_free(p[i]);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *provider_suite(void)
{
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unwrap_length_is_enforced_for_every_provider);
    tcase_add_test(tc, test_decrypt_with_31_or_33_byte_unwrap_is_auth);
    tcase_add_test(tc, test_ops_table_versioning);
    tcase_add_test(tc, test_required_members_and_checked_wrap);
    tcase_add_test(tc, test_rewrap_65th_recipient_is_a_resource_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(provider_suite());
}
