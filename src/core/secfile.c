/* Secret files into secure memory (core/secfile.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/secmem.h"

#define KVS_SECFILE_FIRST 4096 /* first allocation when the size is unknown */

void kvs_secret_buf_free(kvs_secret_buf *b)
{
    if (b->p != NULL) kvs_secure_free(b->p, b->cap);
    memset(b, 0, sizeof(*b));
}

void kvs_secret_buf_rtrim(kvs_secret_buf *b)
{
    while (b->len > 0 && strchr("\n\r \t", b->p[b->len - 1]) != NULL) b->p[--b->len] = '\0';
}

/* Room for at least want bytes plus the NUL (never more than max + 2, so
 * one byte past max shows the file is too large). 0 or -1. */
static int kvs_secret_grow(kvs_secret_buf *b, size_t want, size_t max)
{
    size_t cap = b->cap ? b->cap : KVS_SECFILE_FIRST;
    while (cap < want + 1) cap *= 2;
    if (cap > max + 2) cap = max + 2;
    if (cap <= b->cap) return 0;
    char *p = kvs_secure_alloc(cap);
    if (p == NULL) return -1;
    if (b->p != NULL) {
        memcpy(p, b->p, b->len);
        kvs_secure_free(b->p, b->cap);
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

kvs_status kvs_secret_file_read(const char *path, size_t max, kvs_secret_buf *out,
                                kvs_error *err)
{
    struct stat sb;
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kvs_fail(err, KVS_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
    /* A regular file's size is the first guess; pipes and /proc say 0. */
    size_t guess = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
                           (unsigned long long)sb.st_size <= max
                       ? (size_t)sb.st_size + 1
                       : 0;
    kvs_status st = KVS_OK;
    for (;;) {
        if (out->len + 1 >= out->cap && kvs_secret_grow(out, out->len + 1 + guess, max) != 0) {
            st = kvs_fail(err, KVS_ERR_NOMEM, "out of secure memory reading '%s'", path);
            break;
        }
        ssize_t n = read(fd, out->p + out->len, out->cap - 1 - out->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            st = kvs_fail(err, KVS_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        if (out->len > max) {
            st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "'%s' is larger than %zu bytes", path, max);
            break;
        }
    }
    close(fd);
    if (st != KVS_OK) {
        kvs_secret_buf_free(out);
        return st;
    }
    if (out->p == NULL && kvs_secret_grow(out, 0, max) != 0)
        return kvs_fail(err, KVS_ERR_NOMEM, "out of secure memory reading '%s'", path);
    out->p[out->len] = '\0';
    return KVS_OK;
}
