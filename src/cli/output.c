/* Output targets: stdout, atomic files, devices, FIFOs, directories;
 * cleanup on terminating signals; safe printing of untrusted text. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_is_stdio(const char *name)
{
    return name == NULL || strcmp(name, "-") == 0;
}

/* "-o /dev/stdout" names standard output as "-" does. (It is a link to
 * /proc/self/fd/1, and links at the target are otherwise never followed.) */
static int names_stdout(const char *out)
{
    return strcmp(out, "/dev/stdout") == 0;
}

/* By lstat: a link at the target is never followed, except to a directory
 * (-o DIR given as a link to one); the file names inside are then created
 * without following anything either. */
cli_target_kind cli_target_classify(const char *out)
{
    struct stat st;
    if (cli_is_stdio(out) || names_stdout(out))
        return CLI_TARGET_STDOUT;
    if (lstat(out, &st) != 0)
        return CLI_TARGET_FILE;
    if (S_ISLNK(st.st_mode))
        return stat(out, &st) == 0 && S_ISDIR(st.st_mode) ? CLI_TARGET_DIR : CLI_TARGET_FILE;
    if (S_ISDIR(st.st_mode))
        return CLI_TARGET_DIR;
    /* Renaming a temp file over /dev/null or a FIFO would replace the node:
     * write into it instead. Only root can create a device node; anyone can
     * create a FIFO where others write, so a FIFO needs --force. */
    if (S_ISCHR(st.st_mode))
        return CLI_TARGET_STREAM;
    if (S_ISFIFO(st.st_mode))
        return CLI_TARGET_FIFO;
    return CLI_TARGET_FILE;
}

int cli_check_overwrite(const char *cmd, const char *path, int force)
{
    struct stat st;
    if (force || lstat(path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode))
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "output %s is a symbolic link, which is not followed "
                         "(use --force to replace the link itself)", path);
    return cli_error(cmd, CLI_EXIT_USAGE, "output %s exists (use --force to replace it)", path);
}

int cli_check_not_tty(const char *cmd, int fd, int force, const char *what)
{
    if (!force && isatty(fd))
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "refusing to write %s to a terminal (use -o FILE, or --force)", what);
    return 0;
}

int cli_basename(const char *path, char *buf, size_t cap)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t len = end - start;
    if (len == 0 || len >= cap || (len == 1 && path[start] == '/'))
        return -1;
    memcpy(buf, path + start, len);
    buf[len] = '\0';
    return 0;
}

char *cli_path_join(const char *dir, const char *name, const char *suffix)
{
    size_t dlen = strlen(dir);
    const char *sep = (dlen > 0 && dir[dlen - 1] == '/') ? "" : "/";
    size_t len = dlen + 1 + strlen(name) + strlen(suffix) + 1;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s%s%s%s", dir, sep, name, suffix);
    return p;
}

int cli_open_input(const char *in, kvs_error *err)
{
    if (cli_is_stdio(in))
        return STDIN_FILENO;
    int fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cli_fail(err, KVS_ERR_IO, "cannot open input: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        cli_fail(err, KVS_ERR_IO, "input is a directory");
        return -1;
    }
    return fd;
}

/* ---- signals ------------------------------------------------------------ */

static char g_temp_path[4096];
static volatile sig_atomic_t g_temp_set;
static atomic_flag g_dying = ATOMIC_FLAG_INIT;

/* Only async-signal-safe calls here. A file being written out of order
 * (standard output redirected to a file) is cut back to its complete,
 * verified prefix first; a named temp file is removed. */
static void on_fatal_signal(int sig)
{
    if (atomic_flag_test_and_set(&g_dying))
        for (;;)
            pause(); /* another thread is already ending the process */
    kvs_output_cut_on_signal();
    if (g_temp_set)
        unlink(g_temp_path);
    _exit(128 + sig);
}

/* Every signal whose default action ends the process, except SIGPIPE and
 * SIGXFSZ, which main() ignores so that they become EPIPE and EFBIG. */
static const int g_fatal_signals[] = {
    SIGHUP,  SIGINT,    SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
    SIGVTALRM, SIGPROF, SIGXCPU, SIGIO,
#ifdef SIGPWR
    SIGPWR,
#endif
#ifdef SIGSTKFLT
    SIGSTKFLT,
#endif
};

/* SIGINT, SIGQUIT and SIGTERM are caught even when inherited as ignored (a
 * shell starts background jobs with SIGINT and SIGQUIT ignored); any other
 * signal inherited as ignored stays ignored (nohup's SIGHUP). */
static void catch_fatal(int sig, const struct sigaction *sa)
{
    struct sigaction old;
    int always = sig == SIGINT || sig == SIGQUIT || sig == SIGTERM;
    if (!always && sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        return;
    sigaction(sig, sa, NULL);
}

void cli_install_signal_handlers(void)
{
    size_t n = sizeof g_fatal_signals / sizeof g_fatal_signals[0];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < n; i++)
        sigaddset(&sa.sa_mask, g_fatal_signals[i]);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        sigaddset(&sa.sa_mask, sig);
    for (size_t i = 0; i < n; i++)
        catch_fatal(g_fatal_signals[i], &sa);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        catch_fatal(sig, &sa);
}

void cli_register_temp_path(const char *path)
{
    g_temp_set = 0;
    size_t len = strlen(path);
    if (len >= sizeof g_temp_path)
        return; /* cannot clean up what does not fit; the library still does on error */
    memcpy(g_temp_path, path, len + 1);
    g_temp_set = 1;
}

void cli_unregister_temp_path(void)
{
    g_temp_set = 0;
}

/* ---- running one job ----------------------------------------------------- */

static int job_failed(const char *cmd, const char *in, const kvs_error *err)
{
    return cli_error_status(cmd, cli_is_stdio(in) ? NULL : in, err);
}

/* A blob URL input (with ops->run_url) is the job's own to read. */
static int is_url_input(const cli_io_ops *ops, const char *in)
{
    return ops->run_url && !cli_is_stdio(in) && kvs_is_blob_url(in);
}

/* The input's fd, or CLI_URL_INPUT for a blob URL; -1 on failure with err set. */
#define CLI_URL_INPUT (-2)
static int open_job_input(const cli_io_ops *ops, const char *in, kvs_error *err)
{
    return is_url_input(ops, in) ? CLI_URL_INPUT : cli_open_input(in, err);
}

static kvs_status run_job(const cli_io_ops *ops, const char *in, int in_fd, int out_fd,
                          kvs_error *err)
{
    if (in_fd == CLI_URL_INPUT)
        return ops->run_url(ops->ctx, in, out_fd, err);
    return ops->run_fd(ops->ctx, in_fd, out_fd, err);
}

static void close_job_input(int in_fd)
{
    if (in_fd >= 0 && in_fd != STDIN_FILENO)
        close(in_fd);
}

/* Input to an already open stream (stdout, device, FIFO). */
static int run_stream(const char *cmd, const cli_io_ops *ops, const char *in, int out_fd,
                      int force)
{
    if (cli_check_not_tty(cmd, out_fd, force, ops->what) != 0)
        return CLI_EXIT_USAGE;
    kvs_error err;
    kvs_error_clear(&err);
    int in_fd = open_job_input(ops, in, &err);
    if (in_fd == -1)
        return job_failed(cmd, in, &err);
    kvs_status st = run_job(ops, in, in_fd, out_fd, &err);
    close_job_input(in_fd);
    return st == KVS_OK ? CLI_EXIT_OK : job_failed(cmd, in, &err);
}

/* Stream input into the library's atomic temp file, commit on success. */
static kvs_status run_atomic(const cli_io_ops *ops, const char *in, int in_fd, const char *out,
                             const kvs_output_options *oo, kvs_error *err)
{
    kvs_atomic_file *af = NULL;
    int out_fd = -1;
    kvs_status st = kvs_atomic_open(out, oo, &af, &out_fd, err);
    if (st != KVS_OK)
        return st;
    /* So that SIGINT/SIGTERM remove the temp file too. */
    const char *temp = kvs_atomic_temp_path(af);
    if (temp)
        cli_register_temp_path(temp);
    st = run_job(ops, in, in_fd, out_fd, err);
    if (st == KVS_OK)
        st = kvs_atomic_commit(af, err);
    cli_unregister_temp_path();
    kvs_atomic_abort(af); /* removes the temp file unless committed; frees */
    return st;
}

static int run_file(const char *cmd, const cli_io_ops *ops, const char *in, const char *out,
                    int force)
{
    if (cli_check_overwrite(cmd, out, force) != 0)
        return CLI_EXIT_USAGE;
    kvs_output_options oo = {.overwrite = force ? 1 : 0};
    kvs_error err;
    kvs_error_clear(&err);
    int in_fd = open_job_input(ops, in, &err);
    if (in_fd == -1)
        return job_failed(cmd, in, &err);
    kvs_status st = run_atomic(ops, in, in_fd, out, &oo, &err);
    close_job_input(in_fd);
    return st == KVS_OK ? CLI_EXIT_OK : job_failed(cmd, in, &err);
}

/* An existing device, or a FIFO with --force, named as -o: opened without
 * following a link, and only if it still is what it was classified as. */
static int run_into_node(const char *cmd, const cli_io_ops *ops, const char *in, const char *out,
                         int force, cli_target_kind kind)
{
    if (kind == CLI_TARGET_FIFO && !force)
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "output %s is a FIFO (named pipe); use --force to write into it", out);
    int fd = open(out, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        return cli_error(cmd, CLI_EXIT_IO, "%s: %s", out, strerror(errno));
    struct stat st;
    int still = fstat(fd, &st) == 0 &&
                (kind == CLI_TARGET_FIFO ? S_ISFIFO(st.st_mode) : S_ISCHR(st.st_mode));
    int rc = still ? run_stream(cmd, ops, in, fd, force)
                   : cli_error(cmd, CLI_EXIT_IO, "%s changed while it was opened", out);
    if (close(fd) != 0 && rc == CLI_EXIT_OK)
        rc = cli_error(cmd, CLI_EXIT_IO, "%s: %s", out, strerror(errno));
    return rc;
}

int cli_run_io(const char *cmd, const cli_io_ops *ops, const char *in, const char *out,
               int force)
{
    cli_target_kind kind = cli_target_classify(out);
    switch (kind) {
    case CLI_TARGET_STDOUT:
        return run_stream(cmd, ops, in, STDOUT_FILENO, force);
    case CLI_TARGET_STREAM:
    case CLI_TARGET_FIFO:
        return run_into_node(cmd, ops, in, out, force, kind);
    case CLI_TARGET_FILE:
        return run_file(cmd, ops, in, out, force);
    case CLI_TARGET_DIR:
        break;
    }
    return cli_error(cmd, CLI_EXIT_USAGE, "output %s is a directory", out);
}

/* ---- printing untrusted text ---------------------------------------------- */

void cli_print_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p; p++) {
        if (*p == '\\') {
            fputs("\\\\", f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\x%02x", *p);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* C1 controls (U+0080..U+009F) include CSI: escape them too. */
            fprintf(f, "\\u%04x", p[1]);
            p++;
        } else {
            fputc(*p, f);
        }
    }
}

/* ---- several inputs ---------------------------------------------------------- */

/* into_dir: out is a name derived inside -o DIR, always created as a new
 * regular file (whatever appeared there since the up-front check is
 * refused, or with --force replaced, never written into). */
static int run_one(const char *cmd, const cli_io_ops *ops, const char *in, const char *out,
                   int force, int into_dir)
{
    if (g_cli.verbose)
        cli_info(cmd, "%s -> %s", cli_is_stdio(in) ? "(stdin)" : in,
                 cli_is_stdio(out) ? "(stdout)" : out);
    int rc = into_dir ? run_file(cmd, ops, in, out, force) : cli_run_io(cmd, ops, in, out, force);
    if (rc == CLI_EXIT_OK && ops->after)
        ops->after(ops->ctx, in, out);
    return rc;
}

/* A name listed under a blob prefix, as a path below -o DIR: no leading
 * '/', no empty, "." or ".." segment, no control character, segments of at
 * most NAME_MAX bytes, 1024 bytes in all. */
static int rel_ok(const char *rel)
{
    size_t seg = 0, len = strlen(rel);
    if (len == 0 || len > 1024 || rel[0] == '/')
        return 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (c == '/' || c == '\0') {
            if (seg == 0 || seg > NAME_MAX)
                return 0;
            if ((seg == 1 && rel[i - 1] == '.') ||
                (seg == 2 && rel[i - 1] == '.' && rel[i - 2] == '.'))
                return 0;
            seg = 0;
        } else if (c < 0x20 || c == 0x7f) {
            return 0;
        } else {
            seg++;
        }
    }
    return 1;
}

/* Output path for one input in directory mode (malloc), or NULL after
 * printing (unless quiet). rel (or NULL): the input's name below a blob
 * prefix, which keeps its directories below dir. */
static char *dir_output(const char *cmd, const char *in, const char *rel, const char *dir,
                        cli_out_name_fn name_fn, int quiet)
{
    char base[1024], name[1100], sub[1100] = "";
    if (cli_is_stdio(in)) {
        cli_error(cmd, CLI_EXIT_USAGE,
                  "standard input cannot be written into a directory (-o %s)", dir);
        return NULL;
    }
    if (rel) {
        const char *slash = strrchr(rel, '/');
        if (!rel_ok(rel)) {
            if (!quiet)
                cli_error(cmd, CLI_EXIT_INPUT,
                          "%s: its name is not a safe local path (an empty, '.' or '..' part, "
                          "a control character, or a part longer than %d bytes)", in, NAME_MAX);
            return NULL;
        }
        if (slash)
            snprintf(sub, sizeof sub, "%.*s", (int)(slash + 1 - rel), rel);
        snprintf(base, sizeof base, "%s", slash ? slash + 1 : rel);
    } else if (cli_basename(in, base, sizeof base) != 0) {
        base[0] = '\0';
    }
    if (base[0] == '\0' || name_fn(base, name, sizeof name) != 0 ||
        (rel && strlen(name) > NAME_MAX)) {
        if (!quiet)
            cli_error(cmd, rel ? CLI_EXIT_INPUT : CLI_EXIT_USAGE,
                      "%s: cannot derive an output name", in);
        return NULL;
    }
    char *out = cli_path_join(dir, sub, name);
    if (!out)
        cli_error(cmd, CLI_EXIT_INTERNAL, "out of memory");
    return out;
}

static int by_text(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Before writing anything: every output name derivable and, without
 * --force, none of them existing; so a usage error writes nothing. Blobs
 * under a prefix (rel) whose names are unusable fail on their own later;
 * two of them that would write one output are refused here. */
static int check_dir_outputs(const char *cmd, char *const *inputs, char *const *rel, size_t n,
                             const char *dir, int force, cli_out_name_fn name_fn)
{
    char **outs = rel ? calloc(n ? n : 1, sizeof *outs) : NULL;
    size_t n_outs = 0;
    int rc = 0;
    if (rel && !outs)
        return cli_error(cmd, CLI_EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *r = rel ? rel[i] : NULL;
        char *out = dir_output(cmd, inputs[i], r, dir, name_fn, r != NULL);
        if (!out) {
            if (!r)
                rc = CLI_EXIT_USAGE;
            continue;
        }
        rc = cli_check_overwrite(cmd, out, force);
        if (r)
            outs[n_outs++] = out;
        else
            free(out);
    }
    if (rc == 0 && outs) {
        qsort(outs, n_outs, sizeof *outs, by_text);
        for (size_t i = 1; rc == 0 && i < n_outs; i++)
            if (strcmp(outs[i - 1], outs[i]) == 0)
                rc = cli_error(cmd, CLI_EXIT_USAGE, "two blobs would be written to %s",
                               outs[i]);
    }
    for (size_t i = 0; i < n_outs; i++)
        free(outs[i]);
    free(outs);
    return rc;
}

/* The directories of rel below dir, created as needed (mode 0777 less the
 * umask); each must be a real directory, never a symbolic link. */
static int make_parents(const char *cmd, const char *dir, const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (!slash)
        return 0;
    char sub[1100];
    for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
        snprintf(sub, sizeof sub, "%.*s", (int)(p - rel), rel);
        char *path = cli_path_join(dir, sub, "");
        if (!path)
            return cli_error(cmd, CLI_EXIT_INTERNAL, "out of memory");
        struct stat st;
        int rc = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            rc = cli_error(cmd, CLI_EXIT_IO, "%s: %s", path, strerror(errno));
        else if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = cli_error(cmd, CLI_EXIT_IO, "%s: not a directory (symbolic links are not "
                                             "followed)", path);
        free(path);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int run_into_dir(const char *cmd, const cli_io_ops *ops, const char *in, const char *rel,
                        const char *dir, int force, cli_out_name_fn name_fn)
{
    char *out = dir_output(cmd, in, rel, dir, name_fn, 0);
    if (!out)
        return rel ? CLI_EXIT_INPUT : CLI_EXIT_USAGE;
    int rc = rel ? make_parents(cmd, dir, rel) : 0;
    if (rc == 0)
        rc = run_one(cmd, ops, in, out, force, 1);
    free(out);
    return rc;
}

int cli_run_inputs(const char *cmd, const cli_io_ops *ops, char *const *inputs, size_t n,
                   const char *out, int force, cli_out_name_fn name_fn)
{
    return cli_run_inputs_rel(cmd, ops, inputs, NULL, n, out, force, name_fn);
}

int cli_run_inputs_rel(const char *cmd, const cli_io_ops *ops, char *const *inputs,
                       char *const *rel, size_t n, const char *out, int force,
                       cli_out_name_fn name_fn)
{
    if (n == 0)
        return run_one(cmd, ops, NULL, out, force, 0);
    int to_dir = cli_target_classify(out) == CLI_TARGET_DIR;
    if (!to_dir && rel)
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "a container or prefix URL needs -o naming an existing directory");
    if (!to_dir) {
        if (n > 1)
            return cli_error(cmd, CLI_EXIT_USAGE,
                             "several inputs need -o naming an existing directory");
        return run_one(cmd, ops, inputs[0], out, force, 0);
    }
    int first = check_dir_outputs(cmd, inputs, rel, n, out, force, name_fn);
    if (first != CLI_EXIT_OK)
        return first;
    /* One bad input does not stop the others; report the first failure. */
    for (size_t i = 0; i < n; i++) {
        int one = run_into_dir(cmd, ops, inputs[i], rel ? rel[i] : NULL, out, force, name_fn);
        if (first == CLI_EXIT_OK)
            first = one;
    }
    return first;
}
