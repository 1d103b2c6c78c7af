/* Helpers shared by the fuzz targets: memfd files, the stub provider, the
 * committed RSA test key. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", file, line, what);
    abort();
}

int fuzz_memfd(const void *data, size_t len)
{
    int fd = memfd_create("kvseal-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int fuzz_fd_contents(int fd, uint8_t **out, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    *out = NULL;
    *len = 0;
    if (end < 0) return -1;
    uint8_t *buf = malloc((size_t)end + 1);
    if (!buf) return -1;
    size_t got = 0;
    while (got < (size_t)end) {
        ssize_t r = pread(fd, buf + got, (size_t)end - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            return -1;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = got;
    return 0;
}

/* ---- the stub provider ---------------------------------------------------- */

static kvs_status stub_wrap(void *impl, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                            kvs_error *err)
{
    (void)impl;
    (void)err;
    memset(out, 0, sizeof *out);
    memcpy(out->type, KVS_RECIPIENT_RSA, sizeof KVS_RECIPIENT_RSA);
    memcpy(out->alg, KVS_ALG_OAEP_256, sizeof KVS_ALG_OAEP_256);
    memcpy(out->key_id, FUZZ_STUB_KEY_ID, sizeof FUZZ_STUB_KEY_ID);
    memcpy(out->wrapped, dek, KVS_DEK_LEN);
    out->wrapped_len = KVS_DEK_LEN;
    return KVS_OK;
}

static int stub_matches(const void *impl, const kvs_recipient *r)
{
    (void)impl;
    return strncmp(r->type, KVS_RECIPIENT_RSA, sizeof r->type) == 0 &&
           strncmp(r->key_id, FUZZ_STUB_KEY_ID, sizeof r->key_id) == 0;
}

static kvs_status stub_unwrap(void *impl, const kvs_recipient *r, uint8_t *dek, size_t cap,
                              size_t *len, kvs_error *err)
{
    (void)impl;
    (void)cap; /* KVS_MAX_WRAPPED_LEN */
    if (r->wrapped_len != KVS_DEK_LEN) {
        if (err) {
            err->status = KVS_ERR_AUTH;
            snprintf(err->detail, sizeof err->detail, "stub: wrapped key is not 32 bytes");
        }
        return KVS_ERR_AUTH;
    }
    memcpy(dek, r->wrapped, KVS_DEK_LEN);
    *len = KVS_DEK_LEN;
    return KVS_OK;
}

static const char *stub_identify(const void *impl)
{
    (void)impl;
    return "fuzz stub (identity wrap)";
}

static const kvs_provider_ops stub_ops = {
    .name = "rsa",
    .wrap = stub_wrap,
    .matches = stub_matches,
    .unwrap = stub_unwrap,
    .identify = stub_identify,
};

/* Made once and kept for the process (a fuzzer never frees it). */
kvs_provider *fuzz_stub_provider(void)
{
    static kvs_provider *stub;
    if (!stub && kvs_provider_new(&stub_ops, sizeof stub_ops, NULL, &stub, NULL) != KVS_OK)
        abort();
    return stub;
}

/* ---- the RSA test key --------------------------------------------------- */

kvs_provider *fuzz_rsa_provider(void)
{
    static kvs_provider *rsa;
    static int tried;
    if (tried) return rsa;
    tried = 1;
    int fd = fuzz_memfd(fuzz_rsa2048_pem, strlen(fuzz_rsa2048_pem));
    if (fd < 0) return NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_rsa_provider_from_pem(path, NULL, NULL, &rsa, &err) != KVS_OK) {
        fprintf(stderr, "fuzz: cannot load the RSA test key: %s\n", kvs_error_message(&err));
        rsa = NULL;
    }
    close(fd);
    return rsa;
}
