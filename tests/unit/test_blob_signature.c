/* Signed blobs without a decryption key (src/envelope/blob_signature.c)
 * over the in-memory fake store: signer info, key-less proof of authorship
 * (one pass of large Gets), and its refusals: another or no signer, a
 * changed stored byte (payload, root, signature), a truncated blob, a blob
 * that is not kvseal, and a blob replaced between two reads (ETag). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope/blob_ops.h"
#include "fake_store.h"
#include "kvseal/kvseal.h"
#include "testutil.h"

#define CS 4096u
#define UNIT (CS + 16u)
#define N_SMALL (40 * CS + 5) /* 41 chunks, 3 segments (the last partial) */
#define N_LARGE (1500 * CS + 77) /* 1501 chunks, 94 segments: read-ahead in parallel parts */
#define ES256_TRAILER(m) ((m) * 32u + 32u + 64u + 10u)

static kvs_provider *key;
static kvs_signer *signer;
static kvs_signer_check *required, *required_other;
static fake_store *fs;
static kvs_blob_store *store;
static const kvs_blob_tuning tune = {4, NULL};

static void setup(void)
{
    char path[4096];
    kvs_error err = {0};
    key = kvs_test_key("rsa2048-a");
    ck_assert_int_eq(kvs_local_signer_new(kvs_test_key_path("ec-p256.pem", path, sizeof path), NULL,
                                          &signer, &err), KVS_OK);
    ck_assert_int_eq(kvs_signer_check_pem(kvs_test_key_path("ec-p256.pub.pem", path, sizeof path),
                                          &required, &err), KVS_OK);
    ck_assert_int_eq(kvs_signer_check_pem(kvs_test_key_path("ec-p256-b.pub.pem", path, sizeof path),
                                          &required_other, &err), KVS_OK);
    fs = fake_store_new();
    store = fake_store_base(fs);
}

static void teardown(void)
{
    store->ops->free(store);
    kvs_signer_check_free(required_other);
    kvs_signer_check_free(required);
    kvs_signer_free(signer);
    kvs_provider_free(key);
}

/* The blob becomes a kvseal file of n pattern bytes, signed by s (or not);
 * *len its size, *payload the offset of its first chunk. */
static void put_sealed(size_t n, kvs_signer *s, size_t *len, size_t *payload)
{
    uint8_t *pt = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(pt);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 131u + (i >> 12));
    kvs_encrypt_options o = {0};
    o.chunk_size = CS;
    o.signer = s;
    o.threads = 4; /* more workers than cores: the roots window holds (direct.c claim) */
    size_t cap = kvs_encrypt_mem_bound(n, CS);
    uint8_t *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    kvs_error err = {0};
    ck_assert_msg(kvs_encrypt_mem(pt, n, out, cap, len, &o, &key, 1, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    fake_store_set_blob(fs, out, *len);
    kvs_header *h = NULL;
    ck_assert_int_eq(kvs_blob_header_read_store(store, &h, NULL, &err), KVS_OK);
    *payload = (size_t)kvs_header_payload_offset(h);
    kvs_header_free(h);
    free(out);
    free(pt);
}

START_TEST(signed_blob_info)
{
    size_t len = 0, payload = 0;
    put_sealed(N_SMALL, signer, &len, &payload);
    kvs_signature_info info;
    kvs_error err = {0};
    fake_store_counters_reset(fs);
    ck_assert_msg(kvs_blob_signature_info_store(store, &info, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    ck_assert_int_eq(info.signed_file, 1);
    ck_assert_str_eq(info.type, "key");
    ck_assert_str_eq(info.id, kvs_signer_id(signer));
    ck_assert_str_eq(info.alg, "ES256");
    ck_assert_uint_eq(info.segments, 3);
    ck_assert_uint_eq(info.sig_len, 64);
    ck_assert_uint_eq(info.trailer_len, ES256_TRAILER(3));
    ck_assert_uint_eq(info.chunks, 41);
    ck_assert_uint_eq(info.plaintext_size, N_SMALL);
    ck_assert_uint_eq(len, payload + 40 * UNIT + 5 + 16 + ES256_TRAILER(3));
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    /* the header and the trailer's fixed tail: no payload byte */
    ck_assert_uint_eq(c.bytes_read, payload + 10);
    /* an unsigned blob: its geometry, no trailer */
    put_sealed(N_SMALL, NULL, &len, &payload);
    ck_assert_int_eq(kvs_blob_signature_info_store(store, &info, &err), KVS_OK);
    ck_assert_int_eq(info.signed_file, 0);
    ck_assert_str_eq(info.type, "");
    ck_assert_uint_eq(info.trailer_len, 0);
    ck_assert_uint_eq(info.chunks, 41);
    ck_assert_uint_eq(info.plaintext_size, N_SMALL);
}
END_TEST

START_TEST(signed_blob_info_refusals)
{
    size_t len = 0, payload = 0;
    kvs_signature_info info;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_blob_signature_info_store(store, &info, &err), KVS_ERR_IO); /* no blob */
    put_sealed(N_SMALL, signer, &len, &payload);
    fake_store_truncate(fs, len - 1); /* the tail's magic is gone */
    ck_assert_int_ne(kvs_blob_signature_info_store(store, &info, &err), KVS_OK);
    ck_assert_int_eq(kvs_status_category(err.status), KVS_CAT_INPUT);
    fake_store_truncate(fs, payload + 5); /* no trailer at all */
    ck_assert_int_ne(kvs_blob_signature_info_store(store, &info, &err), KVS_OK);
    ck_assert_int_eq(kvs_status_category(err.status), KVS_CAT_INPUT);
    fake_store_set_blob(fs, (const uint8_t *)"hello, world, not kvseal", 24);
    ck_assert_int_eq(kvs_blob_signature_info_store(store, &info, &err), KVS_ERR_NOT_KVSEAL);
    /* replaced between the header and the trailer's tail */
    put_sealed(N_SMALL, signer, &len, &payload);
    fake_store_change_after_reads(fs, 1);
    ck_assert_int_eq(kvs_blob_signature_info_store(store, &info, &err), KVS_ERR_IO);
}
END_TEST

START_TEST(verify_signer_ok)
{
    size_t n = _i ? N_LARGE : N_SMALL, len = 0, payload = 0;
    put_sealed(n, signer, &len, &payload);
    kvs_error err = {0};
    kvs_header *h = NULL;
    fake_store_counters_reset(fs);
    ck_assert_msg(kvs_blob_verify_signer_store(store, &tune, required, &h, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h->signer.type, "key");
    ck_assert_str_eq(h->signer.id, kvs_signer_id(signer));
    ck_assert_uint_eq(h->chunk_size, CS);
    kvs_header_free(h);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    /* one pass over the blob in growing Gets (not one per chunk), then the
     * trailer's tail and the trailer once more */
    size_t chunks = n / CS + 1;
    ck_assert_uint_le(c.bytes_read, len + 10 + ES256_TRAILER(chunks / 16 + 1));
    ck_assert_uint_ge(c.bytes_read, len);
    ck_assert_uint_lt(c.read_range, 40);
    /* header_out may be NULL */
    static const kvs_blob_tuning one = {1, NULL};
    fake_store_counters_reset(fs);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &one, required, NULL, &err), KVS_OK);
    fake_store_counters one_c;
    fake_store_counters_get(fs, &one_c);
    ck_assert_uint_eq(one_c.bytes_read, c.bytes_read);
    /* a large blob's refills (2 MiB and more) are fetched as parallel parts */
    if (_i) ck_assert_uint_gt(c.read_range, one_c.read_range);
    else ck_assert_uint_eq(c.read_range, one_c.read_range);
    /* NULL tuning is the default */
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, NULL, required, NULL, &err), KVS_OK);
}
END_TEST

START_TEST(verify_signer_refuses_other_or_no_signer)
{
    size_t len = 0, payload = 0;
    kvs_error err = {0};
    kvs_header *h = NULL;
    put_sealed(N_SMALL, signer, &len, &payload);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, required_other, &h, &err),
                     KVS_ERR_SIGNER);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, NULL, &h, &err), KVS_ERR_USAGE);
    put_sealed(N_SMALL, NULL, &len, &payload);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, required, &h, &err), KVS_ERR_SIGNER);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "not signed"));
    ck_assert_ptr_null(h);
    fake_store_set_blob(fs, (const uint8_t *)"hello, world, not kvseal", 24);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, required, &h, &err),
                     KVS_ERR_NOT_KVSEAL);
    ck_assert_ptr_null(h);
}
END_TEST

/* One stored byte changed (the ETag kept, as by a writer who cannot sign):
 * in a chunk, a segment root or the signature, every one is refused. */
START_TEST(verify_signer_refuses_changed_byte)
{
    size_t n = _i ? N_LARGE : N_SMALL, len = 0, payload = 0;
    put_sealed(n, signer, &len, &payload);
    size_t chunks = n / CS + 1, m = (chunks + 15) / 16, trailer = ES256_TRAILER(m);
    const size_t where[] = {
        payload + 17 * UNIT + 9,            /* a chunk of segment 1 */
        len - trailer - 3,                  /* the final chunk's tag */
        len - trailer + 32 * (m - 1) + 1,   /* the last segment root */
        len - 10 - 64 + 5,                  /* the signature */
    };
    kvs_error err = {0};
    for (size_t k = 0; k < sizeof where / sizeof where[0]; k++) {
        kvs_header *h = NULL;
        fake_store_corrupt(fs, where[k]);
        kvs_status st = kvs_blob_verify_signer_store(store, &tune, required, &h, &err);
        ck_assert_msg(st == KVS_ERR_AUTH, "byte %zu: %s", k, kvs_error_message(&err));
        ck_assert_ptr_null(h);
        fake_store_corrupt(fs, where[k]); /* repaired */
        ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, required, NULL, &err), KVS_OK);
    }
    fake_store_truncate(fs, len - 1);
    ck_assert_int_ne(kvs_blob_verify_signer_store(store, &tune, required, NULL, &err), KVS_OK);
    ck_assert_int_eq(kvs_status_category(err.status), KVS_CAT_INPUT);
}
END_TEST

/* The blob replaced by another writer while it is read (a new ETag): the
 * pinned Gets fail with KVS_ERR_IO, at any read. */
START_TEST(verify_signer_blob_changed_between_reads)
{
    size_t len = 0, payload = 0;
    put_sealed(N_LARGE, signer, &len, &payload);
    kvs_error err = {0};
    fake_store_counters_reset(fs);
    ck_assert_int_eq(kvs_blob_verify_signer_store(store, &tune, required, NULL, &err), KVS_OK);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_gt(c.read_range, 3);
    for (unsigned nth = 1; nth < c.read_range; nth++) {
        kvs_header *h = NULL;
        fake_store_change_after_reads(fs, nth);
        kvs_status st = kvs_blob_verify_signer_store(store, &tune, required, &h, &err);
        ck_assert_msg(st == KVS_ERR_IO, "after %u reads: %s", nth, kvs_error_message(&err));
        ck_assert_ptr_null(h);
        fake_store_change_after_reads(fs, 0);
    }
}
END_TEST

/* The public functions go through kvs_blob_store_open: a URL it refuses
 * fails before anything is read. */
START_TEST(public_api_refused_url)
{
    kvs_error err = {0};
    kvs_header *h = NULL;
    kvs_signature_info info;
    const char *url = "http://example.com/account/container/blob";
    ck_assert_int_ne(kvs_blob_signature_info(url, NULL, &info, &err), KVS_OK);
    ck_assert_int_eq(info.signed_file, 0);
    ck_assert_int_ne(kvs_blob_verify_signer(url, NULL, required, &h, &err), KVS_OK);
    ck_assert_ptr_null(h); /* (required is declared non-null: no NULL call here) */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("blob_signature");
    TCase *t = tcase_create("all");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, signed_blob_info);
    tcase_add_test(t, signed_blob_info_refusals);
    tcase_add_loop_test(t, verify_signer_ok, 0, 2);
    tcase_add_test(t, verify_signer_refuses_other_or_no_signer);
    tcase_add_loop_test(t, verify_signer_refuses_changed_byte, 0, 2);
    tcase_add_test(t, verify_signer_blob_changed_between_reads);
    tcase_add_test(t, public_api_refused_url);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(suite());
}
