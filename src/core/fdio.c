/* Descriptor I/O that retries on EINTR and short transfers (core/fdio.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"

kvs_status kvs_read_full(int fd, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    *got = 0;
    while (*got < len) {
        ssize_t r = read(fd, buf + *got, len - *got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return kvs_fail(err, KVS_ERR_IO, "read failed: %s", strerror(errno));
        if (r == 0) break;
        *got += (size_t)r;
    }
    return KVS_OK;
}

kvs_status kvs_write_full(int fd, const uint8_t *buf, size_t len, kvs_error *err)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return kvs_fail(err, KVS_ERR_IO, "write failed: %s", strerror(errno));
        buf += w;
        len -= (size_t)w;
    }
    return KVS_OK;
}

kvs_status kvs_pread_full(int fd, uint8_t *buf, size_t len, uint64_t off, kvs_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return kvs_fail(err, KVS_ERR_IO, "read failed: %s", strerror(errno));
        if (r == 0) return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it is shorter than its chunks require");
        got += (size_t)r;
    }
    return KVS_OK;
}
