/* File descriptors as the engine's source and sink: regular files are read
 * and written at offsets, pipes and other descriptors in order. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "kvseal/header.h"
#include "stream/io_fd.h"

/* A 64 KiB pipe costs ~16 wakeups per 1 MiB chunk; a pipe as large as one
 * stored chunk (at most 1 MiB, the unprivileged limit) cut context switches
 * about 5x in the pipe benchmark. Best effort: other fds are left alone. */
static void enlarge_pipe(int fd, size_t chunk_bytes)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISFIFO(sb.st_mode)) return;
    size_t want = chunk_bytes < (1u << 20) ? chunk_bytes : (1u << 20);
    (void)fcntl(fd, F_SETPIPE_SZ, (int)want);
}

/* ---- source ------------------------------------------------------------- */

static kvs_fd_source *fd_source(kvs_source *s)
{
    return (kvs_fd_source *)s;
}

static kvs_status fd_read(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    return kvs_read_full(fd_source(s)->fd, buf, len, got, err);
}

static kvs_status fd_read_at(kvs_source *s, uint64_t off, uint8_t *buf, size_t len,
                             kvs_error *err)
{
    return kvs_pread_full(fd_source(s)->fd, buf, len, fd_source(s)->origin + off, err);
}

static void fd_expect(kvs_source *s, size_t unit)
{
    enlarge_pipe(fd_source(s)->fd, unit);
}

/* A regular input file that changes size while it is read would be sealed
 * as a torn copy; report it (as tar does) so the caller keeps no such file. */
static kvs_status fd_finish(kvs_source *s, uint64_t end, kvs_error *err)
{
    kvs_fd_source *f = fd_source(s);
    struct stat after;
    /* Positional reads leave the position alone: put it where a sequential
     * read would have. */
    if ((s->caps & KVS_IO_POSITIONAL) && lseek(f->fd, (off_t)(f->origin + end), SEEK_SET) < 0)
        return kvs_fail(err, KVS_ERR_IO, "seek failed: %s", strerror(errno));
    if (!f->stable || !f->regular) return KVS_OK;
    if (fstat(f->fd, &after) != 0 || (uint64_t)after.st_size != f->size_then ||
        end != f->size_then - f->origin)
        return kvs_fail(err, KVS_ERR_IO, "the input file changed size while it was read");
    return KVS_OK;
}

static const kvs_source_ops fd_source_ops = {
    .read = fd_read, .read_at = fd_read_at, .expect = fd_expect, .finish = fd_finish,
};

void kvs_fd_source_init(kvs_fd_source *s, int fd, int stable)
{
    struct stat sb;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    *s = (kvs_fd_source){.base = {&fd_source_ops, 0, KVS_IO_SIZE_UNKNOWN}, .fd = fd,
                         .stable = stable};
    if (pos < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return;
    s->regular = 1;
    s->origin = (uint64_t)pos;
    s->size_then = (uint64_t)sb.st_size;
    /* An empty size (also what /proc files report) is left unknown: read in
     * order, such a file gives what it really holds. */
    if (sb.st_size > pos) {
        s->base.caps = KVS_IO_POSITIONAL;
        s->base.size = (uint64_t)(sb.st_size - pos);
    }
}

/* ---- sink --------------------------------------------------------------- */

static kvs_fd_sink *fd_sink(kvs_sink *s)
{
    return (kvs_fd_sink *)s;
}

static kvs_status fd_start(kvs_sink *s, const kvs_sink_shape *shape, kvs_error *err)
{
    (void)err;
    enlarge_pipe(fd_sink(s)->fd, shape->chunk_size + KVS_CHUNK_TAG_LEN);
    return KVS_OK;
}

static kvs_status fd_write(kvs_sink *s, const uint8_t *buf, size_t len, kvs_error *err)
{
    return kvs_write_full(fd_sink(s)->fd, buf, len, err);
}

static kvs_status fd_write_at(kvs_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                              kvs_error *err)
{
    kvs_fd_sink *f = fd_sink(s);
    size_t done = 0;
    off += f->origin;
    while (done < len) {
        ssize_t w = pwrite(f->fd, buf + done, len - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return kvs_fail(err, KVS_ERR_IO, "write failed: %s", strerror(errno));
        done += (size_t)w;
    }
    return KVS_OK;
}

/* Leave the position past the output, as sequential writes would. */
static kvs_status fd_commit(kvs_sink *s, uint64_t end, kvs_error *err)
{
    (void)end;
    if ((s->caps & KVS_IO_POSITIONAL) && lseek(fd_sink(s)->fd, 0, SEEK_END) < 0)
        return kvs_fail(err, KVS_ERR_IO, "seek failed: %s", strerror(errno));
    return KVS_OK;
}

/* Chunks written past a failed one would leave data after a hole: cut a
 * regular file back to its complete prefix. Best effort: the failure is
 * what gets reported. A pipe keeps what it was given, in order. */
static void fd_abort(kvs_sink *s, uint64_t keep)
{
    kvs_fd_sink *f = fd_sink(s);
    if ((s->caps & KVS_IO_POSITIONAL) && ftruncate(f->fd, (off_t)(f->origin + keep)) == 0)
        (void)lseek(f->fd, 0, SEEK_END);
}

static const kvs_sink_ops fd_sink_ops = {
    .start = fd_start, .write = fd_write, .write_at = fd_write_at, .commit = fd_commit,
    .abort = fd_abort,
};

void kvs_fd_sink_init(kvs_fd_sink *s, int fd)
{
    struct stat sb;
    int flags = fcntl(fd, F_GETFL);
    off_t pos = -1;
    *s = (kvs_fd_sink){.base = {&fd_sink_ops, 0}, .fd = fd};
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || flags < 0 || (flags & O_APPEND)) return;
    if ((pos = lseek(fd, 0, SEEK_CUR)) < 0) return;
    s->origin = (uint64_t)pos;
    s->base.caps = KVS_IO_POSITIONAL;
}

/* ---- discard ------------------------------------------------------------ */

static kvs_status discard_write(kvs_sink *s, const uint8_t *buf, size_t len, kvs_error *err)
{
    (void)s, (void)buf, (void)len, (void)err;
    return KVS_OK;
}

static kvs_status discard_write_at(kvs_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                                   kvs_error *err)
{
    (void)off;
    return discard_write(s, buf, len, err);
}

static const kvs_sink_ops discard_ops = {.write = discard_write, .write_at = discard_write_at};

void kvs_discard_sink_init(kvs_sink *s)
{
    *s = (kvs_sink){&discard_ops, KVS_IO_POSITIONAL};
}
