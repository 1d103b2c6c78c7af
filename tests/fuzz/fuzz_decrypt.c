/* Fuzz target: decryption of whole files through the push/pull decryptor,
 * cross-checked against the fd engine and random-access decryption.
 *
 * Input: 4 control bytes, then the file.
 *   byte 0, bit 0: recompute the header tag with the DEK of the first stub
 *                  recipient (tests/fuzz/fuzz_common.c), so mutated headers
 *                  still reach the chunk path
 *           bits 1-2: how input is split across push calls
 *           bit 3: pull through a small buffer
 *           bit 4: require the context purpose=fuzz
 *           bit 5: also decrypt with kvs_decrypt_fd and, on success, a byte
 *                  range with kvs_decrypt_range_fd; all must agree
 *           bit 6: two worker threads for the fd engine
 *           bit 7: try the RSA test key before the stub
 *   byte 1: seed of the split sizes; bytes 2-3: seeds of the range
 * Keys: the stub (identity wrap: the seeds were made with it, so chunk
 * mutations are exercised after the header tag check) and the committed
 * RSA test key. Seeds: tests/fuzz/corpus/decrypt, made by fuzz_seedgen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"
#include "fuzz.h"
#include "kvseal/envelope.h"
#include "kvseal/stream.h"

#define CTL_LEN 4
#define OUT_MAX ((size_t)256 << 20) /* plaintext is never longer than the input */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t more)
{
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    FUZZ_CHECK(p != NULL);
    b->p = p;
    b->cap = cap;
}

/* Rewrite the stored header tag with the keys of the first stub recipient. */
static void fix_header_tag(uint8_t *file, size_t len)
{
    uint32_t hl = 0;
    kvs_header *h = NULL;
    kvs_error err;
    if (len < KVS_PREFIX_LEN || kvs_prefix_parse(file, &hl, &err) != KVS_OK) return;
    if (len < KVS_PREFIX_LEN + (size_t)hl + KVS_TAG_LEN) return;
    if (kvs_header_parse(file + KVS_PREFIX_LEN, hl, &h, &err) != KVS_OK) return;
    kvs_provider *stub = fuzz_stub_provider();
    for (size_t i = 0; i < h->n_recipients; i++) {
        const kvs_recipient *r = &h->recipients[i];
        if (!kvs_provider_matches(stub, r) || r->wrapped_len != KVS_DEK_LEN) continue;
        kvs_file_keys *k = kvs_file_keys_new();
        if (k && kvs_derive_file_keys(r->wrapped, h->salt, k) == KVS_OK)
            (void)kvs_header_tag(k, file, KVS_PREFIX_LEN + (size_t)hl,
                                 file + KVS_PREFIX_LEN + hl);
        kvs_file_keys_free(k);
        break;
    }
    kvs_header_free(h);
}

static size_t next_split(unsigned mode, uint32_t *rng, size_t left)
{
    size_t n;
    switch (mode) {
    case 0: n = left; break;
    case 1: n = 4093; break; /* prime, straddles every boundary */
    case 2: n = 16; break;
    default:
        *rng = *rng * 1103515245u + 12345u;
        n = 1 + (*rng >> 16) % 9000;
        break;
    }
    return n < left ? n : left;
}

static void drain(kvs_decryptor *d, buf *out, size_t cap, kvs_status *st, int *progress)
{
    for (;;) {
        size_t w = 0;
        buf_reserve(out, cap);
        *st = kvs_decryptor_pull(d, out->p + out->len, cap, &w);
        if (*st != KVS_OK || w == 0) return;
        FUZZ_CHECK(w <= cap);
        out->len += w;
        FUZZ_CHECK(out->len <= OUT_MAX);
        *progress = 1;
    }
}

/* Push/pull decryption; returns the status, output in *out. */
static kvs_status run_stream(const uint8_t *file, size_t len, uint8_t ctl, uint8_t seed,
                             const kvs_decrypt_options *opts, kvs_provider *const *keys,
                             size_t n_keys, buf *out)
{
    kvs_decryptor *d = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    kvs_status st = kvs_decryptor_new(opts, keys, n_keys, &d, &err);
    if (st != KVS_OK) return st;
    size_t cap = (ctl & 8) ? 61 : 1u << 20;
    uint32_t rng = seed;
    size_t pos = 0;
    while (st == KVS_OK && pos < len) {
        size_t n = next_split((ctl >> 1) & 3, &rng, len - pos), used = 0;
        int progress = 0;
        st = kvs_decryptor_push(d, file + pos, n, &used);
        FUZZ_CHECK(used <= n);
        if (used) progress = 1;
        pos += used;
        if (st == KVS_OK) drain(d, out, cap, &st, &progress);
        /* push and pull together must always move forward */
        FUZZ_CHECK(st != KVS_OK || progress);
    }
    if (st == KVS_OK) st = kvs_decryptor_finish(d);
    if (st == KVS_OK) {
        int progress = 0;
        drain(d, out, cap, &st, &progress);
        if (st == KVS_OK) FUZZ_CHECK(kvs_decryptor_done(d));
    }
    if (st == KVS_OK) {
        FUZZ_CHECK(kvs_decryptor_header(d) != NULL);
        FUZZ_CHECK(kvs_decryptor_recipient(d) >= 0);
    } else {
        const kvs_error *e = kvs_decryptor_error(d);
        FUZZ_CHECK(e->status != KVS_OK);
        FUZZ_CHECK(!kvs_decryptor_done(d));
        /* failed for good */
        size_t used = 0, w = 0;
        uint8_t b[16];
        FUZZ_CHECK(kvs_decryptor_push(d, file, len ? 1 : 0, &used) != KVS_OK || len == 0);
        FUZZ_CHECK(kvs_decryptor_pull(d, b, sizeof b, &w) != KVS_OK && w == 0);
    }
    kvs_decryptor_free(d);
    return st;
}

/* The fd engine and random access must agree with the stream. */
static void run_fd(const uint8_t *file, size_t len, const uint8_t *ctlb,
                   kvs_decrypt_options *opts, kvs_provider *const *keys, size_t n_keys,
                   kvs_status stream_st, const buf *stream_out)
{
    int in = fuzz_memfd(file, len), out = fuzz_memfd("", 0);
    kvs_error err;
    kvs_error_clear(&err);
    FUZZ_CHECK(in >= 0 && out >= 0);
    opts->threads = (ctlb[0] & 64) ? 2 : 1;
    kvs_header *h = NULL;
    kvs_status st = kvs_decrypt_fd(in, out, opts, keys, n_keys, &h, &err);
    if ((st == KVS_OK) != (stream_st == KVS_OK)) {
        fprintf(stderr, "fd engine: %d (%s), stream: %d\n", st, kvs_error_message(&err),
                stream_st);
        fuzz_fail(__FILE__, __LINE__, "fd engine and stream decryptor disagree");
    }
    if (st == KVS_OK) {
        uint8_t *got = NULL;
        size_t got_len = 0;
        FUZZ_CHECK(h != NULL);
        FUZZ_CHECK(fuzz_fd_contents(out, &got, &got_len) == 0);
        FUZZ_CHECK(got_len == stream_out->len);
        FUZZ_CHECK(got_len == 0 || memcmp(got, stream_out->p, got_len) == 0);
        free(got);

        /* A range inside the plaintext. */
        if (stream_out->len > 0) {
            uint64_t off = ((uint64_t)ctlb[2] * 2503u) % stream_out->len;
            uint64_t n = (uint64_t)ctlb[3] * 997u + 1u;
            int rout = fuzz_memfd("", 0);
            FUZZ_CHECK(rout >= 0);
            /* kvs_decrypt_range_fd reads the header from the current offset */
            FUZZ_CHECK(lseek(in, 0, SEEK_SET) == 0);
            st = kvs_decrypt_range_fd(in, off, n, rout, opts, keys, n_keys, &err);
            if (st != KVS_OK) fuzz_fail(__FILE__, __LINE__, kvs_error_message(&err));
            FUZZ_CHECK(fuzz_fd_contents(rout, &got, &got_len) == 0);
            uint64_t want = stream_out->len - off < n ? stream_out->len - off : n;
            FUZZ_CHECK(got_len == want);
            FUZZ_CHECK(memcmp(got, stream_out->p + off, got_len) == 0);
            free(got);
            close(rout);
        }
    } else {
        FUZZ_CHECK(h == NULL);
    }
    kvs_header_free(h);
    close(in);
    close(out);
}

/* The fd engine allocates (2 * threads + 2) chunks up front: keep the
 * differential run to chunk sizes that keep the fuzzer fast. */
static int small_chunks(const uint8_t *file, size_t len)
{
    uint32_t hl = 0;
    kvs_header *h = NULL;
    kvs_error err;
    int ok = 0;
    if (len >= KVS_PREFIX_LEN && kvs_prefix_parse(file, &hl, &err) == KVS_OK &&
        len >= KVS_PREFIX_LEN + (size_t)hl &&
        kvs_header_parse(file + KVS_PREFIX_LEN, hl, &h, &err) == KVS_OK)
        ok = h->chunk_size <= (1u << 20);
    kvs_header_free(h);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTL_LEN) return 0;
    const uint8_t ctl = data[0];
    size_t len = size - CTL_LEN;
    uint8_t *file = malloc(len ? len : 1);
    FUZZ_CHECK(file != NULL);
    if (len) memcpy(file, data + CTL_LEN, len);
    if (ctl & 1) fix_header_tag(file, len);

    kvs_provider *rsa = fuzz_rsa_provider();
    kvs_provider *keys[2];
    size_t n_keys = 0;
    if ((ctl & 128) && rsa) keys[n_keys++] = rsa;
    keys[n_keys++] = fuzz_stub_provider();
    if (!(ctl & 128) && rsa) keys[n_keys++] = rsa;

    static const kvs_context_pair want = {"purpose", "fuzz"};
    kvs_decrypt_options opts;
    memset(&opts, 0, sizeof opts);
    opts.threads = 1;
    if (ctl & 16) {
        opts.required_context = &want;
        opts.n_required_context = 1;
    }

    buf out = {NULL, 0, 0};
    kvs_status st = run_stream(file, len, ctl, data[1], &opts, keys, n_keys, &out);
    FUZZ_CHECK(st != KVS_OK || out.len + 44 <= len);
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("KVSEAL_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "  stream: status %d, %zu plaintext bytes\n", st, out.len);
    if ((ctl & 32) && small_chunks(file, len))
        run_fd(file, len, data, &opts, keys, n_keys, st, &out);
    free(out.p);
    free(file);
    return 0;
}
