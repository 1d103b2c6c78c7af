/* Atomic output files: write to a 0600 temp file beside the target, fsync,
 * then give it the target's name; the target is never seen half-written.
 *
 * The temp file is unnamed (O_TMPFILE) where the file system allows, so no
 * crash or SIGKILL can leave it behind; elsewhere it is a named
 * .NAME.kvseal-tmp-XXXXXX. The target's name is never followed or written
 * through: without overwrite it is created only if nothing (not even a
 * dangling link or a FIFO) is there; with overwrite whatever is there is
 * replaced by rename, never opened. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "kvseal/envelope.h"

struct kvs_atomic_file {
    char *target;
    char *temp; /* the named temp file; NULL while it is unnamed (O_TMPFILE) */
    char *dir;
    char *base;
    int fd;
    int overwrite;
    int created; /* a named temp file exists on disk */
    int committed;
};

static kvs_status nomem(kvs_error *err)
{
    return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
}

static kvs_status split_target(kvs_atomic_file *f, kvs_error *err)
{
    char *copy = strdup(f->target);
    char *copy2 = strdup(f->target);
    if (copy && copy2) {
        f->dir = strdup(dirname(copy));
        f->base = strdup(basename(copy2));
    }
    free(copy);
    free(copy2);
    return f->dir && f->base ? KVS_OK : nomem(err);
}

/* "/proc/self/fd/N": the name linkat() gives an unnamed file without
 * needing CAP_DAC_READ_SEARCH (AT_EMPTY_PATH would). */
static void proc_fd_path(int fd, char *buf, size_t cap)
{
    snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

/* An unnamed temp file in the target's directory, usable only if it can be
 * linked later (/proc mounted): else -1 and the caller uses a named one. */
static int open_unnamed(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    char path[64];
    struct stat via_proc, direct;
    proc_fd_path(fd, path, sizeof path);
    if (stat(path, &via_proc) != 0 || fstat(fd, &direct) != 0 ||
        via_proc.st_ino != direct.st_ino || via_proc.st_dev != direct.st_dev) {
        close(fd);
        return -1;
    }
    return fd;
}

/* "DIR/.BASE.kvseal-tmp-" + 6 characters + NUL. */
static char *temp_name_pattern(const kvs_atomic_file *f)
{
    size_t cap = strlen(f->dir) + strlen(f->base) + 32;
    char *p = malloc(cap);
    if (p) snprintf(p, cap, "%s/.%s.kvseal-tmp-XXXXXX", f->dir, f->base);
    return p;
}

static kvs_status make_temp(kvs_atomic_file *f, kvs_error *err)
{
    kvs_status st = split_target(f, err);
    if (st != KVS_OK) return st;
    f->fd = open_unnamed(f->dir);
    if (f->fd >= 0) return KVS_OK;
    if (!(f->temp = temp_name_pattern(f))) return nomem(err);
    f->fd = mkostemp(f->temp, O_CLOEXEC); /* mode 0600 */
    f->created = f->fd >= 0;
    if (f->fd < 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot create a temporary file in %s: %s", f->dir,
                        strerror(errno));
    return KVS_OK;
}

kvs_status kvs_atomic_open(const char *target, const kvs_output_options *opts,
                           kvs_atomic_file **out, int *fd_out, kvs_error *err)
{
    *out = NULL;
    *fd_out = -1;
    struct stat sb;
    int overwrite = opts && opts->overwrite;
    if (!overwrite && lstat(target, &sb) == 0)
        return kvs_fail(err, KVS_ERR_EXISTS, "%s exists (use --force to replace it)", target);
    kvs_atomic_file *f = calloc(1, sizeof *f);
    if (!f) return nomem(err);
    f->fd = -1;
    f->overwrite = overwrite;
    f->target = strdup(target);
    kvs_status st = f->target ? make_temp(f, err) : nomem(err);
    if (st != KVS_OK) {
        kvs_atomic_abort(f);
        return st;
    }
    *out = f;
    *fd_out = f->fd;
    return KVS_OK;
}

static void sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
}

/* Rename without replacing: renameat2(RENAME_NOREPLACE), or where the file
 * system lacks it link() + unlink(); both refuse any existing name, also a
 * dangling link or a FIFO, atomically. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return -1;
    if (link(from, to) != 0) return -1;
    (void)unlink(from);
    return 0;
}

/* Replacing with an unnamed file: link it under a fresh temp name, then
 * rename that over the target (linkat cannot replace). Signals are held
 * meanwhile so that a handler cannot end the process between the two and
 * leave the name; only SIGKILL or a crash in that instant can. */
static int publish_unnamed_over(kvs_atomic_file *f, const char *proc_path)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = -1;
    char *name = temp_name_pattern(f);
    for (int tries = 0; name && tries < 100; tries++) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        unsigned char rnd[6];
        char *x = name + strlen(name) - 6;
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) break;
        for (size_t i = 0; i < sizeof rnd; i++) x[i] = chars[rnd[i] % (sizeof chars - 1)];
        if (linkat(AT_FDCWD, proc_path, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0) {
            rc = rename(name, f->target);
            if (rc != 0) {
                int e = errno;
                (void)unlink(name);
                errno = e;
            }
            break;
        }
        if (errno != EEXIST) break;
    }
    if (!name) errno = ENOMEM;
    int e = errno;
    free(name);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

static int publish(kvs_atomic_file *f)
{
    if (f->temp) return f->overwrite ? rename(f->temp, f->target) : rename_noreplace(f->temp, f->target);
    char proc_path[64];
    proc_fd_path(f->fd, proc_path, sizeof proc_path);
    if (f->overwrite) return publish_unnamed_over(f, proc_path);
    /* linkat never follows or replaces the new name: EEXIST for anything there. */
    return linkat(AT_FDCWD, proc_path, AT_FDCWD, f->target, AT_SYMLINK_FOLLOW);
}

kvs_status kvs_atomic_commit(kvs_atomic_file *f, kvs_error *err)
{
    if (fsync(f->fd) != 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot flush %s: %s", f->target, strerror(errno));
    /* A named temp file is closed first, so that a late write error shows
     * before it gets the target's name; an unnamed one is linked through its
     * fd (after fsync, close has nothing left to write on a local file
     * system). */
    if (f->temp) {
        int rc = close(f->fd);
        f->fd = -1;
        if (rc != 0)
            return kvs_fail(err, KVS_ERR_IO, "cannot write %s: %s", f->target, strerror(errno));
    }
    if (publish(f) != 0)
        return kvs_fail(err, errno == EEXIST ? KVS_ERR_EXISTS : KVS_ERR_IO,
                        "cannot create %s: %s", f->target, strerror(errno));
    f->committed = 1;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    sync_dir(f->dir);
    return KVS_OK;
}

const char *kvs_atomic_temp_path(const kvs_atomic_file *f)
{
    return f ? f->temp : NULL;
}

void kvs_atomic_abort(kvs_atomic_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    if (f->created && !f->committed) (void)unlink(f->temp);
    free(f->target);
    free(f->temp);
    free(f->dir);
    free(f->base);
    free(f);
}
