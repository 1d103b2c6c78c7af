/* AES-256-GCM against every NIST CAVS case shipped in Debian's
 * python3-cryptography-vectors (gcmEncryptExtIV256.rsp, gcmDecrypt256.rsp). */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "testutil.h"

#define GCM_VECTOR_DIR "/usr/lib/python3/dist-packages/cryptography_vectors/ciphers/AES/GCM"
#define FIELD_MAX 512

struct gcm_case {
    int active;
    long count;
    size_t iv_bits, pt_bits, aad_bits, tag_bits; /* from the section header */
    uint8_t key[32], iv[FIELD_MAX], pt[FIELD_MAX], aad[FIELD_MAX], ct[FIELD_MAX], tag[16];
    size_t key_len, iv_len, pt_len, aad_len, ct_len, tag_len;
    int has_pt, has_ct, has_tag, fail;
};

struct gcm_stats {
    size_t count_lines; /* "Count = " lines seen by a separate plain scan */
    size_t fail_lines;  /* "FAIL" lines seen by the same scan */
    size_t run;         /* cases executed */
    size_t passed_auth; /* decrypt cases expected to verify */
    size_t failed_auth; /* decrypt cases expected to fail */
};

static FILE *open_vectors(const char *name)
{
    return kvs_test_open_vectors("KVSEAL_GCM_VECTORS", GCM_VECTOR_DIR, name);
}

/* Independent count of the cases, so the run cannot pass by parsing nothing. */
static void scan_counts(const char *name, struct gcm_stats *st)
{
    FILE *f = open_vectors(name);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) != -1) {
        kvs_test_chomp(line);
        if (strncmp(line, "Count = ", 8) == 0) st->count_lines++;
        if (strcmp(line, "FAIL") == 0) st->fail_lines++;
    }
    free(line);
    fclose(f);
}

static size_t field_hex(const char *hex, uint8_t *out, size_t cap)
{
    long n = kvs_test_unhex(hex, out, cap);
    ck_assert_msg(n >= 0, "bad hex field: %s", hex);
    return (size_t)n;
}

static void check_lengths(const struct gcm_case *c)
{
    ck_assert_msg(c->key_len == 32, "Count %ld: key length %zu", c->count, c->key_len);
    ck_assert_msg(c->iv_len * 8 == c->iv_bits, "Count %ld: IV length", c->count);
    ck_assert_msg(c->aad_len * 8 == c->aad_bits, "Count %ld: AAD length", c->count);
    ck_assert_msg(c->tag_len * 8 == c->tag_bits, "Count %ld: tag length", c->count);
    ck_assert_msg(c->has_ct && c->has_tag, "Count %ld: CT or Tag missing", c->count);
    ck_assert_msg(c->ct_len * 8 == c->pt_bits, "Count %ld: CT length", c->count);
}

static void run_encrypt_case(const struct gcm_case *c)
{
    check_lengths(c);
    ck_assert_msg(c->has_pt && !c->fail, "Count %ld: encrypt case without PT", c->count);
    ck_assert_uint_eq(c->pt_len, c->ct_len);

    kvs_gcm *g = kvs_gcm_new(c->key);
    ck_assert_ptr_nonnull(g);
    uint8_t ct[FIELD_MAX], tag[16], pt[FIELD_MAX];
    ck_assert_int_eq(kvs_gcm_seal(g, c->iv, c->iv_len, c->aad, c->aad_len, c->pt, c->pt_len, ct,
                                  tag, c->tag_len),
                     KVS_OK);
    ck_assert_msg(memcmp(ct, c->ct, c->ct_len) == 0, "Count %ld: CT differs", c->count);
    ck_assert_msg(memcmp(tag, c->tag, c->tag_len) == 0, "Count %ld: tag differs", c->count);
    /* Same context, other direction. */
    ck_assert_int_eq(kvs_gcm_open(g, c->iv, c->iv_len, c->aad, c->aad_len, c->ct, c->ct_len,
                                  c->tag, c->tag_len, pt),
                     KVS_OK);
    ck_assert(memcmp(pt, c->pt, c->pt_len) == 0);
    kvs_gcm_free(g);
}

static void run_decrypt_case(const struct gcm_case *c, struct gcm_stats *st)
{
    check_lengths(c);
    ck_assert_msg(c->has_pt != c->fail, "Count %ld: needs exactly one of PT and FAIL", c->count);

    kvs_gcm *g = kvs_gcm_new(c->key);
    ck_assert_ptr_nonnull(g);
    uint8_t pt[FIELD_MAX], ct[FIELD_MAX], tag[16];
    memset(pt, 0xAA, sizeof(pt));
    kvs_status s = kvs_gcm_open(g, c->iv, c->iv_len, c->aad, c->aad_len, c->ct, c->ct_len,
                                c->tag, c->tag_len, pt);
    if (c->fail) {
        ck_assert_msg(s == KVS_ERR_AUTH, "Count %ld: forged tag accepted (%d)", c->count, s);
        for (size_t i = 0; i < c->ct_len; i++)
            ck_assert_msg(pt[i] == 0, "Count %ld: plaintext not wiped", c->count);
        st->failed_auth++;
    } else {
        ck_assert_msg(s == KVS_OK, "Count %ld: open failed (%d)", c->count, s);
        ck_assert_uint_eq(c->pt_len, c->ct_len);
        ck_assert_msg(memcmp(pt, c->pt, c->pt_len) == 0, "Count %ld: PT differs", c->count);
        /* Re-encrypting with the same context gives the stored CT and tag. */
        ck_assert_int_eq(kvs_gcm_seal(g, c->iv, c->iv_len, c->aad, c->aad_len, pt, c->pt_len,
                                      ct, tag, c->tag_len),
                         KVS_OK);
        ck_assert(memcmp(ct, c->ct, c->ct_len) == 0);
        ck_assert(memcmp(tag, c->tag, c->tag_len) == 0);
        st->passed_auth++;
    }
    kvs_gcm_free(g);
}

static void flush_case(struct gcm_case *c, int decrypt, struct gcm_stats *st)
{
    if (!c->active) return;
    if (decrypt)
        run_decrypt_case(c, st);
    else
        run_encrypt_case(c);
    st->run++;
    c->active = 0;
}

static int section_value(const char *line, const char *name, size_t *out)
{
    size_t n = strlen(name);
    if (strncmp(line + 1, name, n) != 0 || strncmp(line + 1 + n, " = ", 3) != 0) return 0;
    *out = (size_t)strtoul(line + 1 + n + 3, NULL, 10);
    return 1;
}

static void parse_section(const char *line, struct gcm_case *c)
{
    size_t keylen = 0;
    if (section_value(line, "Keylen", &keylen)) ck_assert_uint_eq(keylen, 256);
    section_value(line, "IVlen", &c->iv_bits);
    section_value(line, "PTlen", &c->pt_bits);
    section_value(line, "AADlen", &c->aad_bits);
    section_value(line, "Taglen", &c->tag_bits);
}

static void parse_field(const char *line, struct gcm_case *c)
{
    const char *v;
    if (strncmp(line, "Key = ", 6) == 0) {
        c->key_len = field_hex(line + 6, c->key, sizeof(c->key));
    } else if (strncmp(line, "IV = ", 5) == 0) {
        c->iv_len = field_hex(line + 5, c->iv, sizeof(c->iv));
    } else if (strncmp(line, "AAD =", 5) == 0) {
        v = line + 5 + (line[5] == ' ');
        c->aad_len = field_hex(v, c->aad, sizeof(c->aad));
    } else if (strncmp(line, "PT =", 4) == 0) {
        v = line + 4 + (line[4] == ' ');
        c->pt_len = field_hex(v, c->pt, sizeof(c->pt));
        c->has_pt = 1;
    } else if (strncmp(line, "CT =", 4) == 0) {
        v = line + 4 + (line[4] == ' ');
        c->ct_len = field_hex(v, c->ct, sizeof(c->ct));
        c->has_ct = 1;
    } else if (strncmp(line, "Tag = ", 6) == 0) {
        c->tag_len = field_hex(line + 6, c->tag, sizeof(c->tag));
        c->has_tag = 1;
    } else if (strcmp(line, "FAIL") == 0) {
        c->fail = 1;
    } else {
        ck_abort_msg("unexpected line in Count %ld: %s", c->count, line);
    }
}

static void run_file(const char *name, int decrypt, struct gcm_stats *st)
{
    scan_counts(name, st);
    FILE *f = open_vectors(name);
    struct gcm_case *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) != -1) {
        kvs_test_chomp(line);
        if (line[0] == '\0' || line[0] == '#') continue;
        if (line[0] == '[') {
            flush_case(c, decrypt, st);
            parse_section(line, c);
        } else if (strncmp(line, "Count = ", 8) == 0) {
            flush_case(c, decrypt, st);
            size_t iv_bits = c->iv_bits, pt_bits = c->pt_bits;
            size_t aad_bits = c->aad_bits, tag_bits = c->tag_bits;
            memset(c, 0, sizeof(*c));
            c->iv_bits = iv_bits;
            c->pt_bits = pt_bits;
            c->aad_bits = aad_bits;
            c->tag_bits = tag_bits;
            c->count = strtol(line + 8, NULL, 10);
            c->active = 1;
        } else {
            ck_assert_msg(c->active, "field outside a case: %s", line);
            parse_field(line, c);
        }
    }
    flush_case(c, decrypt, st);
    free(line);
    free(c);
    fclose(f);
}

START_TEST(test_nist_encrypt)
{
    struct gcm_stats st = {0};
    run_file("gcmEncryptExtIV256.rsp", 0, &st);
    fprintf(stderr, "gcmEncryptExtIV256: %zu cases run\n", st.run);
    ck_assert_uint_gt(st.count_lines, 0);
    ck_assert_uint_eq(st.run, st.count_lines);
    ck_assert_uint_eq(st.fail_lines, 0);
}
END_TEST

START_TEST(test_nist_decrypt)
{
    struct gcm_stats st = {0};
    run_file("gcmDecrypt256.rsp", 1, &st);
    fprintf(stderr, "gcmDecrypt256: %zu cases run (%zu verify, %zu must fail)\n", st.run,
            st.passed_auth, st.failed_auth);
    ck_assert_uint_gt(st.count_lines, 0);
    ck_assert_uint_eq(st.run, st.count_lines);
    ck_assert_uint_gt(st.failed_auth, 0);
    ck_assert_uint_gt(st.passed_auth, 0);
    ck_assert_uint_eq(st.failed_auth, st.fail_lines);
    ck_assert_uint_eq(st.passed_auth + st.failed_auth, st.run);
}
END_TEST

/* ---- API behaviour beyond the vectors -------------------------------- */

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* Switching IV lengths on one context gives what a fresh context gives. */
START_TEST(test_iv_length_switching)
{
    static const size_t iv_lens[] = {12, 1, 12, 64, 128, 12, 16, 12};
    uint8_t iv[128], pt[100], ct1[100], ct2[100], tag1[16], tag2[16];
    for (size_t i = 0; i < sizeof(iv); i++) iv[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(pt); i++) pt[i] = (uint8_t)i;

    kvs_gcm *shared = kvs_gcm_new(key_a);
    ck_assert_ptr_nonnull(shared);
    for (size_t i = 0; i < sizeof(iv_lens) / sizeof(iv_lens[0]); i++) {
        kvs_gcm *fresh = kvs_gcm_new(key_a);
        ck_assert_ptr_nonnull(fresh);
        ck_assert_int_eq(kvs_gcm_seal(shared, iv, iv_lens[i], NULL, 0, pt, sizeof(pt), ct1, tag1,
                                      16),
                         KVS_OK);
        ck_assert_int_eq(kvs_gcm_seal(fresh, iv, iv_lens[i], NULL, 0, pt, sizeof(pt), ct2, tag2,
                                      16),
                         KVS_OK);
        ck_assert(memcmp(ct1, ct2, sizeof(ct1)) == 0);
        ck_assert(memcmp(tag1, tag2, 16) == 0);
        kvs_gcm_free(fresh);
    }
    kvs_gcm_free(shared);
}
END_TEST

START_TEST(test_in_place_and_failure_recovery)
{
    uint8_t iv[12] = {0}, buf[64], orig[64], tag[16];
    for (size_t i = 0; i < sizeof(buf); i++) orig[i] = buf[i] = (uint8_t)(0x40 + i);
    kvs_gcm *g = kvs_gcm_new(key_a);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 0, buf, sizeof(buf), buf, tag, 16), KVS_OK);
    ck_assert(memcmp(buf, orig, sizeof(buf)) != 0);

    /* A damaged ciphertext fails and wipes; the context stays usable. */
    uint8_t bad[64];
    memcpy(bad, buf, sizeof(bad));
    bad[10] ^= 1;
    uint8_t out[64];
    ck_assert_int_eq(kvs_gcm_open(g, iv, 12, NULL, 0, bad, sizeof(bad), tag, 16, out),
                     KVS_ERR_AUTH);
    for (size_t i = 0; i < sizeof(out); i++) ck_assert_uint_eq(out[i], 0);
    /* Wrong AAD fails too. */
    ck_assert_int_eq(kvs_gcm_open(g, iv, 12, (const uint8_t *)"x", 1, buf, sizeof(buf), tag, 16,
                                  out),
                     KVS_ERR_AUTH);

    ck_assert_int_eq(kvs_gcm_open(g, iv, 12, NULL, 0, buf, sizeof(buf), tag, 16, buf), KVS_OK);
    ck_assert(memcmp(buf, orig, sizeof(buf)) == 0);
    kvs_gcm_free(g);
}
END_TEST

START_TEST(test_bad_arguments)
{
    uint8_t iv[12] = {0}, pt[16] = {0}, ct[16], tag[16] = {0};
    kvs_gcm *g = kvs_gcm_new(key_a);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(kvs_gcm_seal(NULL, iv, 12, NULL, 0, pt, 16, ct, tag, 16), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 0, NULL, 0, pt, 16, ct, tag, 16), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 129, NULL, 0, pt, 16, ct, tag, 16), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 0, pt, 16, ct, tag, 3), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 0, pt, 16, ct, tag, 17), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 5, pt, 16, ct, tag, 16), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 0, NULL, 16, ct, tag, 16), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_open(g, iv, 12, NULL, 0, ct, 16, tag, 16, NULL), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_gcm_open(g, NULL, 12, NULL, 0, ct, 16, tag, 16, pt), KVS_ERR_USAGE);
    /* Empty messages need no buffers. */
    ck_assert_int_eq(kvs_gcm_seal(g, iv, 12, NULL, 0, NULL, 0, NULL, tag, 16), KVS_OK);
    ck_assert_int_eq(kvs_gcm_open(g, iv, 12, NULL, 0, NULL, 0, tag, 16, NULL), KVS_OK);
    ck_assert_ptr_null(kvs_gcm_new(NULL));
    kvs_gcm_free(g);
    kvs_gcm_free(NULL);
}
END_TEST

static Suite *gcm_suite(void)
{
    Suite *s = suite_create("gcm_nist");
    TCase *tc = tcase_create("nist");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_nist_encrypt);
    tcase_add_test(tc, test_nist_decrypt);
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("api");
    tcase_add_test(api, test_iv_length_switching);
    tcase_add_test(api, test_in_place_and_failure_recovery);
    tcase_add_test(api, test_bad_arguments);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(gcm_suite());
}
