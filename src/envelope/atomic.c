/* Atomic output files: write to a 0600 temp file beside the target, fsync,
 * then rename; the target is never seen half-written. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "kvseal/envelope.h"

struct kvs_atomic_file {
    char *target;
    char *temp;
    char *dir;
    int fd;
    int overwrite;
    int created; /* the temp file exists on disk */
    int committed;
};

static kvs_status make_temp(kvs_atomic_file *f, kvs_error *err)
{
    char *copy = strdup(f->target);
    char *copy2 = strdup(f->target);
    if (!copy || !copy2) {
        free(copy);
        free(copy2);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    f->dir = strdup(dirname(copy));
    const char *base = basename(copy2);
    size_t cap = strlen(f->target) + 32;
    f->temp = malloc(cap);
    if (f->dir && f->temp)
        snprintf(f->temp, cap, "%s/.%s.kvseal-tmp-XXXXXX", f->dir, base);
    free(copy);
    free(copy2);
    if (!f->dir || !f->temp) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
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
    if (!f) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    f->fd = -1;
    f->overwrite = overwrite;
    f->target = strdup(target);
    kvs_status st = f->target ? make_temp(f, err) : kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
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

/* Without overwrite, link() refuses an existing target atomically. */
static int publish(kvs_atomic_file *f)
{
    if (f->overwrite) return rename(f->temp, f->target);
    if (link(f->temp, f->target) != 0) return -1;
    (void)unlink(f->temp);
    return 0;
}

kvs_status kvs_atomic_commit(kvs_atomic_file *f, kvs_error *err)
{
    if (fsync(f->fd) != 0)
        return kvs_fail(err, KVS_ERR_IO, "cannot flush %s: %s", f->target, strerror(errno));
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) return kvs_fail(err, KVS_ERR_IO, "cannot write %s: %s", f->target, strerror(errno));
    if (publish(f) != 0)
        return kvs_fail(err, errno == EEXIST ? KVS_ERR_EXISTS : KVS_ERR_IO,
                        "cannot create %s: %s", f->target, strerror(errno));
    f->committed = 1;
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
    free(f);
}
