/* The parallel engine over fds and over memory: agreement with the push/pull
 * stream and with each other, every thread count, pipes and files, and
 * refusal of damage without releasing it. */
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

static char dir[] = "/tmp/kvs-pipe-XXXXXX";
static kvs_provider *key;

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* a failed decrypt stops reading: the feeder sees EPIPE */
    kvs_test_mkdtemp(dir);
    key = kvs_test_key("rsa2048-a");
}

static void teardown(void)
{
    kvs_provider_free(key);
    kvs_test_rmtree(dir);
}

static char *path_of(const char *name)
{
    return kvs_test_path(dir, name);
}

/* Feeds a buffer into a pipe from a thread, so the engine reads a pipe. */
typedef struct feeder {
    int fd;
    const uint8_t *data;
    size_t n;
} feeder;

static void *feed_main(void *arg)
{
    feeder *f = arg;
    size_t off = 0;
    while (off < f->n) {
        ssize_t w = write(f->fd, f->data + off, f->n - off > 7777 ? 7777 : f->n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

/* Drains a pipe into a file from a thread. */
typedef struct drainer {
    int fd;
    const char *path;
} drainer;

static void *drain_main(void *arg)
{
    drainer *d = arg;
    int out = open(d->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    uint8_t buf[65536];
    ssize_t r;
    while ((r = read(d->fd, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r) break;
    close(out);
    close(d->fd);
    return NULL;
}

typedef kvs_status (*run_fn)(int in, int out, unsigned threads, kvs_error *err);

static kvs_status enc_run(int in, int out, unsigned threads, kvs_error *err)
{
    kvs_encrypt_options o = {4096, NULL, 0, 0, threads};
    return kvs_encrypt_fd(in, out, &o, &key, 1, err);
}

static kvs_status dec_run(int in, int out, unsigned threads, kvs_error *err)
{
    kvs_decrypt_options o = {NULL, 0, threads};
    return kvs_decrypt_fd(in, out, &o, &key, 1, NULL, err);
}

/* Run fn from in_path (file, or piped when pipe_in) to out_path (file, or
 * piped when pipe_out). */
static kvs_status run_io(run_fn fn, const char *in_path, const char *out_path, int pipe_in,
                         int pipe_out, unsigned threads, kvs_error *err)
{
    size_t n = 0;
    uint8_t *data = NULL;
    int in, out, pin[2], pout[2];
    pthread_t tf, td;
    feeder f;
    drainer d;
    if (pipe_in) {
        data = kvs_test_read_file(in_path, &n);
        ck_assert_int_eq(pipe(pin), 0);
        f = (feeder){pin[1], data, n};
        pthread_create(&tf, NULL, feed_main, &f);
        in = pin[0];
    } else {
        in = open(in_path, O_RDONLY);
    }
    if (pipe_out) {
        ck_assert_int_eq(pipe(pout), 0);
        d = (drainer){pout[0], out_path};
        pthread_create(&td, NULL, drain_main, &d);
        out = pout[1];
    } else {
        out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    kvs_status st = fn(in, out, threads, err);
    close(in);
    close(out);
    if (pipe_in) pthread_join(tf, NULL);
    if (pipe_out) pthread_join(td, NULL);
    free(data);
    return st;
}

static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 10 * 4096, 10 * 4096 + 1, 300000};

START_TEST(roundtrip_every_mode)
{
    size_t n = sizes[_i];
    uint8_t *pt = malloc(n + 1);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 13 + _i);
    kvs_test_write_file(path_of("p"), pt, n);
    for (unsigned threads = 1; threads <= 4; threads++) {
        for (int mode = 0; mode < 4; mode++) {
            kvs_error err = {0};
            int pipe_in = mode & 1, pipe_out = (mode >> 1) & 1;
            ck_assert_int_eq(run_io(enc_run, path_of("p"), path_of("c"), pipe_in, pipe_out, threads, &err), KVS_OK);
            ck_assert_int_eq(run_io(dec_run, path_of("c"), path_of("p2"), pipe_out, pipe_in, 5 - threads, &err), KVS_OK);
            size_t m = 0;
            uint8_t *back = kvs_test_read_file(path_of("p2"), &m);
            ck_assert_uint_eq(m, n);
            if (n) ck_assert_mem_eq(back, pt, n);
            free(back);
            /* the push/pull decryptor reads what the engine wrote */
            kvs_decryptor *dec = NULL;
            size_t cn = 0, used = 0, got = 0, total = 0;
            uint8_t *ct = kvs_test_read_file(path_of("c"), &cn), tmp[8192];
            ck_assert_int_eq(kvs_decryptor_new(NULL, &key, 1, &dec, &err), KVS_OK);
            for (size_t off = 0; off < cn; off += used) {
                ck_assert_int_eq(kvs_decryptor_push(dec, ct + off, cn - off, &used), KVS_OK);
                while (kvs_decryptor_pull(dec, tmp, sizeof tmp, &got) == KVS_OK && got) total += got;
            }
            ck_assert_int_eq(kvs_decryptor_finish(dec), KVS_OK);
            while (kvs_decryptor_pull(dec, tmp, sizeof tmp, &got) == KVS_OK && got) total += got;
            ck_assert(kvs_decryptor_done(dec));
            ck_assert_uint_eq(total, n);
            kvs_decryptor_free(dec);
            free(ct);
        }
    }
    free(pt);
}
END_TEST

/* kvs_encrypt_mem and kvs_decrypt_mem against the fd engine, both ways. */
START_TEST(memory_roundtrip_and_fd_agreement)
{
    size_t n = sizes[_i], m = 0, cn = 0;
    uint8_t *pt = malloc(n + 1);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 7 + _i);
    kvs_test_write_file(path_of("p"), pt, n);
    size_t cap = kvs_encrypt_mem_bound(n, 4096);
    uint8_t *ct = malloc(cap), *back = malloc(cap);
    for (unsigned threads = 1; threads <= 4; threads++) {
        kvs_error err = {0};
        kvs_encrypt_options eo = {4096, NULL, 0, 0, threads};
        kvs_decrypt_options dopt = {NULL, 0, threads};
        ck_assert_int_eq(kvs_encrypt_mem(pt, n, ct, cap, &cn, &eo, &key, 1, &err), KVS_OK);
        ck_assert_uint_le(cn, cap);
        kvs_test_write_file(path_of("c"), ct, cn);
        /* the fd engine reads what the memory engine wrote */
        ck_assert_int_eq(run_io(dec_run, path_of("c"), path_of("p2"), 0, 0, threads, &err), KVS_OK);
        uint8_t *fd_back = kvs_test_read_file(path_of("p2"), &m);
        ck_assert_uint_eq(m, n);
        if (n) ck_assert_mem_eq(fd_back, pt, n);
        free(fd_back);
        /* and the memory engine reads what the fd engine wrote, file for file */
        ck_assert_int_eq(run_io(enc_run, path_of("p"), path_of("c"), 0, 0, threads, &err), KVS_OK);
        uint8_t *fd_ct = kvs_test_read_file(path_of("c"), &cn);
        kvs_header *h = NULL;
        ck_assert_int_eq(kvs_decrypt_mem(fd_ct, cn, back, n, &m, &dopt, &key, 1, &h, &err), KVS_OK);
        ck_assert_uint_eq(m, n);
        if (n) ck_assert_mem_eq(back, pt, n);
        ck_assert_ptr_nonnull(h);
        ck_assert_uint_eq(h->chunk_size, 4096);
        kvs_header_free(h);
        /* an output buffer one byte short is refused with the size needed */
        if (n) {
            ck_assert_int_eq(kvs_decrypt_mem(fd_ct, cn, back, n - 1, &m, &dopt, &key, 1, NULL, &err),
                             KVS_ERR_USAGE);
            ck_assert_ptr_nonnull(strstr(err.detail, "too small"));
        }
        ck_assert_int_eq(kvs_encrypt_mem(pt, n, ct, cn - 1, &m, &eo, &key, 1, &err), KVS_ERR_USAGE);
        ck_assert_uint_eq(m, 0);
        free(fd_ct);
    }
    free(back);
    free(ct);
    free(pt);
}
END_TEST

START_TEST(memory_bad_arguments)
{
    kvs_error err = {0};
    uint8_t buf[64];
    size_t m = 9;
    ck_assert_int_eq(kvs_encrypt_mem(NULL, 5, buf, sizeof buf, &m, NULL, &key, 1, &err), KVS_ERR_USAGE);
    ck_assert_int_eq(kvs_decrypt_mem(buf, sizeof buf, NULL, 0, &m, NULL, &key, 1, NULL, &err),
                     KVS_ERR_USAGE);
    ck_assert_uint_eq(m, 0);
    ck_assert_uint_eq(kvs_encrypt_mem_bound(SIZE_MAX - 10, 0), SIZE_MAX);
    /* a prefix cut short: not kvseal, or truncated once the magic matched */
    ck_assert_int_eq(kvs_decrypt_mem("KVSEAL", 3, buf, sizeof buf, &m, NULL, &key, 1, NULL, &err),
                     KVS_ERR_NOT_KVSEAL);
}
END_TEST

/* Run fn with fd 0 replaced by a regular file opened with flags, so a write
 * to fd 0 (or a read from it) shows in that file; fd 0 is restored after. */
static kvs_status with_fd0(const char *path, int flags, kvs_status (*fn)(void *), void *arg)
{
    int saved = dup(0);
    int f = open(path, flags, 0600);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(f, 0);
    ck_assert_int_eq(dup2(f, 0), 0);
    close(f);
    kvs_status st = fn(arg);
    ck_assert_int_eq(dup2(saved, 0), 0);
    close(saved);
    return st;
}

typedef struct mem_job {
    const void *in;
    size_t in_len;
    uint8_t *out;
    size_t cap, out_len;
    kvs_error err;
} mem_job;

static kvs_status encrypt_mem_job(void *arg)
{
    mem_job *j = arg;
    kvs_encrypt_options eo = {4096, NULL, 0, 0, 2};
    return kvs_encrypt_mem(j->in, j->in_len, j->out, j->cap, &j->out_len, &eo, &key, 1, &j->err);
}

static off_t size_of(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return sb.st_size;
}

/* An empty buffer, even a NULL one, is a valid input: one empty final chunk,
 * and not a reason to write to fd 0 (it once wrote the chunk's tag there). */
START_TEST(memory_empty_input_is_one_empty_final_chunk)
{
    size_t cap = kvs_encrypt_mem_bound(0, 4096), m = 9, plain_n = 0;
    mem_job j = {NULL, 0, malloc(cap), cap, 0, {0}};
    kvs_status st = with_fd0(path_of("fd0"), O_RDWR | O_CREAT | O_TRUNC, encrypt_mem_job, &j);
    ck_assert_msg(st == KVS_OK, "status %d: %s", st, j.err.detail);
    ck_assert_int_eq(size_of(path_of("fd0")), 0);
    /* header, then exactly one chunk: its 16-byte tag */
    kvs_header *h = NULL;
    kvs_error err = {0};
    uint8_t out[16];
    ck_assert_int_eq(kvs_decrypt_mem(j.out, j.out_len, out, sizeof out, &m, NULL, &key, 1, &h, &err),
                     KVS_OK);
    ck_assert_uint_eq(m, 0);
    ck_assert_uint_eq(j.out_len, kvs_header_payload_offset(h) + 16);
    kvs_header_free(h);
    ck_assert_int_eq(kvs_decrypt_mem(j.out, j.out_len, out, 0, &m, NULL, &key, 1, NULL, &err), KVS_OK);
    ck_assert_uint_eq(m, 0);
    /* the fd engine and the push/pull decryptor agree */
    kvs_test_write_file(path_of("c"), j.out, j.out_len);
    ck_assert_int_eq(run_io(dec_run, path_of("c"), path_of("p2"), 0, 0, 2, &err), KVS_OK);
    free(kvs_test_read_file(path_of("p2"), &plain_n));
    ck_assert_uint_eq(plain_n, 0);
    /* an empty file is not a kvseal file, however it is given */
    ck_assert_int_eq(kvs_decrypt_mem(NULL, 0, out, sizeof out, &m, NULL, &key, 1, NULL, &err),
                     KVS_ERR_NOT_KVSEAL);
    ck_assert_int_eq(kvs_decrypt_mem(j.out, 0, out, sizeof out, &m, NULL, &key, 1, NULL, &err),
                     KVS_ERR_NOT_KVSEAL);
    free(j.out);
}
END_TEST

typedef struct fd_job {
    int other;   /* the descriptor that is not fd 0 */
    int decrypt; /* 0: encrypt fd 0 to other; 1: decrypt other to fd 0 */
    kvs_error err;
} fd_job;

static kvs_status fd0_job(void *arg)
{
    fd_job *j = arg;
    return j->decrypt ? dec_run(j->other, 0, 2, &j->err) : enc_run(0, j->other, 2, &j->err);
}

/* fd 0 is an ordinary descriptor for the fd engine: an input read from it, an
 * output written to it, in both the worker and the ring modes. */
START_TEST(fd_zero_is_a_real_descriptor)
{
    size_t n = 3 * 4096 + 5, m = 0;
    uint8_t *pt = malloc(n);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 3);
    kvs_test_write_file(path_of("p"), pt, n);
    for (int pipe_other = 0; pipe_other <= 1; pipe_other++) {
        fd_job e = {open(path_of("c"), O_WRONLY | O_CREAT | O_TRUNC, 0600), 0, {0}};
        ck_assert_int_eq(with_fd0(path_of("p"), O_RDONLY, fd0_job, &e), KVS_OK);
        close(e.other);
        fd_job d = {open(path_of("c"), O_RDONLY), 1, {0}};
        int pin[2];
        pthread_t tf;
        feeder f;
        uint8_t *ct = NULL;
        if (pipe_other) { /* the ring reads a pipe and writes fd 0 in order */
            close(d.other);
            ct = kvs_test_read_file(path_of("c"), &m);
            ck_assert_int_eq(pipe(pin), 0);
            f = (feeder){pin[1], ct, m};
            pthread_create(&tf, NULL, feed_main, &f);
            d.other = pin[0];
        }
        kvs_status st = with_fd0(path_of("p2"), O_WRONLY | O_CREAT | O_TRUNC, fd0_job, &d);
        ck_assert_msg(st == KVS_OK, "status %d: %s", st, d.err.detail);
        close(d.other);
        if (pipe_other) pthread_join(tf, NULL);
        free(ct);
        uint8_t *back = kvs_test_read_file(path_of("p2"), &m);
        ck_assert_uint_eq(m, n);
        ck_assert_mem_eq(back, pt, n);
        free(back);
    }
    free(pt);
}
END_TEST

static void make_ciphertext(size_t n)
{
    uint8_t *pt = malloc(n);
    kvs_error err = {0};
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)i;
    kvs_test_write_file(path_of("p"), pt, n);
    free(pt);
    ck_assert_int_eq(run_io(enc_run, path_of("p"), path_of("c"), 0, 0, 2, &err), KVS_OK);
}

START_TEST(damaged_chunk_stops_pipe_output_before_it)
{
    size_t n = 40 * 4096, cn = 0;
    make_ciphertext(n);
    uint8_t *ct = kvs_test_read_file(path_of("c"), &cn);
    size_t payload = cn - (n + 40 * 16);
    ct[payload + 20 * (4096 + 16) + 5] ^= 1; /* chunk 20 */
    kvs_test_write_file(path_of("bad"), ct, cn);
    for (unsigned threads = 1; threads <= 4; threads++) {
        kvs_error err = {0};
        ck_assert_int_eq(run_io(dec_run, path_of("bad"), path_of("out"), 0, 1, threads, &err), KVS_ERR_AUTH);
        ck_assert_ptr_nonnull(strstr(err.detail, "chunk 20"));
        size_t m = 0;
        uint8_t *out = kvs_test_read_file(path_of("out"), &m);
        ck_assert_uint_le(m, 20 * 4096); /* never chunk 20 or later through a pipe */
        free(out);
    }
    free(ct);
}
END_TEST

/* A file output cut short by a damaged chunk holds exactly the chunks before
 * it, verified, whether the input was read by the workers (file) or by the
 * ring's reader (pipe): nothing past the damage, no hole. */
START_TEST(damaged_chunk_leaves_file_output_a_verified_prefix)
{
    size_t n = 40 * 4096, cn = 0, m = 0;
    make_ciphertext(n);
    uint8_t *pt = kvs_test_read_file(path_of("p"), &m);
    uint8_t *ct = kvs_test_read_file(path_of("c"), &cn);
    size_t payload = cn - (n + 40 * 16);
    ct[payload + 20 * (4096 + 16) + 5] ^= 1; /* chunk 20 */
    kvs_test_write_file(path_of("bad"), ct, cn);
    for (unsigned threads = 1; threads <= 4; threads++) {
        for (int pipe_in = 0; pipe_in <= 1; pipe_in++) {
            kvs_error err = {0};
            ck_assert_int_eq(run_io(dec_run, path_of("bad"), path_of("out"), pipe_in, 0, threads, &err),
                             KVS_ERR_AUTH);
            ck_assert_ptr_nonnull(strstr(err.detail, "chunk 20"));
            uint8_t *out = kvs_test_read_file(path_of("out"), &m);
            ck_assert_uint_eq(m, 20 * 4096);
            ck_assert_mem_eq(out, pt, m);
            free(out);
        }
    }
    free(pt);
    free(ct);
}
END_TEST

/* Decrypt data of length len, read by the workers and by the ring, to a
 * file and to a pipe, with 1 to 4 threads: every way must give the same
 * status. */
static void expect_decrypt(const uint8_t *data, size_t len, kvs_status want)
{
    kvs_test_write_file(path_of("t"), data, len);
    for (int mode = 0; mode < 4; mode++) {
        for (unsigned threads = 1; threads <= 4; threads++) {
            kvs_error err = {0};
            kvs_status st = run_io(dec_run, path_of("t"), path_of("out"), mode & 1, mode >> 1,
                                   threads, &err);
            ck_assert_msg(st == want, "mode %d, %u threads, %zu bytes: status %d (%s), want %d",
                          mode, threads, len, st, err.detail, want);
        }
    }
    /* memory: the same status, and the output left wiped */
    uint8_t *out = malloc(len + 1);
    for (unsigned threads = 1; threads <= 4; threads++) {
        kvs_error err = {0};
        kvs_decrypt_options o = {NULL, 0, threads};
        size_t got = 7;
        memset(out, 0xA5, len + 1);
        kvs_status st = kvs_decrypt_mem(data, len, out, len, &got, &o, &key, 1, NULL, &err);
        ck_assert_msg(st == want, "memory, %u threads, %zu bytes: status %d (%s), want %d", threads,
                      len, st, err.detail, want);
        ck_assert_uint_eq(got, 0);
        size_t kept = 0; /* one assertion: each one costs Check a pipe write */
        while (kept < len && (out[kept] == 0 || out[kept] == 0xA5)) kept++;
        ck_assert_msg(kept == len, "byte %zu of a failed output kept", kept);
    }
    free(out);
}

START_TEST(truncated_and_trailing)
{
    size_t n = 8 * 4096, cn = 0;
    make_ciphertext(n);
    uint8_t *ct = kvs_test_read_file(path_of("c"), &cn);
    uint8_t *longer = malloc(cn + 16);
    memcpy(longer, ct, cn);
    memcpy(longer + cn, "junk-junk-junk-j", 16);
    expect_decrypt(ct, cn - (4096 + 16), KVS_ERR_TRUNCATED);    /* final chunk dropped */
    expect_decrypt(ct, cn - (4096 + 16) + 5, KVS_ERR_TRUNCATED); /* shorter than a tag */
    expect_decrypt(ct, cn - 3, KVS_ERR_AUTH);
    expect_decrypt(longer, cn + 4, KVS_ERR_TRAILING_DATA);
    expect_decrypt(longer, cn + 16, KVS_ERR_TRAILING_DATA);
    expect_decrypt(ct, cn - 8 * (4096 + 16), KVS_ERR_TRUNCATED); /* header only */
    expect_decrypt(ct, 0, KVS_ERR_NOT_KVSEAL);
    expect_decrypt(ct, 20, KVS_ERR_TRUNCATED); /* inside the header */
    ct[cn - 3 * (4096 + 16)] ^= 1;             /* a middle chunk */
    expect_decrypt(ct, cn, KVS_ERR_AUTH);
    free(longer);
    free(ct);
}
END_TEST

/* A malformed last chunk is reported only after the chunks before it
 * opened; the worker that holds it waits for the others, which must wake it
 * (many chunks, so that it usually has to wait). */
START_TEST(short_final_chunk_after_many)
{
    size_t n = 512 * 4096, cn = 0;
    make_ciphertext(n);
    uint8_t *ct = kvs_test_read_file(path_of("c"), &cn);
    for (int round = 0; round < 5; round++)
        expect_decrypt(ct, cn - (4096 + 16) + 7, KVS_ERR_TRUNCATED);
    free(ct);
}
END_TEST

START_TEST(verify_only)
{
    size_t n = 5 * 4096 + 3, cn = 0;
    make_ciphertext(n);
    kvs_error err = {0};
    kvs_decrypt_options o = {NULL, 0, 2};
    int in = open(path_of("c"), O_RDONLY);
    kvs_header *h = NULL;
    ck_assert_int_eq(kvs_decrypt_fd(in, -1, &o, &key, 1, &h, &err), KVS_OK);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->chunk_size, 4096);
    kvs_header_free(h);
    close(in);
    uint8_t *ct = kvs_test_read_file(path_of("c"), &cn);
    ct[cn - 1] ^= 0x80;
    kvs_test_write_file(path_of("c"), ct, cn);
    in = open(path_of("c"), O_RDONLY);
    ck_assert_int_eq(kvs_decrypt_fd(in, -1, &o, &key, 1, NULL, &err), KVS_ERR_AUTH);
    close(in);
    free(ct);
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, roundtrip_every_mode, 0, (int)(sizeof sizes / sizeof sizes[0]));
    tcase_add_loop_test(tc, memory_roundtrip_and_fd_agreement, 0, (int)(sizeof sizes / sizeof sizes[0]));
    tcase_add_test(tc, memory_bad_arguments);
    tcase_add_test(tc, memory_empty_input_is_one_empty_final_chunk);
    tcase_add_test(tc, fd_zero_is_a_real_descriptor);
    tcase_add_test(tc, damaged_chunk_stops_pipe_output_before_it);
    tcase_add_test(tc, damaged_chunk_leaves_file_output_a_verified_prefix);
    tcase_add_test(tc, truncated_and_trailing);
    tcase_add_test(tc, short_final_chunk_after_many);
    tcase_add_test(tc, verify_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(pipeline_suite());
}
