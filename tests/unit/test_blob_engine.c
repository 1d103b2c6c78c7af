/* kvseal files in block blobs (src/blob/sink.c, source.c, src/envelope/
 * blob_*.c) over the in-memory fake store: round trips with known size
 * (direct mode) and unknown size (a pipe, ring mode), the block layout of
 * what lands in the store, the commit's all-or-nothing rule, ETag pinning,
 * damage, and what range decryption fetches. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope/blob_ops.h"
#include "fake_store.h"
#include "format/format.h"
#include "kvseal/kvseal.h"
#include "testutil.h"

#define CS 4096u
#define UNIT (CS + 16u)
#define MULTI (37 * CS + 123) /* many small blocks with the test layout */

static char dir[] = "/tmp/kvs-blob-XXXXXX";
static kvs_provider *key;
static uint8_t *plain;
static fake_store *fs;
static kvs_blob_store *store;
/* Blocks of 2 chunks, then 4, then 6...: many blocks from small inputs. */
static const kvs_blob_layout_params small_blocks = {2 * CS, 2, 0, 0};
static const kvs_blob_tuning tune = {3, &small_blocks};

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/kvs-blob-XXXXXX"); /* a fresh template (CK_FORK=no) */
    kvs_test_mkdtemp(dir);
    key = kvs_test_key("rsa2048-a");
    plain = malloc(MULTI + 1);
    ck_assert_ptr_nonnull(plain);
    for (size_t i = 0; i <= MULTI; i++) plain[i] = (uint8_t)(i * 31 + (i >> 9));
    fs = fake_store_new();
    store = fake_store_base(fs);
}

static void teardown(void)
{
    store->ops->free(store);
    free(plain);
    kvs_provider_free(key);
    kvs_test_rmtree(dir);
}

/* ---- helpers ---- */

typedef struct feeder {
    int fd;
    const uint8_t *data;
    size_t n;
} feeder;

static void *feed(void *arg)
{
    feeder *f = arg;
    size_t done = 0;
    while (done < f->n) {
        ssize_t w = write(f->fd, f->data + done, f->n - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

/* Encrypt n bytes of plain into the fake blob, from a regular file
 * (known size) or through a pipe (unknown size). */
static kvs_status encrypt_to_blob(size_t n, int through_pipe, int overwrite, kvs_error *err)
{
    kvs_encrypt_options o = {CS, NULL, 0, 0, 2, NULL, NULL, NULL};
    kvs_status st;
    if (through_pipe) {
        int p[2];
        pthread_t t;
        ck_assert_int_eq(pipe(p), 0);
        feeder f = {p[1], plain, n};
        ck_assert_int_eq(pthread_create(&t, NULL, feed, &f), 0);
        st = kvs_blob_encrypt_store(store, &tune, p[0], overwrite, &o, &key, 1, err);
        close(p[0]); /* unblocks the feeder if encryption stopped early */
        pthread_join(t, NULL);
    } else {
        const char *path = kvs_test_path(dir, "plain");
        kvs_test_write_file(path, plain, n);
        int fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        st = kvs_blob_encrypt_store(store, &tune, fd, overwrite, &o, &key, 1, err);
        close(fd);
    }
    return st;
}

/* The committed blob must be a kvseal file of plain[0..n). */
static void check_blob_decrypts(size_t n)
{
    kvs_error err = {0};
    size_t len = 0, out_len = 0;
    uint8_t *blob = fake_store_blob(fs, &len);
    ck_assert_ptr_nonnull(blob);
    uint8_t *out = malloc(len + 1);
    ck_assert_int_eq(kvs_decrypt_mem(blob, len, out, len, &out_len, NULL, &key, 1, NULL, &err), KVS_OK);
    ck_assert_uint_eq(out_len, n);
    if (n) ck_assert_int_eq(memcmp(out, plain, n), 0); /* not secret */
    free(out);
    free(blob);
}

/* Block 0 is exactly the stored header; later blocks hold whole chunks
 * (only the last may end with a short one). */
static void check_layout(void)
{
    kvs_error err = {0};
    size_t len = 0, header = 0, nb = 0;
    kvs_blob_block *blocks = NULL;
    kvs_blob_props pr;
    uint8_t *blob = fake_store_blob(fs, &len);
    ck_assert_int_eq(kvs_stored_header_size(blob, len, &header, &err), KVS_OK);
    ck_assert_int_eq(store->ops->committed_blocks(store, &blocks, &nb, &pr, &err), KVS_OK);
    ck_assert_uint_ge(nb, 2);
    ck_assert_uint_eq(blocks[0].size, header);
    uint64_t sum = 0;
    for (size_t i = 0; i < nb; i++) {
        ck_assert_uint_eq(strlen(blocks[i].id), strlen(blocks[0].id));
        if (i > 0 && i + 1 < nb) ck_assert_uint_eq(blocks[i].size % UNIT, 0);
        sum += blocks[i].size;
    }
    ck_assert_uint_eq(sum, len);
    free(blocks);
    free(blob);
}

typedef struct drain {
    int fd;
    uint8_t *buf;
    size_t cap, got;
} drain;

static void *drain_pipe(void *arg)
{
    drain *d = arg;
    for (;;) {
        ssize_t r = read(d->fd, d->buf + d->got, d->cap - d->got);
        if (r <= 0) break;
        d->got += (size_t)r;
    }
    close(d->fd);
    return NULL;
}

/* Decrypt the fake blob to a regular file (direct mode) or a pipe (ring
 * mode); *out (malloc'd) and *got receive what reached the output. */
static kvs_status decrypt_blob(int to_pipe, uint8_t **out, size_t *got, kvs_error *err)
{
    kvs_decrypt_options o = {NULL, 0, 2, NULL, NULL, NULL};
    kvs_status st;
    *out = malloc(MULTI + 1);
    ck_assert_ptr_nonnull(*out);
    if (to_pipe) {
        int p[2];
        pthread_t t;
        ck_assert_int_eq(pipe(p), 0);
        drain d = {p[0], *out, MULTI + 1, 0};
        ck_assert_int_eq(pthread_create(&t, NULL, drain_pipe, &d), 0);
        st = kvs_blob_decrypt_store(store, &tune, p[1], &o, &key, 1, NULL, err);
        close(p[1]);
        pthread_join(t, NULL);
        *got = d.got;
    } else {
        const char *path = kvs_test_path(dir, "out");
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        st = kvs_blob_decrypt_store(store, &tune, fd, &o, &key, 1, NULL, err);
        close(fd);
        uint8_t *bytes = kvs_test_read_file(path, got);
        ck_assert_uint_le(*got, MULTI + 1);
        memcpy(*out, bytes, *got);
        free(bytes);
    }
    return st;
}

/* ---- round trips ---- */

static const size_t sizes[] = {0, 1, CS - 1, CS, CS + 1, 5 * CS, MULTI};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

/* _i: size index * 4 + known/pipe encryption * 2 + file/pipe decryption */
START_TEST(round_trip)
{
    kvs_error err = {0};
    size_t n = sizes[_i / 4];
    int pipe_in = (_i / 2) % 2, pipe_out = _i % 2;
    ck_assert_msg(encrypt_to_blob(n, pipe_in, 0, &err) == KVS_OK, "%s", err.detail);
    ck_assert_uint_eq(fake_store_staged(fs), 0);
    check_blob_decrypts(n);
    check_layout();
    char size_text[32];
    snprintf(size_text, sizeof size_text, "%zu", n);
    ck_assert_str_eq(fake_store_meta(fs, "kvseal_size"), size_text);
    ck_assert_str_eq(fake_store_meta(fs, "kvseal_format"), "1");
    ck_assert_ptr_nonnull(strstr(fake_store_meta(fs, "kvseal_keys"), "sha256:"));
    uint8_t *out = NULL;
    size_t got = 0;
    ck_assert_msg(decrypt_blob(pipe_out, &out, &got, &err) == KVS_OK, "%s", err.detail);
    ck_assert_uint_eq(got, n);
    if (n) ck_assert_int_eq(memcmp(out, plain, n), 0); /* not secret */
    free(out);
    /* verify only */
    ck_assert_int_eq(kvs_blob_decrypt_store(store, &tune, -1, NULL, &key, 1, NULL, &err), KVS_OK);
}
END_TEST

START_TEST(default_layout_one_block_of_chunks)
{
    kvs_error err = {0};
    kvs_encrypt_options o = {CS, NULL, 0, 0, 2, NULL, NULL, NULL};
    const char *path = kvs_test_path(dir, "plain");
    kvs_test_write_file(path, plain, MULTI);
    int fd = open(path, O_RDONLY);
    ck_assert_int_eq(kvs_blob_encrypt_store(store, NULL, fd, 0, &o, &key, 1, &err), KVS_OK);
    close(fd);
    kvs_blob_block *blocks = NULL;
    size_t nb = 0;
    kvs_blob_props pr;
    ck_assert_int_eq(store->ops->committed_blocks(store, &blocks, &nb, &pr, &err), KVS_OK);
    ck_assert_uint_eq(nb, 2); /* the header, then every chunk: 8 MiB blocks */
    free(blocks);
    check_blob_decrypts(MULTI);
}
END_TEST

/* ---- failures ---- */

/* Encrypt MULTI bytes from a file; the blob's size and its header's. */
static void encrypt_multi(size_t *len, size_t *header)
{
    kvs_error err = {0};
    ck_assert_int_eq(encrypt_to_blob(MULTI, 0, 0, &err), KVS_OK);
    uint8_t *blob = fake_store_blob(fs, len);
    ck_assert_int_eq(kvs_stored_header_size(blob, *len, header, &err), KVS_OK);
    free(blob);
}

START_TEST(failed_put_block_commits_nothing)
{
    kvs_error err = {0};
    fake_store_fail_put_block(fs, 3);
    ck_assert_int_eq(encrypt_to_blob(MULTI, _i, 0, &err), KVS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.detail, "Put Block"));
    ck_assert_int_eq(fake_store_exists(fs), 0);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block_list, 0);
}
END_TEST

/* A block the service refuses as damaged in transit (400 Md5Mismatch) is not
 * retried over it: the encrypt fails and no blob is committed. */
START_TEST(md5_mismatch_put_block_commits_nothing)
{
    kvs_error err = {0};
    fake_store_fail_put_block_md5(fs, 2);
    ck_assert_int_eq(encrypt_to_blob(MULTI, _i, 0, &err), KVS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.detail, "Md5Mismatch"));
    ck_assert_int_eq(fake_store_exists(fs), 0);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.put_block_list, 0);
    ck_assert_uint_ge(c.put_block, 2);
}
END_TEST

START_TEST(existing_blob_refused_without_overwrite)
{
    kvs_error err = {0};
    fake_store_set_blob(fs, (const uint8_t *)"precious", 8);
    ck_assert_int_eq(encrypt_to_blob(CS + 1, _i, 0, &err), KVS_ERR_EXISTS);
    size_t len = 0;
    uint8_t *b = fake_store_blob(fs, &len);
    ck_assert_uint_eq(len, 8);
    ck_assert_int_eq(memcmp(b, "precious", 8), 0); /* not secret */
    free(b);
    ck_assert_int_eq(encrypt_to_blob(CS + 1, _i, 1, &err), KVS_OK);
    check_blob_decrypts(CS + 1);
}
END_TEST

START_TEST(too_many_blocks_refused_nothing_committed)
{
    kvs_error err = {0};
    static const kvs_blob_layout_params few = {2 * CS, 2, 4, 0}; /* blocks 1-3: 8 chunks */
    kvs_blob_tuning t = {2, &few};
    kvs_encrypt_options o = {CS, NULL, 0, 0, 2, NULL, NULL, NULL};
    const char *path = kvs_test_path(dir, "plain");
    kvs_test_write_file(path, plain, 8 * CS);
    int fd = open(path, O_RDONLY);
    ck_assert_int_eq(kvs_blob_encrypt_store(store, &t, fd, 0, &o, &key, 1, &err), KVS_OK);
    close(fd);
    store->ops->free(store);
    store = fake_store_base(fs = fake_store_new());
    kvs_test_write_file(path, plain, 8 * CS + 1);
    fd = open(path, O_RDONLY);
    ck_assert_int_eq(kvs_blob_encrypt_store(store, &t, fd, 0, &o, &key, 1, &err), KVS_ERR_RESOURCE_LIMIT);
    ck_assert_ptr_nonnull(strstr(err.detail, "more than 4 blocks"));
    close(fd);
    ck_assert_int_eq(fake_store_exists(fs), 0);
}
END_TEST

START_TEST(uploads_bounded_by_parallel)
{
    kvs_error err = {0};
    fake_store_put_delay_us(fs, 5000); /* long enough for uploads to overlap */
    ck_assert_int_eq(encrypt_to_blob(MULTI, _i, 0, &err), KVS_OK);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_le(c.max_put_in_flight, tune.parallel);
    ck_assert_uint_ge(c.max_put_in_flight, 2); /* and they did overlap */
    check_blob_decrypts(MULTI);
}
END_TEST

/* Positional reads by the decrypting workers keep at most `parallel`
 * ranged Gets in flight. */
START_TEST(reads_bounded_by_parallel)
{
    kvs_error err = {0};
    ck_assert_int_eq(encrypt_to_blob(MULTI, 0, 0, &err), KVS_OK);
    fake_store_read_delay_us(fs, 3000);
    kvs_blob_tuning one = {1, NULL}, three = {3, NULL};
    kvs_decrypt_options o = {NULL, 0, 3, NULL, NULL, NULL};
    fake_store_counters c;
    const char *path = kvs_test_path(dir, "out");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(kvs_blob_decrypt_store(store, &one, fd, &o, &key, 1, NULL, &err), KVS_OK);
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.max_read_in_flight, 1);
    fake_store_counters_reset(fs);
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(kvs_blob_decrypt_store(store, &three, fd, &o, &key, 1, NULL, &err), KVS_OK);
    fake_store_counters_get(fs, &c);
    ck_assert_uint_le(c.max_read_in_flight, 3);
    ck_assert_uint_ge(c.max_read_in_flight, 2);
    close(fd);
}
END_TEST

/* The output holds at most a verified prefix of the plaintext. */
static void check_prefix(const uint8_t *out, size_t got)
{
    ck_assert_uint_le(got, MULTI);
    ck_assert_uint_eq(got % CS, 0);
    if (got) ck_assert_int_eq(memcmp(out, plain, got), 0); /* not secret */
}

/* Decryption fails with want (KVS_OK: any failure), leaving at most a
 * verified prefix of at most `most` bytes. */
static void expect_refused(int to_pipe, kvs_status want, size_t most)
{
    kvs_error err = {0};
    uint8_t *out = NULL;
    size_t got = 0;
    kvs_status st = decrypt_blob(to_pipe, &out, &got, &err);
    if (want != KVS_OK) ck_assert_int_eq(st, want);
    else ck_assert_int_ne(st, KVS_OK);
    check_prefix(out, got);
    ck_assert_uint_le(got, most);
    free(out);
}

START_TEST(blob_changed_mid_decrypt_fails_cleanly)
{
    kvs_error err = {0};
    ck_assert_int_eq(encrypt_to_blob(MULTI, 0, 0, &err), KVS_OK);
    fake_store_change_after_reads(fs, _i ? 1 : 4); /* a pipe reads ahead in few Gets */
    expect_refused(_i, KVS_ERR_IO, MULTI - 1);
}
END_TEST

START_TEST(damaged_blob_refused)
{
    size_t len = 0, header = 0;
    encrypt_multi(&len, &header);
    fake_store_corrupt(fs, header + 20 * UNIT + 7); /* inside chunk 20 */
    expect_refused(_i, KVS_ERR_AUTH, 20 * CS);
    fake_store_corrupt(fs, header + 20 * UNIT + 7); /* repaired */
    fake_store_truncate(fs, len - (123 + 16));      /* the whole final chunk */
    expect_refused(_i, KVS_ERR_TRUNCATED, MULTI);
    fake_store_truncate(fs, len - 123 - 16 - 5); /* inside a chunk */
    expect_refused(_i, KVS_OK, MULTI);
}
END_TEST

/* ---- range, header ---- */

START_TEST(range_fetches_only_covering_chunks)
{
    kvs_error err = {0};
    size_t len = 0, header = 0;
    encrypt_multi(&len, &header);
    /* offset, length, covering chunks but the final one, reads of the final one */
    static const uint64_t cases[][4] = {
        {0, 1, 1, 1}, {CS - 1, 2, 2, 1}, {10 * CS, CS, 1, 1}, {5 * CS + 9, 3 * CS, 4, 1},
        {MULTI - 5, 5, 0, 2},
    };
    const char *path = kvs_test_path(dir, "range");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        fake_store_counters_reset(fs);
        ck_assert_int_eq(kvs_blob_decrypt_range_store(store, cases[i][0], cases[i][1], fd, NULL, &key, 1,
                                                      &err), KVS_OK);
        close(fd);
        size_t got = 0;
        uint8_t *bytes = kvs_test_read_file(path, &got);
        ck_assert_uint_eq(got, cases[i][1]);
        ck_assert_int_eq(memcmp(bytes, plain + cases[i][0], got), 0); /* not secret */
        free(bytes);
        fake_store_counters c;
        fake_store_counters_get(fs, &c);
        ck_assert_uint_eq(c.bytes_read, header + cases[i][2] * UNIT + cases[i][3] * (123 + 16));
    }
    /* damage outside the range is not read; inside it is refused */
    fake_store_corrupt(fs, header + 20 * UNIT + 7);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(kvs_blob_decrypt_range_store(store, 0, CS, fd, NULL, &key, 1, &err), KVS_OK);
    ck_assert_int_eq(kvs_blob_decrypt_range_store(store, 20 * CS, 1, fd, NULL, &key, 1, &err),
                     KVS_ERR_AUTH);
    close(fd);
}
END_TEST

START_TEST(header_read_and_unlock)
{
    kvs_error err = {0};
    kvs_header *h = NULL;
    uint64_t size = 0;
    ck_assert_int_eq(kvs_blob_header_read_store(store, &h, &size, &err), KVS_ERR_IO);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(encrypt_to_blob(MULTI, 1, 0, &err), KVS_OK);
    fake_store_counters_reset(fs);
    ck_assert_int_eq(kvs_blob_header_read_store(store, &h, &size, &err), KVS_OK);
    ck_assert_uint_eq(h->chunk_size, CS);
    ck_assert_int_eq(h->unlocked_recipient, -1);
    size_t len = 0;
    free(fake_store_blob(fs, &len));
    ck_assert_uint_eq(size, len);
    fake_store_counters c;
    fake_store_counters_get(fs, &c);
    ck_assert_uint_eq(c.bytes_read, kvs_header_payload_offset(h)); /* the header only */
    kvs_header_free(h);
    ck_assert_int_eq(kvs_blob_unlock_store(store, NULL, &key, 1, &h, &err), KVS_OK);
    ck_assert_int_eq(h->unlocked_recipient, 0);
    kvs_header_free(h);
    kvs_provider *other = kvs_test_key("rsa2048-b");
    ck_assert_int_ne(kvs_blob_unlock_store(store, NULL, &other, 1, &h, &err), KVS_OK);
    ck_assert_ptr_null(h);
    kvs_provider_free(other);
    /* not a kvseal file */
    fake_store_set_blob(fs, (const uint8_t *)"hello, world, not kvseal", 24);
    ck_assert_int_eq(kvs_blob_header_read_store(store, &h, NULL, &err), KVS_ERR_NOT_KVSEAL);
}
END_TEST

/* The public functions go through kvs_blob_store_open: a URL it refuses
 * (plain HTTP to a host that is not loopback; on this branch, any URL:
 * the REST store is not built) fails before anything is read or written. */
START_TEST(public_api_refused_url)
{
    kvs_error err = {0};
    kvs_header *h = NULL;
    uint8_t none[1];
    const char *url = "http://example.com/account/container/blob";
    ck_assert_int_ne(kvs_blob_header_read(url, NULL, &h, NULL, &err), KVS_OK);
    ck_assert_ptr_null(h);
    ck_assert_int_ne(kvs_blob_unlock(url, NULL, NULL, &key, 1, &h, &err), KVS_OK);
    ck_assert_ptr_null(h);
    ck_assert_int_ne(kvs_blob_decrypt(url, NULL, -1, NULL, &key, 1, &h, &err), KVS_OK);
    ck_assert_ptr_null(h);
    ck_assert_int_ne(kvs_blob_decrypt_range(url, NULL, 0, 1, -1, NULL, &key, 1, &err), KVS_OK);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    close(p[1]);
    ck_assert_int_ne(kvs_blob_encrypt(p[0], url, NULL, NULL, NULL, &key, 1, &err), KVS_OK);
    ck_assert_int_eq(read(p[0], none, 1), 1); /* the input was not read */
    close(p[0]);
}
END_TEST

static Suite *blob_engine_suite(void)
{
    Suite *s = suite_create("blob_engine");
    TCase *tc = tcase_create("blob");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, round_trip, 0, (int)(N_SIZES * 4));
    tcase_add_test(tc, default_layout_one_block_of_chunks);
    tcase_add_loop_test(tc, failed_put_block_commits_nothing, 0, 2);
    tcase_add_loop_test(tc, md5_mismatch_put_block_commits_nothing, 0, 2);
    tcase_add_loop_test(tc, existing_blob_refused_without_overwrite, 0, 2);
    tcase_add_test(tc, too_many_blocks_refused_nothing_committed);
    tcase_add_loop_test(tc, uploads_bounded_by_parallel, 0, 2);
    tcase_add_test(tc, reads_bounded_by_parallel);
    tcase_add_loop_test(tc, blob_changed_mid_decrypt_fails_cleanly, 0, 2);
    tcase_add_loop_test(tc, damaged_blob_refused, 0, 2);
    tcase_add_test(tc, range_fetches_only_covering_chunks);
    tcase_add_test(tc, header_read_and_unlock);
    tcase_add_test(tc, public_api_refused_url);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a feeder whose reader stopped gets EPIPE */
    return kvs_test_run_suite(blob_engine_suite());
}
