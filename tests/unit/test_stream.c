/* Push/pull streams: round trips under arbitrary splits, and refusal of
 * every kind of damage (FORMAT.md §6, §7) without releasing unverified data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvseal/kvseal.h"
#include "testutil.h"

static kvs_provider *key_a, *key_b;

typedef struct buf {
    uint8_t *data;
    size_t len, cap;
} buf;

static void buf_put(buf *b, const uint8_t *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 1024;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void setup(void)
{
    key_a = kvs_test_key("rsa2048-a");
    key_b = kvs_test_key("rsa2048-b");
}

static void teardown(void)
{
    kvs_provider_free(key_a);
    kvs_provider_free(key_b);
}

/* Deterministic pseudo-random split sizes. */
static size_t next_split(unsigned *state, size_t max)
{
    *state = *state * 1103515245u + 12345u;
    return 1 + (*state >> 8) % max;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 31 + seed) ^ (i >> 8));
}

static buf encrypt_bytes(const uint8_t *pt, size_t n, uint32_t chunk, unsigned seed,
                         kvs_provider **recips, size_t n_recips, const kvs_context_pair *ctx,
                         size_t n_ctx)
{
    kvs_encrypt_options o = {chunk, ctx, n_ctx, 0, 0};
    kvs_encryptor *e = NULL;
    kvs_error err = {0};
    buf out = {0};
    uint8_t tmp[70000];
    ck_assert_int_eq(kvs_encryptor_new(&o, recips, n_recips, &e, &err), KVS_OK);
    size_t off = 0;
    while (off < n) {
        size_t used = 0, want = next_split(&seed, 20000);
        if (want > n - off) want = n - off;
        ck_assert_int_eq(kvs_encryptor_push(e, pt + off, want, &used), KVS_OK);
        off += used;
        size_t got;
        do {
            ck_assert_int_eq(kvs_encryptor_pull(e, tmp, next_split(&seed, sizeof tmp), &got), KVS_OK);
            buf_put(&out, tmp, got);
        } while (got > 0);
    }
    ck_assert_int_eq(kvs_encryptor_finish(e), KVS_OK);
    size_t got;
    do {
        ck_assert_int_eq(kvs_encryptor_pull(e, tmp, next_split(&seed, sizeof tmp), &got), KVS_OK);
        buf_put(&out, tmp, got);
    } while (got > 0);
    ck_assert(kvs_encryptor_done(e));
    kvs_encryptor_free(e);
    return out;
}

/* Decrypt with random splits; returns the status and what was released. */
static kvs_status decrypt_bytes(const uint8_t *ct, size_t n, unsigned seed, kvs_provider **keys,
                                size_t n_keys, const kvs_decrypt_options *opts, buf *out,
                                kvs_error *err_out)
{
    kvs_decryptor *d = NULL;
    uint8_t tmp[70000];
    kvs_status st = kvs_decryptor_new(opts, keys, n_keys, &d, err_out);
    ck_assert_int_eq(st, KVS_OK);
    size_t off = 0, got = 0;
    while (st == KVS_OK && off < n) {
        size_t used = 0, want = next_split(&seed, 9000);
        if (want > n - off) want = n - off;
        st = kvs_decryptor_push(d, ct + off, want, &used);
        off += used;
        while (st == KVS_OK && (st = kvs_decryptor_pull(d, tmp, next_split(&seed, sizeof tmp), &got)) == KVS_OK && got)
            buf_put(out, tmp, got);
    }
    if (st == KVS_OK) st = kvs_decryptor_finish(d);
    while (st == KVS_OK && (st = kvs_decryptor_pull(d, tmp, sizeof tmp, &got)) == KVS_OK && got)
        buf_put(out, tmp, got);
    if (st == KVS_OK) ck_assert(kvs_decryptor_done(d));
    if (st != KVS_OK) {
        *err_out = *kvs_decryptor_error(d);
        /* a failed context stays failed */
        size_t used = 0;
        ck_assert_int_eq(kvs_decryptor_push(d, ct, 1, &used), KVS_ERR_STATE);
        ck_assert_int_eq(kvs_decryptor_pull(d, tmp, sizeof tmp, &got), KVS_ERR_STATE);
        ck_assert_uint_eq(got, 0);
    }
    kvs_decryptor_free(d);
    return st;
}

static const size_t sizes_4k[] = {0, 1, 4095, 4096, 4097, 8192, 3 * 4096 + 5, 1048576 + 3};

START_TEST(roundtrip_4k)
{
    size_t n = sizes_4k[_i];
    uint8_t *pt = malloc(n + 1);
    fill(pt, n, (unsigned)_i);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 4096, (unsigned)_i, r, 1, NULL, 0);
    size_t chunks = n == 0 ? 1 : (n + 4095) / 4096;
    ck_assert_uint_eq(ct.len, kvs_header_payload_offset(&(kvs_header){.header_len = (uint32_t)(ct.data[10] << 8 | ct.data[11])}) + n + 16 * chunks);
    buf pt2 = {0};
    kvs_error err = {0};
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 7, r, 1, NULL, &pt2, &err), KVS_OK);
    ck_assert_uint_eq(pt2.len, n);
    if (n) ck_assert_mem_eq(pt2.data, pt, n);
    free(pt);
    free(ct.data);
    free(pt2.data);
}
END_TEST

START_TEST(roundtrip_default_chunk)
{
    size_t n = 3 * 1048576 + 11;
    uint8_t *pt = malloc(n);
    fill(pt, n, 3);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 0, 1, r, 1, NULL, 0);
    buf pt2 = {0};
    kvs_error err = {0};
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 2, r, 1, NULL, &pt2, &err), KVS_OK);
    ck_assert_uint_eq(pt2.len, n);
    ck_assert_mem_eq(pt2.data, pt, n);
    free(pt);
    free(ct.data);
    free(pt2.data);
}
END_TEST

START_TEST(two_recipients_either_key)
{
    uint8_t pt[10000];
    fill(pt, sizeof pt, 9);
    kvs_provider *r[] = {key_a, key_b};
    buf ct = encrypt_bytes(pt, sizeof pt, 4096, 1, r, 2, NULL, 0);
    for (int k = 0; k < 2; k++) {
        buf out = {0};
        kvs_error err = {0};
        ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 5, &r[k], 1, NULL, &out, &err), KVS_OK);
        ck_assert_uint_eq(out.len, sizeof pt);
        ck_assert_mem_eq(out.data, pt, sizeof pt);
        free(out.data);
    }
    free(ct.data);
}
END_TEST

START_TEST(wrong_key_refused)
{
    uint8_t pt[100] = {1};
    kvs_provider *r[] = {key_a}, *k[] = {key_b};
    buf ct = encrypt_bytes(pt, sizeof pt, 4096, 1, r, 1, NULL, 0);
    buf out = {0};
    kvs_error err = {0};
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 5, k, 1, NULL, &out, &err), KVS_ERR_NO_RECIPIENT);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(kvs_status_category(err.status), KVS_CAT_KEY);
    free(ct.data);
}
END_TEST

START_TEST(context_required)
{
    uint8_t pt[100] = {1};
    kvs_provider *r[] = {key_a};
    kvs_context_pair ctx[] = {{"host", "db1"}, {"env", "prod"}};
    buf ct = encrypt_bytes(pt, sizeof pt, 4096, 1, r, 1, ctx, 2);
    kvs_context_pair ok[] = {{"env", "prod"}}, bad[] = {{"env", "dev"}}, missing[] = {{"team", "x"}};
    kvs_decrypt_options o_ok = {ok, 1, 0}, o_bad = {bad, 1, 0}, o_missing = {missing, 1, 0};
    buf out = {0};
    kvs_error err = {0};
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 5, r, 1, &o_ok, &out, &err), KVS_OK);
    ck_assert_uint_eq(out.len, sizeof pt);
    out.len = 0;
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 5, r, 1, &o_bad, &out, &err), KVS_ERR_CONTEXT_MISMATCH);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(decrypt_bytes(ct.data, ct.len, 5, r, 1, &o_missing, &out, &err), KVS_ERR_CONTEXT_MISMATCH);
    ck_assert_uint_eq(out.len, 0);
    free(out.data);
    free(ct.data);
}
END_TEST

/* Flip one bit in every byte position of a 3-chunk file: always refused, and
 * never more plaintext released than the chunks before the damage. */
START_TEST(every_byte_flip_refused)
{
    size_t n = 2 * 4096 + 100;
    uint8_t *pt = malloc(n);
    fill(pt, n, 4);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 4096, 1, r, 1, NULL, 0);
    size_t payload = ct.len - (n + 3 * 16);
    for (size_t pos = 0; pos < ct.len; pos += (pos < payload ? 1 : 7)) {
        ct.data[pos] ^= 0x04;
        buf out = {0};
        kvs_error err = {0};
        kvs_status st = decrypt_bytes(ct.data, ct.len, (unsigned)pos, r, 1, NULL, &out, &err);
        ct.data[pos] ^= 0x04;
        ck_assert_msg(st != KVS_OK, "flip at %zu accepted", pos);
        ck_assert_msg(kvs_status_category(st) == KVS_CAT_INPUT || st == KVS_ERR_NO_RECIPIENT,
                      "flip at %zu gave %d (%s)", pos, st, err.detail);
        size_t damaged_chunk = pos < payload ? 0 : (pos - payload) / (4096 + 16);
        ck_assert_msg(out.len <= damaged_chunk * 4096, "flip at %zu released %zu bytes", pos, out.len);
        if (out.len) ck_assert_mem_eq(out.data, pt, out.len);
        free(out.data);
    }
    free(pt);
    free(ct.data);
}
END_TEST

static kvs_status try_decrypt(buf *file, kvs_error *err, size_t *released)
{
    kvs_provider *r[] = {key_a};
    buf out = {0};
    kvs_status st = decrypt_bytes(file->data, file->len, 3, r, 1, NULL, &out, err);
    *released = out.len;
    free(out.data);
    return st;
}

START_TEST(truncation_refused)
{
    size_t n = 3 * 4096 + 10;
    uint8_t *pt = malloc(n);
    fill(pt, n, 5);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 4096, 1, r, 1, NULL, 0);
    size_t full = ct.len;
    size_t payload = full - (n + 4 * 16);
    for (size_t cut = 0; cut < full; cut++) {
        size_t rel = (cut - payload) % (4096 + 16);
        int boundary = cut <= payload || rel < 3 || rel > 4096 + 13;
        if (!boundary && cut % 61) continue; /* every boundary, and a stride inside chunks */
        buf t = {ct.data, cut, cut};
        kvs_error err = {0};
        size_t released = 0;
        kvs_status st = try_decrypt(&t, &err, &released);
        ck_assert_msg(st == KVS_ERR_TRUNCATED || st == KVS_ERR_AUTH || st == KVS_ERR_NOT_KVSEAL,
                      "cut at %zu gave %d: %s", cut, st, err.detail);
        ck_assert_msg(released < n, "cut at %zu released everything", cut);
    }
    free(pt);
    free(ct.data);
}
END_TEST

/* Swap, duplicate and drop whole chunks; append bytes. */
START_TEST(chunk_reordering_refused)
{
    size_t n = 3 * 4096 + 10, cs = 4096 + 16;
    uint8_t *pt = malloc(n);
    fill(pt, n, 6);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 4096, 1, r, 1, NULL, 0);
    size_t off = ct.len - (n + 4 * 16);
    uint8_t *c0 = ct.data + off, *c1 = c0 + cs, *c2 = c1 + cs, *c3 = c2 + cs;
    size_t last = ct.len - (size_t)(c3 - ct.data);
    /* released: verified chunks before the damage, which a stream may release */
    struct { const uint8_t *parts[5]; size_t lens[5]; kvs_status expect; size_t released; } cases[] = {
        {{c1, c0, c2, c3}, {cs, cs, cs, last}, KVS_ERR_AUTH, 0},                 /* swap 0,1 */
        {{c0, c0, c1, c2, c3}, {cs, cs, cs, cs, last}, KVS_ERR_AUTH, 4096},      /* duplicate 0 */
        {{c0, c2, c3}, {cs, cs, last}, KVS_ERR_AUTH, 4096},                      /* drop 1 */
        {{c0, c1, c2}, {cs, cs, cs}, KVS_ERR_TRUNCATED, 8192},                   /* drop final */
        {{c0, c1, c3, c2}, {cs, cs, last, cs}, KVS_ERR_AUTH, 8192},              /* final moved */
        {{c0, c1, c2, c3, c3}, {cs, cs, cs, last, last}, KVS_ERR_AUTH, 12288},   /* final repeated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf f = {0};
        buf_put(&f, ct.data, off);
        for (int p = 0; p < 5 && cases[i].parts[p]; p++) buf_put(&f, cases[i].parts[p], cases[i].lens[p]);
        kvs_error err = {0};
        size_t released = 0;
        ck_assert_int_eq(try_decrypt(&f, &err, &released), cases[i].expect);
        ck_assert_uint_eq(released, cases[i].released);
        free(f.data);
    }
    /* appended bytes: after a short final chunk (auth) and after a full one */
    for (size_t extra = 1; extra <= 17; extra += 16) {
        buf f = {0};
        buf_put(&f, ct.data, ct.len);
        buf_put(&f, (const uint8_t *)"xxxxxxxxxxxxxxxxx", extra);
        kvs_error err = {0};
        size_t released = 0;
        ck_assert_int_eq(try_decrypt(&f, &err, &released), KVS_ERR_AUTH);
        free(f.data);
    }
    free(pt);
    free(ct.data);
}
END_TEST

START_TEST(trailing_after_full_final)
{
    size_t n = 2 * 4096; /* ends with a full final chunk */
    uint8_t *pt = malloc(n);
    fill(pt, n, 8);
    kvs_provider *r[] = {key_a};
    buf ct = encrypt_bytes(pt, n, 4096, 1, r, 1, NULL, 0);
    buf_put(&ct, (const uint8_t *)"junk", 4);
    kvs_error err = {0};
    size_t released = 0;
    ck_assert_int_eq(try_decrypt(&ct, &err, &released), KVS_ERR_TRAILING_DATA);
    ck_assert_uint_eq(released, 4096);
    ck_assert_ptr_nonnull(strstr(err.detail, "trailing data"));
    free(pt);
    free(ct.data);
}
END_TEST

START_TEST(not_kvseal)
{
    buf f = {(uint8_t *)"hello, this is plainly not a kvseal file", 40, 40};
    kvs_error err = {0};
    size_t released = 0;
    ck_assert_int_eq(try_decrypt(&f, &err, &released), KVS_ERR_NOT_KVSEAL);
    ck_assert_str_eq(err.detail, "not a kvseal file");
    buf empty = {(uint8_t *)"", 0, 0};
    ck_assert_int_eq(try_decrypt(&empty, &err, &released), KVS_ERR_NOT_KVSEAL);
}
END_TEST

START_TEST(encryptor_rejects_bad_options)
{
    kvs_provider *r[] = {key_a};
    kvs_encryptor *e = NULL;
    kvs_error err = {0};
    uint32_t bad[] = {1, 4095, 4097, 12288, 1u << 27};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvs_encrypt_options o = {bad[i], NULL, 0, 0, 0};
        ck_assert_int_eq(kvs_encryptor_new(&o, r, 1, &e, &err), KVS_ERR_USAGE);
        ck_assert_ptr_null(e);
    }
    kvs_encrypt_options o = {4096, NULL, 0, 0, 0};
    ck_assert_int_eq(kvs_encryptor_new(&o, r, 0, &e, &err), KVS_ERR_USAGE);
    kvs_context_pair dup[] = {{"a", "1"}, {"a", "2"}};
    o.context = dup;
    o.n_context = 2;
    ck_assert_int_eq(kvs_encryptor_new(&o, r, 1, &e, &err), KVS_ERR_USAGE);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("stream");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, roundtrip_4k, 0, (int)(sizeof sizes_4k / sizeof sizes_4k[0]));
    tcase_add_test(tc, roundtrip_default_chunk);
    tcase_add_test(tc, two_recipients_either_key);
    tcase_add_test(tc, wrong_key_refused);
    tcase_add_test(tc, context_required);
    tcase_add_test(tc, every_byte_flip_refused);
    tcase_add_test(tc, truncation_refused);
    tcase_add_test(tc, chunk_reordering_refused);
    tcase_add_test(tc, trailing_after_full_final);
    tcase_add_test(tc, not_kvseal);
    tcase_add_test(tc, encryptor_rejects_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(stream_suite());
}
