/* Stream a descriptor through an encryptor or decryptor with large reads and
 * writes. One loop serves both directions through a small table of calls. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "core/error.h"
#include "core/fdio.h"
#include "kvseal/envelope.h"
#include "stream/chunk.h"

#define PUMP_IO_SIZE (1024 * 1024)

typedef struct pump_ops {
    kvs_status (*push)(void *ctx, const void *in, size_t len, size_t *consumed);
    kvs_status (*finish)(void *ctx);
    kvs_status (*pull)(void *ctx, void *out, size_t cap, size_t *written);
    int (*done)(const void *ctx);
    const kvs_error *(*error)(const void *ctx);
} pump_ops;

static kvs_status enc_push(void *c, const void *in, size_t len, size_t *n) { return kvs_encryptor_push(c, in, len, n); }
static kvs_status enc_finish(void *c) { return kvs_encryptor_finish(c); }
static kvs_status enc_pull(void *c, void *out, size_t cap, size_t *n) { return kvs_encryptor_pull(c, out, cap, n); }
static int enc_done(const void *c) { return kvs_encryptor_done(c); }
static const kvs_error *enc_error(const void *c) { return kvs_encryptor_error(c); }
static kvs_status dec_push(void *c, const void *in, size_t len, size_t *n) { return kvs_decryptor_push(c, in, len, n); }
static kvs_status dec_finish(void *c) { return kvs_decryptor_finish(c); }
static kvs_status dec_pull(void *c, void *out, size_t cap, size_t *n) { return kvs_decryptor_pull(c, out, cap, n); }
static int dec_done(const void *c) { return kvs_decryptor_done(c); }
static const kvs_error *dec_error(const void *c) { return kvs_decryptor_error(c); }

static const pump_ops encrypt_ops = {enc_push, enc_finish, enc_pull, enc_done, enc_error};
static const pump_ops decrypt_ops = {dec_push, dec_finish, dec_pull, dec_done, dec_error};

/* Move all pending output to out_fd (or drop it when out_fd < 0). */
static kvs_status drain(const pump_ops *ops, void *ctx, uint8_t *buf, int out_fd, kvs_error *err)
{
    for (;;) {
        size_t n = 0;
        kvs_status st = ops->pull(ctx, buf, PUMP_IO_SIZE, &n);
        if (st != KVS_OK) return kvs_error_copy(err, ops->error(ctx));
        if (n == 0) return KVS_OK;
        if (out_fd >= 0 && (st = kvs_write_full(out_fd, buf, n, err)) != KVS_OK) return st;
    }
}

static kvs_status feed(const pump_ops *ops, void *ctx, const uint8_t *data, size_t len,
                       uint8_t *out, int out_fd, kvs_error *err)
{
    while (len > 0) {
        size_t used = 0;
        if (ops->push(ctx, data, len, &used) != KVS_OK) return kvs_error_copy(err, ops->error(ctx));
        data += used;
        len -= used;
        kvs_status st = drain(ops, ctx, out, out_fd, err);
        if (st != KVS_OK) return st;
    }
    return KVS_OK;
}

static kvs_status pump(const pump_ops *ops, void *ctx, int in_fd, int out_fd, kvs_error *err)
{
    uint8_t *in = malloc(PUMP_IO_SIZE), *out = malloc(PUMP_IO_SIZE);
    kvs_status st = (in && out) ? drain(ops, ctx, out, out_fd, err)
                                : kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    while (st == KVS_OK) {
        size_t got = 0;
        if ((st = kvs_read_full(in_fd, in, PUMP_IO_SIZE, &got, err)) != KVS_OK) break;
        if ((st = feed(ops, ctx, in, got, out, out_fd, err)) != KVS_OK) break;
        if (got < PUMP_IO_SIZE) break; /* end of input */
    }
    if (st == KVS_OK && ops->finish(ctx) != KVS_OK) st = kvs_error_copy(err, ops->error(ctx));
    if (st == KVS_OK) st = drain(ops, ctx, out, out_fd, err);
    if (st == KVS_OK && !ops->done(ctx))
        st = kvs_fail(err, KVS_ERR_INTERNAL, "stream did not complete");
    if (out) OPENSSL_cleanse(out, PUMP_IO_SIZE);
    if (in) OPENSSL_cleanse(in, PUMP_IO_SIZE);
    free(in);
    free(out);
    return st;
}

kvs_status kvs_encrypt_fd(int in_fd, int out_fd, const kvs_encrypt_options *opts,
                          kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    kvs_encryptor *e = NULL;
    kvs_status st = kvs_encryptor_new(opts, recipients, n_recipients, &e, err);
    if (st != KVS_OK) return st;
    st = pump(&encrypt_ops, e, in_fd, out_fd, err);
    kvs_encryptor_free(e);
    return st;
}

kvs_status kvs_decrypt_fd(int in_fd, int out_fd, const kvs_decrypt_options *opts,
                          kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                          kvs_error *err)
{
    kvs_decryptor *d = NULL;
    if (header_out) *header_out = NULL;
    kvs_status st = kvs_decryptor_new(opts, keys, n_keys, &d, err);
    if (st != KVS_OK) return st;
    st = pump(&decrypt_ops, d, in_fd, out_fd, err);
    if (st == KVS_OK && header_out) *header_out = kvs_decryptor_take_header(d);
    kvs_decryptor_free(d);
    return st;
}
