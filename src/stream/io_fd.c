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
#include "stream/outguard.h"

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
    kvs_fd_sink *f = fd_sink(s);
    enlarge_pipe(f->fd, shape->chunk_size + KVS_CHUNK_TAG_LEN);
    if (s->caps & KVS_IO_POSITIONAL) {
        f->header_len = shape->header_len;
        f->unit = shape->unit;
        f->released_end = shape->gated ? shape->header_len : UINT64_MAX;
        f->guard = kvs_outguard_open(f->fd, f->origin);
    }
    return KVS_OK;
}

/* [off, off + len) is written: tell the guard how far the output is now
 * complete from its start (chunks finish out of order). */
static void note_written(kvs_fd_sink *f, uint64_t off, size_t len)
{
    uint64_t end = 0;
    pthread_mutex_lock(&f->mu);
    if (off < f->header_len || f->unit == 0) {
        if (f->done_chunks == 0 && !f->done_flag[0]) end = off + len; /* the header */
    } else {
        uint64_t i = (off - f->header_len) / f->unit;
        if (i >= f->done_chunks && i - f->done_chunks < KVS_FD_SINK_WINDOW) {
            f->done_flag[i % KVS_FD_SINK_WINDOW] = 1;
            f->done_end[i % KVS_FD_SINK_WINDOW] = off + len;
            while (f->done_flag[f->done_chunks % KVS_FD_SINK_WINDOW]) {
                f->done_flag[f->done_chunks % KVS_FD_SINK_WINDOW] = 0;
                end = f->done_end[f->done_chunks % KVS_FD_SINK_WINDOW];
                f->done_chunks++;
            }
        }
    }
    if (end) f->complete_end = end;
    end = f->complete_end < f->released_end ? f->complete_end : f->released_end;
    pthread_mutex_unlock(&f->mu);
    if (end) kvs_outguard_complete(f->guard, f->origin + end);
}

/* A signal keeps the complete prefix only as far as it is released. */
static void fd_released(kvs_sink *s, uint64_t released)
{
    kvs_fd_sink *f = fd_sink(s);
    pthread_mutex_lock(&f->mu);
    if (released > f->released_end) f->released_end = released;
    uint64_t end = f->complete_end < f->released_end ? f->complete_end : f->released_end;
    pthread_mutex_unlock(&f->mu);
    if (end) kvs_outguard_complete(f->guard, f->origin + end);
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
    kvs_status st = KVS_OK;
    uint64_t at = f->origin + off;
    kvs_outguard_enter(f->guard);
    while (st == KVS_OK && done < len) {
        ssize_t w = pwrite(f->fd, buf + done, len - done, (off_t)(at + done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            st = kvs_fail(err, KVS_ERR_IO, "write failed: %s", strerror(errno));
        else
            done += (size_t)w;
    }
    kvs_outguard_leave(f->guard);
    if (st == KVS_OK && f->guard) note_written(f, off, len);
    return st;
}

static void fd_unguard(kvs_fd_sink *f)
{
    kvs_outguard_close(f->guard);
    f->guard = NULL;
}

/* Leave the position past the output, as sequential writes would. */
static kvs_status fd_commit(kvs_sink *s, uint64_t end, kvs_error *err)
{
    (void)end;
    fd_unguard(fd_sink(s));
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
    fd_unguard(f);
    if ((s->caps & KVS_IO_POSITIONAL) && ftruncate(f->fd, (off_t)(f->origin + keep)) == 0)
        (void)lseek(f->fd, 0, SEEK_END);
}

static const kvs_sink_ops fd_sink_ops = {
    .start = fd_start, .write = fd_write, .write_at = fd_write_at, .released = fd_released,
    .commit = fd_commit, .abort = fd_abort,
};

void kvs_fd_sink_init(kvs_fd_sink *s, int fd)
{
    struct stat sb;
    int flags = fcntl(fd, F_GETFL);
    off_t pos = -1;
    *s = (kvs_fd_sink){.base = {&fd_sink_ops, 0}, .fd = fd, .mu = PTHREAD_MUTEX_INITIALIZER};
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
