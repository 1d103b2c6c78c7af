/* Rotation in place of a block blob (src/envelope/blob_rewrap.c) over the
 * in-memory fake store: the new recipients decrypt and removed ones do not,
 * the payload blocks stay committed by id, byte for byte, and not one
 * payload byte is read or sent; nothing is committed when nothing changes,
 * when the blob changed meanwhile, when the blob is in another tool's block
 * layout, or when the last recipient would go. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope/blob_ops.h"
#include "fake_store.h"
#include "format/format.h"
#include "kvseal/kvseal.h"
#include "testutil.h"

#define CS 4096u
#define PLAIN (23 * CS + 321) /* many small blocks with the test layout */

static char dir[] = "/tmp/kvs-blobrw-XXXXXX";
static kvs_provider *key_a, *key_b;
static uint8_t *plain;
static fake_store *fs;
static kvs_blob_store *store;
static const kvs_blob_layout_params small_blocks = {2 * CS, 2, 0, 0};
static const kvs_blob_tuning tune = {2, &small_blocks};

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/kvs-blobrw-XXXXXX");
    kvs_test_mkdtemp(dir);
    key_a = kvs_test_key("rsa2048-a");
    key_b = kvs_test_key("rsa2048-b");
    plain = malloc(PLAIN);
    ck_assert_ptr_nonnull(plain);
    for (size_t i = 0; i < PLAIN; i++) plain[i] = (uint8_t)(i * 13 + (i >> 8));
    fs = fake_store_new();
    store = fake_store_base(fs);
}

static void teardown(void)
{
    store->ops->free(store);
    free(plain);
    kvs_provider_free(key_a);
    kvs_provider_free(key_b);
    kvs_test_rmtree(dir);
}

/* ---- helpers ---- */

/* plain, encrypted for key_a, into the fake blob in kvseal's layout. */
static void encrypt_for_a(void)
{
    kvs_error err = {0};
    kvs_encrypt_options o = {CS, NULL, 0, 0, 2, NULL, NULL, NULL};
    const char *path = kvs_test_path(dir, "plain");
    kvs_test_write_file(path, plain, PLAIN);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(kvs_blob_encrypt_store(store, &tune, fd, 0, &o, &key_a, 1, &err), KVS_OK);
    close(fd);
}

/* The committed blob decrypts with key alone (status returned). */
static kvs_status decrypts_with(kvs_provider *key)
{
    kvs_error err = {0};
    size_t len = 0, out_len = 0;
    uint8_t *blob = fake_store_blob(fs, &len);
    ck_assert_ptr_nonnull(blob);
    uint8_t *out = malloc(len);
    ck_assert_ptr_nonnull(out);
    kvs_status st = kvs_decrypt_mem(blob, len, out, len, &out_len, NULL, &key, 1, NULL, &err);
    if (st == KVS_OK) {
        ck_assert_uint_eq(out_len, PLAIN);
        ck_assert_int_eq(memcmp(out, plain, PLAIN), 0); /* not secret */
    }
    free(out);
    free(blob);
    return st;
}

/* The committed blob's bytes from offset on, and its header's size. */
static uint8_t *payload_of_blob(size_t *header, size_t *len)
{
    kvs_error err = {0};
    size_t n = 0;
    uint8_t *blob = fake_store_blob(fs, &n);
    ck_assert_ptr_nonnull(blob);
    ck_assert_int_eq(kvs_stored_header_size(blob, n, header, &err), KVS_OK);
    *len = n - *header;
    memmove(blob, blob + *header, *len);
    return blob;
}

static kvs_blob_block *block_list(size_t *n, kvs_blob_props *pr)
{
    kvs_error err = {0};
    kvs_blob_block *b = NULL;
    ck_assert_int_eq(store->ops->committed_blocks(store, &b, n, pr, &err), KVS_OK);
    return b;
}

static kvs_status rewrap(kvs_provider *unlock, kvs_provider *add, const char *remove,
                         kvs_rewrap_result *res, kvs_error *err)
{
    const char *rm[1] = {remove};
    kvs_rewrap_options o = {rm, remove ? 1 : 0, 0, NULL, NULL};
    return kvs_blob_rewrap_store(store, &o, &unlock, 1, add ? &add : NULL, add ? 1 : 0, res, err);
}

/* ---- tests ---- */

/* Rotate from key a to key b: b decrypts, a is refused, the payload blocks
 * are the same ids and bytes, and only the header moved over the wire. A
 * second rotation (block 0 now has another id prefix than the payload
 * blocks) works too. */
START_TEST(rotate_to_new_key)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    fake_store_counters c;
    size_t old_hdr = 0, old_len = 0, new_hdr = 0, new_len = 0, n0 = 0, n1 = 0;
    kvs_blob_props p0, p1;
    encrypt_for_a();
    uint8_t *before = payload_of_blob(&old_hdr, &old_len);
    kvs_blob_block *b0 = block_list(&n0, &p0);
    ck_assert_uint_ge(n0, 5);
    fake_store_counters_reset(fs);

    ck_assert_int_eq(rewrap(key_a, key_b, kvs_rsa_provider_key_id(key_a), &res, &err), KVS_OK);
    ck_assert_int_eq(res.changed, 1);
    ck_assert_uint_eq(res.added, 1);
    ck_assert_uint_eq(res.removed, 1);
    ck_assert_uint_eq(res.n_recipients, 1);

    uint8_t *after = payload_of_blob(&new_hdr, &new_len);
    ck_assert_uint_eq(new_len, old_len);
    ck_assert_int_eq(memcmp(before, after, old_len), 0);
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.read_range, 2);                /* the header, and the last 10 bytes */
    ck_assert_uint_eq(c.bytes_read, old_hdr + 10);     /* (a signed blob's trailer ends there) */
    ck_assert_uint_eq(c.put_block, 1);
    ck_assert_uint_eq(c.bytes_uploaded, new_hdr);  /* the new header, no payload byte */
    ck_assert_uint_eq(c.put_block_list, 1);

    kvs_blob_block *b1 = block_list(&n1, &p1);
    ck_assert_uint_eq(n1, n0);
    ck_assert_str_ne(b1[0].id, b0[0].id);
    ck_assert_uint_eq(strlen(b1[0].id), strlen(b0[0].id));
    ck_assert_uint_eq(b1[0].size, new_hdr);
    for (size_t i = 1; i < n0; i++) {
        ck_assert_str_eq(b1[i].id, b0[i].id);
        ck_assert_uint_eq(b1[i].size, b0[i].size);
    }
    ck_assert_str_ne(p1.etag, p0.etag);
    ck_assert_str_eq(fake_store_meta(fs, "kvseal_keys"), kvs_rsa_provider_key_id(key_b));

    ck_assert_int_eq(decrypts_with(key_b), KVS_OK);
    ck_assert_int_eq(decrypts_with(key_a), KVS_ERR_NO_RECIPIENT);

    /* Back to a as well, from the rotated layout. */
    ck_assert_int_eq(rewrap(key_b, key_a, NULL, &res, &err), KVS_OK);
    ck_assert_int_eq(res.changed, 1);
    ck_assert_uint_eq(res.n_recipients, 2);
    ck_assert_int_eq(decrypts_with(key_a), KVS_OK);
    ck_assert_int_eq(decrypts_with(key_b), KVS_OK);
    free(b0);
    free(b1);
    free(before);
    free(after);
}
END_TEST

/* Nothing to change: nothing staged, nothing committed, same ETag. */
START_TEST(unchanged_commits_nothing)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    fake_store_counters c;
    kvs_blob_props p0, p1;
    size_t n = 0;
    encrypt_for_a();
    free(block_list(&n, &p0));
    fake_store_counters_reset(fs);
    ck_assert_int_eq(rewrap(key_a, key_a, NULL, &res, &err), KVS_OK);
    ck_assert_int_eq(res.changed, 0);
    ck_assert_uint_eq(res.n_recipients, 1);
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block, 0);
    ck_assert_uint_eq(c.put_block_list, 0);
    free(block_list(&n, &p1));
    ck_assert_str_eq(p0.etag, p1.etag);
}
END_TEST

/* Another writer commits between the read and the commit: "the blob
 * changed" (KVS_ERR_IO), and the blob is what that writer left. */
START_TEST(blob_changed_meanwhile)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    size_t len0 = 0, len1 = 0;
    encrypt_for_a();
    uint8_t *before = fake_store_blob(fs, &len0);
    fake_store_change_after_reads(fs, 1); /* right after the header's Get */
    ck_assert_int_eq(rewrap(key_a, key_b, NULL, &res, &err), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "changed"));
    uint8_t *after = fake_store_blob(fs, &len1);
    ck_assert_uint_eq(len1, len0);
    ck_assert_int_eq(memcmp(before, after, len0), 0);
    ck_assert_int_eq(decrypts_with(key_b), KVS_ERR_NO_RECIPIENT);
    ck_assert_int_eq(decrypts_with(key_a), KVS_OK);
    free(before);
    free(after);
}
END_TEST

/* The same kvseal file in another tool's blocks: _i 0, one block; 1, block
 * 0 exactly the header but ids that are not kvseal's; 2, kvseal's ids with
 * the header split across blocks 0 and 1. Refused, nothing staged or
 * committed. */
START_TEST(foreign_layout_refused)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    fake_store_counters c;
    size_t len = 0, hdr = 0, len1 = 0;
    encrypt_for_a();
    uint8_t *file = fake_store_blob(fs, &len);
    ck_assert_int_eq(kvs_stored_header_size(file, len, &hdr, &err), KVS_OK);
    if (_i == 0) {
        fake_store_set_blob(fs, file, len);
    } else {
        uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN] = {1, 2, 3};
        kvs_blob_block b[2];
        memset(b, 0, sizeof b);
        size_t cut = _i == 1 ? hdr : hdr - 5;
        if (_i == 1) {
            snprintf(b[0].id, sizeof b[0].id, "YmxvY2stMDAwMDAw"); /* "block-000000" */
            snprintf(b[1].id, sizeof b[1].id, "YmxvY2stMDAwMDAx");
        } else {
            kvs_blob_block_id(prefix, 0, b[0].id);
            kvs_blob_block_id(prefix, 1, b[1].id);
        }
        ck_assert_int_eq(store->ops->put_block(store, b[0].id, file, cut, &err), KVS_OK);
        ck_assert_int_eq(store->ops->put_block(store, b[1].id, file + cut, len - cut, &err), KVS_OK);
        kvs_blob_commit cm = {b, 2, NULL, 0, NULL, 0};
        ck_assert_int_eq(store->ops->put_block_list(store, &cm, &err), KVS_OK);
    }
    fake_store_counters_reset(fs);
    ck_assert_int_eq(rewrap(key_a, key_b, NULL, &res, &err), KVS_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "not laid out as kvseal writes it"));
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block, 0);
    ck_assert_uint_eq(c.put_block_list, 0);
    uint8_t *after = fake_store_blob(fs, &len1);
    ck_assert_uint_eq(len1, len);
    ck_assert_int_eq(memcmp(after, file, len), 0);
    free(after);
    free(file);
}
END_TEST

/* Removing the only recipient is refused, as for a file. */
START_TEST(last_recipient_removal_refused)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    fake_store_counters c;
    encrypt_for_a();
    fake_store_counters_reset(fs);
    ck_assert_int_eq(rewrap(key_a, NULL, kvs_rsa_provider_key_id(key_a), &res, &err),
                     KVS_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "last recipient"));
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block, 0);
    ck_assert_uint_eq(c.put_block_list, 0);
    ck_assert_int_eq(decrypts_with(key_a), KVS_OK);
}
END_TEST

/* A key that opens no recipient: KVS_ERR_NO_RECIPIENT, nothing written. */
START_TEST(wrong_key_refused)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    fake_store_counters c;
    encrypt_for_a();
    fake_store_counters_reset(fs);
    ck_assert_int_eq(rewrap(key_b, key_b, NULL, &res, &err), KVS_ERR_NO_RECIPIENT);
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block, 0);
    ck_assert_uint_eq(c.put_block_list, 0);
}
END_TEST

/* The public function goes through kvs_blob_store_open: a refused URL
 * (plain HTTP to a host that is not loopback) fails before any request,
 * with an empty result. */
START_TEST(public_api_refused_url)
{
    kvs_error err = {0};
    kvs_rewrap_result res;
    memset(&res, 0x5a, sizeof res);
    ck_assert_int_ne(kvs_blob_rewrap("http://example.com/account/container/blob", NULL, NULL,
                                     &key_a, 1, &key_b, 1, &res, &err),
                     KVS_OK);
    ck_assert_int_eq(res.changed, 0);
    ck_assert_uint_eq(res.n_recipients, 0);
    ck_assert_int_eq(res.unlocked_recipient, -1);
}
END_TEST

static Suite *blob_rewrap_suite(void)
{
    Suite *s = suite_create("blob_rewrap");
    TCase *tc = tcase_create("rewrap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rotate_to_new_key);
    tcase_add_test(tc, unchanged_commits_nothing);
    tcase_add_test(tc, blob_changed_meanwhile);
    tcase_add_loop_test(tc, foreign_layout_refused, 0, 3);
    tcase_add_test(tc, last_recipient_removal_refused);
    tcase_add_test(tc, wrong_key_refused);
    tcase_add_test(tc, public_api_refused_url);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(blob_rewrap_suite());
}
