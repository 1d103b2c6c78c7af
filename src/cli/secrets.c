/* Passphrases: read from a file or the environment straight into secure
 * memory (never from argv, never through stdio buffers). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kvseal/secmem.h"

/* Longest passphrase accepted; one page of secure memory holds it. */
#define CLI_PASSPHRASE_MAX 4095u
/* Room for the passphrase, "\r\n", one byte to detect overlong input, NUL. */
#define CLI_SECRET_CAP (CLI_PASSPHRASE_MAX + 4)
#define CLI_SECRET_READ_MAX (CLI_SECRET_CAP - 1)

/* Strip one trailing newline ("\n" or "\r\n"), as written by editors and echo. */
static size_t strip_newline(const char *buf, size_t len)
{
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    return len;
}

/* Read at most cap-1 bytes of fd; *len = bytes read. -1 on error. */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

static int read_file_secret(const char *cmd, const char *file, char *buf, size_t *len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cli_error(cmd, errno == ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_IO,
                         "--passphrase-file %s: %s", file, strerror(errno));
    int rc = read_all(fd, buf, CLI_SECRET_CAP, len);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return cli_error(cmd, CLI_EXIT_IO, "--passphrase-file %s: %s", file, strerror(saved));
    return 0;
}

static int read_env_secret(const char *cmd, const char *name, char *buf, size_t *len)
{
    const char *v = getenv(name);
    if (!v)
        return cli_error(cmd, CLI_EXIT_USAGE, "--passphrase-env: variable %s is not set", name);
    size_t n = strnlen(v, CLI_SECRET_READ_MAX);
    memcpy(buf, v, n);
    *len = n;
    return 0;
}

/* The passphrase is handed to the library as a C string: a NUL would
 * silently shorten it, so refuse it instead. */
static int validate(const char *cmd, const char *src, const char *buf, size_t len)
{
    if (len > CLI_PASSPHRASE_MAX)
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: passphrase longer than %u bytes", src,
                         CLI_PASSPHRASE_MAX);
    if (memchr(buf, '\0', len))
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: passphrase contains a NUL byte", src);
    if (len == 0)
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: passphrase is empty", src);
    return 0;
}

int cli_secret_read(const char *cmd, const char *file, const char *env, cli_secret *s)
{
    s->buf = NULL;
    s->cap = 0;
    if (!file && !env)
        return 0;
    if (file && env)
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "use only one of --passphrase-file and --passphrase-env");
    char *buf = kvs_secure_alloc(CLI_SECRET_CAP);
    if (!buf)
        return cli_error(cmd, CLI_EXIT_INTERNAL, "out of secure memory");
    size_t len = 0;
    int rc = file ? read_file_secret(cmd, file, buf, &len) : read_env_secret(cmd, env, buf, &len);
    if (rc == 0 && len >= CLI_SECRET_READ_MAX)
        rc = cli_error(cmd, CLI_EXIT_USAGE, "passphrase longer than %u bytes",
                       CLI_PASSPHRASE_MAX);
    if (rc == 0) {
        len = strip_newline(buf, len);
        rc = validate(cmd, file ? "--passphrase-file" : "--passphrase-env", buf, len);
    }
    if (rc != 0) {
        kvs_secure_free(buf, CLI_SECRET_CAP);
        return rc;
    }
    buf[len] = '\0';
    s->buf = buf;
    s->cap = CLI_SECRET_CAP;
    return 0;
}

void cli_secret_free(cli_secret *s)
{
    kvs_secure_free(s->buf, s->cap); /* wipes */
    s->buf = NULL;
    s->cap = 0;
}
