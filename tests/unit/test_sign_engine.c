/* Signed files through the whole-file engine (FORMAT.md "Signed files"):
 * every engine mode writes and reads the trailer, a required signer is
 * checked (roots, signature, commitment) before output is kept, and range
 * reads, key-less verification and tampering behave as documented. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvseal/kvseal.h"
#include "testutil.h"

#define CHUNK 4096u

static char dir[] = "/tmp/kvs-sign-XXXXXX";
static kvs_provider *key;
static kvs_signer *signer;
static kvs_signer_check *required, *required_other;

static void setup(void)
{
    char path[4096];
    kvs_error err = {0};
    signal(SIGPIPE, SIG_IGN);
    kvs_test_mkdtemp(dir);
    key = kvs_test_key("rsa2048-a");
    ck_assert_int_eq(kvs_local_signer_new(kvs_test_key_path("ec-p256.pem", path, sizeof path), NULL,
                                          &signer, &err), KVS_OK);
    ck_assert_int_eq(kvs_signer_check_pem(kvs_test_key_path("ec-p256.pub.pem", path, sizeof path),
                                          &required, &err), KVS_OK);
    ck_assert_int_eq(kvs_signer_check_pem(kvs_test_key_path("ec-p256-b.pub.pem", path, sizeof path),
                                          &required_other, &err), KVS_OK);
}

static void teardown(void)
{
    kvs_signer_check_free(required_other);
    kvs_signer_check_free(required);
    kvs_signer_free(signer);
    kvs_provider_free(key);
    kvs_test_rmtree(dir);
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 131u + (i >> 12));
    return p;
}

static kvs_encrypt_options enc_opts(kvs_signer *s)
{
    kvs_encrypt_options o = {0};
    o.chunk_size = CHUNK;
    o.signer = s;
    return o;
}

/* A signed file of n plaintext bytes in memory. */
static uint8_t *seal_mem(const uint8_t *pt, size_t n, kvs_signer *s, size_t *len)
{
    kvs_encrypt_options o = enc_opts(s);
    size_t cap = kvs_encrypt_mem_bound(n, CHUNK);
    uint8_t *out = malloc(cap);
    kvs_error err = {0};
    ck_assert_msg(kvs_encrypt_mem(pt, n, out, cap, len, &o, &key, 1, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    return out;
}

static kvs_status open_mem(const uint8_t *file, size_t len, const kvs_signer_check *req,
                           uint8_t **pt, size_t *pt_len, kvs_error *err)
{
    kvs_decrypt_options o = {0};
    o.require_signer = req;
    *pt = calloc(1, len ? len : 1); /* so a wiped output reads as zeros throughout */
    return kvs_decrypt_mem(file, len, *pt, len, pt_len, &o, &key, 1, NULL, err);
}

static const size_t sizes[] = {0, 1, CHUNK, 15 * CHUNK, 16 * CHUNK, 16 * CHUNK + 1, 17 * CHUNK,
                               40 * CHUNK + 5};

START_TEST(mem_round_trip_every_size)
{
    size_t n = sizes[_i];
    uint8_t *pt = pattern(n), *back = NULL;
    size_t len = 0, back_len = 0;
    uint8_t *file = seal_mem(pt, n, signer, &len);
    uint64_t chunks = n == 0 ? 1 : (n + CHUNK - 1) / CHUNK;
    uint64_t m = (chunks + 15) / 16;
    /* header + chunks + trailer (roots, commit, 64-byte ES256 signature, 10) */
    ck_assert_uint_eq(len % 1, 0);
    ck_assert_mem_eq(file + len - 4, "KVSS", 4);
    ck_assert_uint_eq(file[len - 6], 0);
    ck_assert_uint_eq(file[len - 5], 64);
    ck_assert_uint_eq(((uint32_t)file[len - 10] << 24) | ((uint32_t)file[len - 9] << 16) |
                          ((uint32_t)file[len - 8] << 8) | file[len - 7],
                      m);
    kvs_error err = {0};
    ck_assert_msg(open_mem(file, len, required, &back, &back_len, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    ck_assert_uint_eq(back_len, n);
    if (n) ck_assert_mem_eq(back, pt, n);
    free(back);
    /* without a required signer: the trailer's form only */
    ck_assert_int_eq(open_mem(file, len, NULL, &back, &back_len, &err), KVS_OK);
    ck_assert_uint_eq(back_len, n);
    free(back);
    free(file);
    free(pt);
}
END_TEST

START_TEST(unsigned_or_other_signer_refused)
{
    uint8_t *pt = pattern(3 * CHUNK), *back = NULL;
    size_t len = 0, back_len = 99;
    kvs_error err = {0};
    uint8_t *plain_file = seal_mem(pt, 3 * CHUNK, NULL, &len);
    ck_assert_int_eq(open_mem(plain_file, len, required, &back, &back_len, &err), KVS_ERR_SIGNER);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), "not signed"));
    ck_assert_uint_eq(back_len, 0);
    free(back);
    free(plain_file);
    uint8_t *file = seal_mem(pt, 3 * CHUNK, signer, &len);
    ck_assert_int_eq(open_mem(file, len, required_other, &back, &back_len, &err), KVS_ERR_SIGNER);
    ck_assert_ptr_nonnull(strstr(kvs_error_message(&err), kvs_signer_id(signer)));
    free(back);
    free(file);
    free(pt);
}
END_TEST

/* One flipped byte at off: refused with a required signer, and no
 * plaintext survives in the output buffer. */
static kvs_status flipped(const uint8_t *file, size_t len, size_t off, const kvs_signer_check *req,
                          kvs_error *err)
{
    uint8_t *copy = malloc(len), *back = NULL;
    size_t back_len = 7;
    memcpy(copy, file, len);
    copy[off] ^= 0x01;
    kvs_status st = open_mem(copy, len, req, &back, &back_len, err);
    if (st != KVS_OK) {
        ck_assert_uint_eq(back_len, 0);
        for (size_t i = 0; i < len; i++) ck_assert_uint_eq(back[i], 0);
    }
    free(back);
    free(copy);
    return st;
}

START_TEST(tampering_refused)
{
    size_t n = 40 * CHUNK + 5, len = 0;
    uint8_t *pt = pattern(n);
    uint8_t *file = seal_mem(pt, n, signer, &len);
    size_t trailer = 3 * 32 + 32 + 64 + 10, payload_end = len - trailer;
    kvs_error err = {0};
    ck_assert_int_eq(flipped(file, len, payload_end - 100, required, &err), KVS_ERR_AUTH); /* a chunk */
    ck_assert_int_eq(flipped(file, len, payload_end + 40, required, &err), KVS_ERR_AUTH);  /* root 1 */
    ck_assert_int_eq(flipped(file, len, payload_end + 96 + 3, required, &err), KVS_ERR_AUTH); /* commit */
    ck_assert_int_eq(flipped(file, len, payload_end + 128 + 7, required, &err), KVS_ERR_AUTH); /* sig */
    ck_assert_int_ne(flipped(file, len, len - 1, required, &err), KVS_OK);  /* end_magic */
    ck_assert_int_ne(flipped(file, len, len - 7, required, &err), KVS_OK);  /* m */
    ck_assert_int_ne(flipped(file, len, len - 5, required, &err), KVS_OK);  /* sig_len */
    /* without a required signer a root is not checked, the commitment is */
    ck_assert_int_eq(flipped(file, len, payload_end + 40, NULL, &err), KVS_OK);
    ck_assert_int_eq(flipped(file, len, payload_end + 96 + 3, NULL, &err), KVS_ERR_AUTH);
    /* truncated inside the trailer, and extended */
    uint8_t *back = NULL;
    size_t back_len = 0;
    ck_assert_int_ne(open_mem(file, len - 1, required, &back, &back_len, &err), KVS_OK);
    free(back);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, file, len);
    longer[len] = 0;
    ck_assert_int_ne(open_mem(longer, len + 1, required, &back, &back_len, &err), KVS_OK);
    free(back);
    free(longer);
    free(file);
    free(pt);
}
END_TEST

/* ---- fds: files and pipes in every combination ---------------------------- */

typedef struct pump {
    int from, to;
} pump;

static void *pump_main(void *arg)
{
    pump *p = arg;
    uint8_t buf[5000];
    ssize_t r;
    while ((r = read(p->from, buf, sizeof buf)) > 0)
        if (write(p->to, buf, (size_t)r) != r) break;
    close(p->from);
    close(p->to);
    return NULL;
}

/* An fd reading the file at path: the file itself, or a pipe fed from it. */
static int open_input(const char *path, int as_pipe, pthread_t *t, pump *p)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    if (!as_pipe) return fd;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    *p = (pump){fd, fds[1]};
    pthread_create(t, NULL, pump_main, p);
    return fds[0];
}

/* An fd writing to path: the file itself, or a pipe drained into it. */
static int open_output(const char *path, int as_pipe, pthread_t *t, pump *p)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    if (!as_pipe) return fd;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    *p = (pump){fds[0], fd};
    pthread_create(t, NULL, pump_main, p);
    return fds[1];
}

static kvs_status run_fd(int sealing, const char *in_path, int in_pipe, const char *out_path,
                         int out_pipe, const kvs_signer_check *req, kvs_error *err)
{
    pthread_t ti, to;
    pump pi, po;
    int in = open_input(in_path, in_pipe, &ti, &pi);
    int out = open_output(out_path, out_pipe, &to, &po);
    kvs_status st;
    if (sealing) {
        kvs_encrypt_options o = enc_opts(signer);
        o.threads = 2;
        st = kvs_encrypt_fd(in, out, &o, &key, 1, err);
    } else {
        kvs_decrypt_options o = {0};
        o.require_signer = req;
        o.threads = 2;
        st = kvs_decrypt_fd(in, out, &o, &key, 1, NULL, err);
    }
    close(in);
    close(out);
    if (in_pipe) pthread_join(ti, NULL);
    if (out_pipe) pthread_join(to, NULL);
    return st;
}

static void check_file(const char *path, const uint8_t *want, size_t n)
{
    size_t got = 0;
    uint8_t *b = kvs_test_read_file(path, &got);
    ck_assert_uint_eq(got, n);
    if (n) ck_assert_mem_eq(b, want, n);
    free(b);
}

/* _i: bit 0 input pipe, bit 1 output pipe, for both encryption and
 * decryption (a required signer from pipe to pipe is refused). */
START_TEST(fd_modes)
{
    size_t n = 33 * CHUNK + 77;
    uint8_t *pt = pattern(n);
    const char *plain = kvs_test_path(dir, "plain"), *sealed = kvs_test_path(dir, "sealed"),
               *back = kvs_test_path(dir, "back");
    kvs_test_write_file(plain, pt, n);
    kvs_error err = {0};
    int in_pipe = _i & 1, out_pipe = (_i >> 1) & 1;
    ck_assert_msg(run_fd(1, plain, in_pipe, sealed, out_pipe, NULL, &err) == KVS_OK, "%s",
                  kvs_error_message(&err));
    /* every way of sealing reads back the same way */
    ck_assert_msg(run_fd(0, sealed, 0, back, 0, required, &err) == KVS_OK, "%s", kvs_error_message(&err));
    check_file(back, pt, n);
    kvs_status st = run_fd(0, sealed, in_pipe, back, out_pipe, required, &err);
    if (in_pipe && out_pipe) {
        ck_assert_int_eq(st, KVS_ERR_USAGE);
        ck_assert_int_eq(run_fd(0, sealed, 1, back, 1, NULL, &err), KVS_OK); /* no signer: fine */
    } else {
        ck_assert_msg(st == KVS_OK, "%s", kvs_error_message(&err));
    }
    check_file(back, pt, n);
    free(pt);
}
END_TEST

/* A damaged chunk in the last segment: nothing of that segment is kept,
 * whichever way the input comes (a stream keeps nothing at all). */
START_TEST(fd_damage_keeps_only_verified)
{
    size_t n = 40 * CHUNK;
    uint8_t *pt = pattern(n);
    const char *plain = kvs_test_path(dir, "plain"), *sealed = kvs_test_path(dir, "sealed"),
               *back = kvs_test_path(dir, "back");
    kvs_test_write_file(plain, pt, n);
    kvs_error err = {0};
    ck_assert_int_eq(run_fd(1, plain, 0, sealed, 0, NULL, &err), KVS_OK);
    size_t len = 0;
    uint8_t *file = kvs_test_read_file(sealed, &len);
    size_t trailer = 3 * 32 + 32 + 64 + 10;
    file[len - trailer - 50] ^= 1; /* chunk 39, segment 2 */
    kvs_test_write_file(sealed, file, len);
    int in_pipe = _i;
    ck_assert_int_eq(run_fd(0, sealed, in_pipe, back, 0, required, &err), KVS_ERR_AUTH);
    size_t kept = 0;
    free(kvs_test_read_file(back, &kept));
    ck_assert_uint_le(kept, in_pipe ? 0 : 32 * CHUNK);
    free(file);
    free(pt);
}
END_TEST

START_TEST(range_and_keyless_verify)
{
    size_t n = 50 * CHUNK + 123;
    uint8_t *pt = pattern(n);
    const char *plain = kvs_test_path(dir, "plain"), *sealed = kvs_test_path(dir, "sealed"),
               *back = kvs_test_path(dir, "back");
    kvs_test_write_file(plain, pt, n);
    kvs_error err = {0};
    ck_assert_int_eq(run_fd(1, plain, 0, sealed, 0, NULL, &err), KVS_OK);
    const uint64_t offs[][2] = {{0, 10},           {16 * CHUNK - 1, 2}, {16 * CHUNK, CHUNK},
                                {32 * CHUNK + 5, 20 * CHUNK}, {n - 1, 1}, {3, n}};
    int in = open(sealed, O_RDONLY);
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        int out = open(back, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        kvs_decrypt_options o = {0};
        o.require_signer = required;
        ck_assert_msg(kvs_decrypt_range_fd(in, offs[k][0], offs[k][1], out, &o, &key, 1, &err) == KVS_OK,
                      "%s", kvs_error_message(&err));
        close(out);
        uint64_t end = offs[k][0] + offs[k][1] > n ? n : offs[k][0] + offs[k][1];
        check_file(back, pt + offs[k][0], (size_t)(end - offs[k][0]));
    }
    kvs_header *h = NULL;
    ck_assert_msg(kvs_verify_signer_fd(in, required, &h, &err) == KVS_OK, "%s", kvs_error_message(&err));
    ck_assert_str_eq(h->signer.id, kvs_signer_id(signer));
    kvs_header_free(h);
    ck_assert_int_eq(kvs_verify_signer_fd(in, required_other, NULL, &err), KVS_ERR_SIGNER);
    kvs_signature_info info;
    ck_assert_int_eq(kvs_signature_info_fd(in, &info, &err), KVS_OK);
    ck_assert_int_eq(info.signed_file, 1);
    ck_assert_uint_eq(info.chunks, 51);
    ck_assert_uint_eq(info.segments, 4);
    ck_assert_uint_eq(info.plaintext_size, n);
    ck_assert_str_eq(info.alg, "ES256");
    close(in);
    /* one stored byte in segment 1 flipped: the key-less check and a range
     * in that segment fail, a range in segment 0 still works */
    size_t len = 0;
    uint8_t *file = kvs_test_read_file(sealed, &len);
    size_t payload_offset = len - (4 * 32 + 32 + 64 + 10) - (50 * (CHUNK + 16) + 123 + 16);
    file[payload_offset + 20 * (CHUNK + 16) + 9] ^= 0x80;
    kvs_test_write_file(sealed, file, len);
    in = open(sealed, O_RDONLY);
    ck_assert_int_eq(kvs_verify_signer_fd(in, required, NULL, &err), KVS_ERR_AUTH);
    int out = open(back, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    kvs_decrypt_options o = {0};
    o.require_signer = required;
    ck_assert_int_eq(kvs_decrypt_range_fd(in, 17 * CHUNK, 10, out, &o, &key, 1, &err), KVS_ERR_AUTH);
    struct stat sb;
    ck_assert_int_eq(fstat(out, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0); /* nothing of the failed segment */
    ck_assert_int_eq(kvs_decrypt_range_fd(in, 5, 10, out, &o, &key, 1, &err), KVS_OK);
    close(out);
    close(in);
    free(file);
    free(pt);
}
END_TEST

/* Far more chunks than the roots' window (512), more workers than cores:
 * a worker that stalls must not let the others run past the window. */
START_TEST(many_chunks_many_threads)
{
    size_t n = 1500 * (size_t)CHUNK + 9, len = 0, back_len = 0;
    uint8_t *pt = pattern(n), *back = NULL;
    kvs_encrypt_options o = enc_opts(signer);
    o.threads = 8;
    size_t cap = kvs_encrypt_mem_bound(n, CHUNK);
    uint8_t *file = malloc(cap);
    kvs_error err = {0};
    for (int round = 0; round < 3; round++) {
        ck_assert_msg(kvs_encrypt_mem(pt, n, file, cap, &len, &o, &key, 1, &err) == KVS_OK, "%s",
                      kvs_error_message(&err));
        kvs_decrypt_options d = {0};
        d.require_signer = required;
        d.threads = 8;
        back = calloc(1, len);
        ck_assert_msg(kvs_decrypt_mem(file, len, back, len, &back_len, &d, &key, 1, NULL, &err) == KVS_OK,
                      "%s", kvs_error_message(&err));
        ck_assert_uint_eq(back_len, n);
        ck_assert_mem_eq(back, pt, n);
        free(back);
    }
    free(file);
    free(pt);
}
END_TEST

/* The push/pull API writes signed files and reads them (checking the
 * trailer's form and the commitment), in any split of the input; a
 * required signer it cannot honour is refused. */
START_TEST(push_pull_signed)
{
    size_t sz = sizes[_i], len = 0, ref_len = 0;
    uint8_t *pt = pattern(sz);
    kvs_encrypt_options o = enc_opts(signer);
    kvs_encryptor *e = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_encryptor_new(&o, &key, 1, &e, &err), KVS_OK);
    size_t cap = kvs_encrypt_mem_bound(sz, CHUNK);
    uint8_t *file = malloc(cap);
    size_t pos = 0, used = 0, w = 0;
    while (pos < sz) {
        size_t step = sz - pos < 1000 ? sz - pos : 1000;
        ck_assert_int_eq(kvs_encryptor_push(e, pt + pos, step, &used), KVS_OK);
        pos += used;
        do {
            ck_assert_int_eq(kvs_encryptor_pull(e, file + len, cap - len, &w), KVS_OK);
            len += w;
        } while (w);
    }
    ck_assert_int_eq(kvs_encryptor_finish(e), KVS_OK);
    do {
        ck_assert_int_eq(kvs_encryptor_pull(e, file + len, 333, &w), KVS_OK);
        len += w;
    } while (w);
    ck_assert(kvs_encryptor_done(e));
    kvs_encryptor_free(e);
    ck_assert_uint_eq(kvs_signer_signatures(signer) > 0, 1);
    /* what it wrote passes a required signer in the whole-file engine */
    uint8_t *ref = NULL;
    ck_assert_msg(open_mem(file, len, required, &ref, &ref_len, &err) == KVS_OK, "%s", kvs_error_message(&err));
    ck_assert_uint_eq(ref_len, sz);
    free(ref);
    /* and the push/pull decryptor reads it back, 777 bytes at a time */
    kvs_decryptor *d = NULL;
    ck_assert_int_eq(kvs_decryptor_new(NULL, &key, 1, &d, &err), KVS_OK);
    uint8_t *back = malloc(sz + CHUNK);
    size_t got = 0;
    for (pos = 0; pos < len;) {
        size_t step = len - pos < 777 ? len - pos : 777;
        ck_assert_msg(kvs_decryptor_push(d, file + pos, step, &used) == KVS_OK, "%s",
                      kvs_error_message(kvs_decryptor_error(d)));
        pos += used;
        do {
            ck_assert_int_eq(kvs_decryptor_pull(d, back + got, sz + CHUNK - got, &w), KVS_OK);
            got += w;
        } while (w);
    }
    ck_assert_int_eq(kvs_decryptor_finish(d), KVS_OK);
    do {
        ck_assert_msg(kvs_decryptor_pull(d, back + got, sz + CHUNK - got, &w) == KVS_OK, "%s",
                      kvs_error_message(kvs_decryptor_error(d)));
        got += w;
    } while (w);
    ck_assert(kvs_decryptor_done(d));
    ck_assert_uint_eq(got, sz);
    if (sz) ck_assert_mem_eq(back, pt, sz);
    kvs_decryptor_free(d);
    /* a flipped commitment byte is refused at the end, before the final chunk */
    file[len - 10 - 64 - 5] ^= 1;
    ck_assert_int_eq(kvs_decryptor_new(NULL, &key, 1, &d, &err), KVS_OK);
    kvs_status st = kvs_decryptor_push(d, file, len, &used);
    size_t sink = 0;
    while (st == KVS_OK && used < len) {
        do st = kvs_decryptor_pull(d, back, sz + CHUNK, &w); while (st == KVS_OK && w);
        size_t more = 0;
        if (st == KVS_OK) st = kvs_decryptor_push(d, file + used, len - used, &more);
        used += more;
    }
    if (st == KVS_OK) st = kvs_decryptor_finish(d);
    while (st == KVS_OK && !kvs_decryptor_done(d)) {
        st = kvs_decryptor_pull(d, back, sz + CHUNK, &w);
        sink += w;
        if (st == KVS_OK && w == 0) break;
    }
    ck_assert_int_eq(st, KVS_ERR_AUTH);
    kvs_decryptor_free(d);
    free(back);
    free(file);
    free(pt);
}
END_TEST

START_TEST(push_pull_refuses_required_signer)
{
    kvs_error err = {0};
    kvs_decrypt_options d = {0};
    d.require_signer = required;
    kvs_decryptor *dec = NULL;
    ck_assert_int_eq(kvs_decryptor_new(&d, &key, 1, &dec, &err), KVS_ERR_USAGE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sign_engine");
    TCase *t = tcase_create("all");
    tcase_add_unchecked_fixture(t, setup, teardown); /* once: valgrind runs without fork */
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, mem_round_trip_every_size, 0, (int)(sizeof sizes / sizeof sizes[0]));
    tcase_add_test(t, unsigned_or_other_signer_refused);
    tcase_add_test(t, tampering_refused);
    tcase_add_loop_test(t, fd_modes, 0, 4);
    tcase_add_loop_test(t, fd_damage_keeps_only_verified, 0, 2);
    tcase_add_test(t, range_and_keyless_verify);
    tcase_add_test(t, many_chunks_many_threads);
    tcase_add_loop_test(t, push_pull_signed, 0, (int)(sizeof sizes / sizeof sizes[0]));
    tcase_add_test(t, push_pull_refuses_required_signer);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(suite());
}
