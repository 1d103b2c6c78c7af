/* fuzz_seedgen DIR: write the seed corpus of the decrypt target into DIR
 * (4 control bytes + a kvseal file; see fuzz_decrypt.c). Files encrypted to
 * the stub provider carry their DEK in the clear as the wrapped key, so the
 * fuzzer can mutate the payload and still get past the header tag. The
 * committed seeds in tests/fuzz/corpus/decrypt were made with this. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kvseal/stream.h"

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
} seed;

static const seed seeds[] = {
    {"stub-3chunks", {0x00, 1, 2, 3}, 0, 1, 4096, 0, 10000},
    {"stub-exact-2chunks-fixtag-fd", {0x21, 7, 9, 40}, 0, 1, 4096, 0, 8192},
    {"stub-empty", {0x01, 0, 0, 0}, 0, 1, 4096, 0, 0},
    {"stub-one-byte-smallsplit", {0x0d, 5, 0, 0}, 0, 1, 4096, 0, 1},
    {"stub-context-fd2", {0x71, 3, 200, 9}, 0, 1, 4096, 1, 5000},
    {"stub-randsplit-smallpull", {0x0f, 77, 1, 1}, 0, 1, 8192, 0, 20000},
    {"rsa-and-stub-fd", {0xa1, 2, 17, 3}, 1, 1, 4096, 0, 4100},
    {"rsa-only-fd", {0x20, 0, 0, 0}, 1, 0, 4096, 0, 100},
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
        int rc = encrypt_to(f, r, n, s->chunk, s->ctx ? &ctx : NULL, s->ctx ? 1 : 0, s->pt_len);
        if (fclose(f) != 0 || rc != 0) {
            fprintf(stderr, "seedgen: %s failed\n", s->name);
            return 1;
        }
    }
    return 0;
}
