/* fuzz_seedgen DIR: write the seed corpus of the decrypt target into DIR
 * (4 control bytes + a kvseal file; see fuzz_decrypt.c). Files encrypted to
 * the stub provider carry their DEK in the clear as the wrapped key, so the
 * fuzzer can mutate the payload and still get past the header tag. Signed
 * seeds (made by the whole-file engine) carry a trailer to mutate. The
 * committed seeds in tests/fuzz/corpus/decrypt were made with this. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvseal/envelope.h"
#include "kvseal/sign.h"
#include "kvseal/stream.h"

/* A fresh P-256 signer (the decrypt target needs no signer key: it checks
 * the trailer's form and the commitment, so any signer will do). */
static kvs_signer *make_signer(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = tmpfile();
    kvs_signer *s = NULL;
    if (k && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 && fflush(f) == 0) {
        char path[64];
        kvs_error err;
        kvs_error_clear(&err);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fileno(f));
        if (kvs_local_signer_new(path, NULL, &s, &err) != KVS_OK)
            fprintf(stderr, "seedgen: %s\n", kvs_error_message(&err));
    }
    if (f) fclose(f);
    EVP_PKEY_free(k);
    return s;
}

/* A signed file: only the whole-file engine signs. */
static int encrypt_signed_to(FILE *f, kvs_provider *const *rcpt, size_t n, uint32_t chunk,
                             size_t pt_len)
{
    kvs_encrypt_options o;
    memset(&o, 0, sizeof o);
    o.chunk_size = chunk;
    o.omit_created = 1;
    o.threads = 1;
    o.signer = make_signer();
    size_t cap = kvs_encrypt_mem_bound(pt_len, chunk), len = 0;
    uint8_t *pt = malloc(pt_len ? pt_len : 1), *out = malloc(cap);
    kvs_error err;
    kvs_error_clear(&err);
    int rc = -1;
    if (o.signer && pt && out) {
        for (size_t i = 0; i < pt_len; i++) pt[i] = (uint8_t)(i * 7 + i / 251);
        if (kvs_encrypt_mem(pt, pt_len, out, cap, &len, &o, rcpt, n, &err) == KVS_OK)
            rc = fwrite(out, 1, len, f) == len ? 0 : -1;
        else
            fprintf(stderr, "seedgen: %s\n", kvs_error_message(&err));
    }
    kvs_signer_free(o.signer);
    free(pt);
    free(out);
    return rc;
}

static int encrypt_to(FILE *f, kvs_provider *const *rcpt, size_t n, uint32_t chunk,
                      const kvs_context_pair *ctx, size_t n_ctx, size_t pt_len)
{
    kvs_encrypt_options o;
    memset(&o, 0, sizeof o);
    o.chunk_size = chunk;
    o.context = ctx;
    o.n_context = n_ctx;
    o.omit_created = 1;
    kvs_encryptor *e = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_encryptor_new(&o, rcpt, n, &e, &err) != KVS_OK) {
        fprintf(stderr, "seedgen: %s\n", kvs_error_message(&err));
        return -1;
    }
    uint8_t *pt = malloc(pt_len ? pt_len : 1), out[8192];
    if (!pt) return -1;
    for (size_t i = 0; i < pt_len; i++) pt[i] = (uint8_t)(i * 7 + i / 251);
    size_t pos = 0, used, w;
    kvs_status st = KVS_OK;
    int finished = 0;
    while (st == KVS_OK && !kvs_encryptor_done(e)) {
        if (pos < pt_len) {
            st = kvs_encryptor_push(e, pt + pos, pt_len - pos, &used);
            pos += used;
        } else if (!finished) {
            st = kvs_encryptor_finish(e);
            finished = 1;
        }
        while (st == KVS_OK && (st = kvs_encryptor_pull(e, out, sizeof out, &w)) == KVS_OK && w)
            fwrite(out, 1, w, f);
    }
    free(pt);
    kvs_encryptor_free(e);
    return st == KVS_OK ? 0 : -1;
}

typedef struct seed {
    const char *name;
    uint8_t ctl[4];
    int rsa, stub;
    uint32_t chunk;
    int ctx;
    size_t pt_len;
    int sign;
} seed;

static const seed seeds[] = {
    {"stub-3chunks", {0x00, 1, 2, 3}, 0, 1, 4096, 0, 10000, 0},
    {"stub-exact-2chunks-fixtag-fd", {0x21, 7, 9, 40}, 0, 1, 4096, 0, 8192, 0},
    {"stub-empty", {0x01, 0, 0, 0}, 0, 1, 4096, 0, 0, 0},
    {"stub-one-byte-smallsplit", {0x0d, 5, 0, 0}, 0, 1, 4096, 0, 1, 0},
    {"stub-context-fd2", {0x71, 3, 200, 9}, 0, 1, 4096, 1, 5000, 0},
    {"stub-randsplit-smallpull", {0x0f, 77, 1, 1}, 0, 1, 8192, 0, 20000, 0},
    {"rsa-and-stub-fd", {0xa1, 2, 17, 3}, 1, 1, 4096, 0, 4100, 0},
    {"rsa-only-fd", {0x20, 0, 0, 0}, 1, 0, 4096, 0, 100, 0},
    {"stub-signed-17chunks-fd", {0x21, 4, 33, 7}, 0, 1, 4096, 0, 17 * 4096 + 5, 1},
    {"stub-signed-empty-fd", {0x21, 0, 0, 0}, 0, 1, 4096, 0, 0, 1},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seedgen DIR\n");
        return 2;
    }
    kvs_provider *rsa = fuzz_rsa_provider();
    if (!rsa) return 1;
    static const kvs_context_pair ctx = {"purpose", "fuzz"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        const seed *s = &seeds[i];
        kvs_provider *r[2];
        size_t n = 0;
        if (s->rsa) r[n++] = rsa;
        if (s->stub) r[n++] = fuzz_stub_provider();
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], s->name);
        FILE *f = fopen(path, "wb");
        if (!f) {
            perror(path);
            return 1;
        }
        fwrite(s->ctl, 1, sizeof s->ctl, f);
        int rc = s->sign ? encrypt_signed_to(f, r, n, s->chunk, s->pt_len)
                         : encrypt_to(f, r, n, s->chunk, s->ctx ? &ctx : NULL, s->ctx ? 1 : 0, s->pt_len);
        if (fclose(f) != 0 || rc != 0) {
            fprintf(stderr, "seedgen: %s failed\n", s->name);
            return 1;
        }
    }
    return 0;
}
