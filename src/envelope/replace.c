/* Replace a kvseal file's header atomically: temp file beside it (unnamed
 * where the file system allows, kvs_atomic_open) with the original's owner
 * and mode, new header, payload copied unchanged, fsync,
 * rename, fsync of the directory. At every instant the path names either
 * the complete old file or the complete new one. */
#include "envelope/replace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "kvseal/envelope.h"

#define COPY_BUF (1u << 20)

/* Owner first: chown may clear set-id bits that fchmod then restores. */
static kvs_status keep_owner_and_mode(int fd, const struct stat *sb, const char *path,
                                      kvs_error *err)
{
    if ((sb->st_uid != geteuid() || sb->st_gid != getegid()) &&
        fchown(fd, sb->st_uid, sb->st_gid) != 0)
        return kvs_fail(err, KVS_ERR_IO,
                        "cannot keep the owner of %s (uid %lu, gid %lu): %s; not replaced", path,
                        (unsigned long)sb->st_uid, (unsigned long)sb->st_gid, strerror(errno));
    if (fchmod(fd, sb->st_mode & 07777) != 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot keep the mode of %s: %s", path,
                        strerror(errno));
    return KVS_OK;
}

/* Portable fallback for copy_file_range. */
static kvs_status copy_rw(int in_fd, uint64_t off, uint64_t left, int out_fd, kvs_error *err)
{
    uint8_t *buf = malloc(COPY_BUF);
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    kvs_status st = KVS_OK;
    while (st == KVS_OK && left > 0) {
        size_t n = left < COPY_BUF ? (size_t)left : COPY_BUF;
        st = kvs_pread_full(in_fd, buf, n, off, err);
        if (st == KVS_OK) st = kvs_write_full(out_fd, buf, n, err);
        off += n;
        left -= n;
    }
    free(buf);
    return st;
}

/* The payload, byte for byte: in-kernel (and reflinked where the file
 * system can) with copy_file_range, else read/write. */
static kvs_status copy_payload(int in_fd, uint64_t off, uint64_t left, int out_fd,
                               kvs_error *err)
{
    loff_t in_off = (loff_t)off;
    while (left > 0) {
        size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
        ssize_t n = copy_file_range(in_fd, &in_off, out_fd, NULL, want, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
                      errno == EOPNOTSUPP || errno == EBADF || errno == EPERM))
            return copy_rw(in_fd, (uint64_t)in_off, left, out_fd, err);
        if (n < 0) return kvs_fail(err, KVS_ERR_IO, "copying the payload failed: %s", strerror(errno));
        if (n == 0) return kvs_fail(err, KVS_ERR_IO, "the file shrank while it was being rewrapped");
        left -= (uint64_t)n;
    }
    return KVS_OK;
}

/* Another writer between reading the header and the rename would be lost. */
static kvs_status check_unchanged(int in_fd, const struct stat *sb, const char *path,
                                  kvs_error *err)
{
    struct stat now;
    if (fstat(in_fd, &now) != 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    if (now.st_size != sb->st_size || now.st_mtim.tv_sec != sb->st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != sb->st_mtim.tv_nsec || now.st_ino != sb->st_ino)
        return kvs_fail(err, KVS_ERR_IO, "%s changed while it was being rewrapped; not replaced",
                        path);
    return KVS_OK;
}

kvs_status kvs_replace_file_header(const char *path, int in_fd, const struct stat *sb,
                                   const uint8_t *hdr, size_t hdr_len, uint64_t payload_off,
                                   const kvs_temp_notify *temp_path, kvs_error *err)
{
    kvs_output_options replace = {.overwrite = 1};
    kvs_atomic_file *af = NULL;
    int fd = -1;
    uint64_t size = (uint64_t)sb->st_size;
    int notify = temp_path && temp_path->fn;
    kvs_status st = kvs_atomic_open(path, &replace, &af, &fd, err);
    /* An unnamed temp file (O_TMPFILE) has no path and needs no cleanup. */
    int announced = st == KVS_OK && notify && kvs_atomic_temp_path(af);
    if (announced) temp_path->fn(kvs_atomic_temp_path(af), temp_path->arg);
    if (st == KVS_OK) st = keep_owner_and_mode(fd, sb, path, err);
    if (st == KVS_OK) st = kvs_write_full(fd, hdr, hdr_len, err);
    if (st == KVS_OK) st = copy_payload(in_fd, payload_off, size - payload_off, fd, err);
    /* Flushed before the check, so that the check is as close to the rename
     * as it can be (commit's own fsync then finds nothing to write). */
    if (st == KVS_OK && fsync(fd) != 0)
        st = kvs_fail(err, KVS_ERR_IO, "cannot flush the new %s: %s", path, strerror(errno));
    if (st == KVS_OK) st = check_unchanged(in_fd, sb, path, err);
    if (st == KVS_OK) st = kvs_atomic_commit(af, err);
    kvs_atomic_abort(af); /* removes the temp file unless committed; frees */
    if (announced) temp_path->fn(NULL, temp_path->arg);
    return st;
}
