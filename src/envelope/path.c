/* Path-to-path helpers: input file in, atomic output file out. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "kvseal/envelope.h"

static kvs_status open_input(const char *path, int *fd, kvs_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return kvs_fail(err, KVS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return KVS_OK;
}

typedef kvs_status (*transform_fn)(int in_fd, int out_fd, const void *opts,
                                   kvs_provider *const *keys, size_t n, kvs_error *err);

static kvs_status run_to_path(const char *in_path, const char *out_path,
                              const kvs_output_options *out_opts, transform_fn fn,
                              const void *opts, kvs_provider *const *keys, size_t n,
                              kvs_error *err)
{
    int in_fd = -1, out_fd = -1;
    kvs_atomic_file *out = NULL;
    kvs_status st = open_input(in_path, &in_fd, err);
    if (st == KVS_OK) st = kvs_atomic_open(out_path, out_opts, &out, &out_fd, err);
    if (st == KVS_OK) st = fn(in_fd, out_fd, opts, keys, n, err);
    if (st == KVS_OK) st = kvs_atomic_commit(out, err);
    kvs_atomic_abort(out); /* removes the temp file unless committed */
    if (in_fd >= 0) close(in_fd);
    return st;
}

static kvs_status encrypt_fn(int in_fd, int out_fd, const void *opts, kvs_provider *const *keys,
                             size_t n, kvs_error *err)
{
    return kvs_encrypt_fd(in_fd, out_fd, opts, keys, n, err);
}

static kvs_status decrypt_fn(int in_fd, int out_fd, const void *opts, kvs_provider *const *keys,
                             size_t n, kvs_error *err)
{
    return kvs_decrypt_fd(in_fd, out_fd, opts, keys, n, NULL, err);
}

kvs_status kvs_encrypt_path(const char *in_path, const char *out_path,
                            const kvs_output_options *out_opts, const kvs_encrypt_options *opts,
                            kvs_provider *const *recipients, size_t n_recipients, kvs_error *err)
{
    return run_to_path(in_path, out_path, out_opts, encrypt_fn, opts, recipients, n_recipients, err);
}

kvs_status kvs_decrypt_path(const char *in_path, const char *out_path,
                            const kvs_output_options *out_opts, const kvs_decrypt_options *opts,
                            kvs_provider *const *keys, size_t n_keys, kvs_error *err)
{
    return run_to_path(in_path, out_path, out_opts, decrypt_fn, opts, keys, n_keys, err);
}
