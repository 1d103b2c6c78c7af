/* Exit codes and the one-line error format. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_exit_code(kvs_status status)
{
    switch (kvs_status_category(status)) {
    case KVS_CAT_OK:
        return CLI_EXIT_OK;
    case KVS_CAT_USAGE:
        return CLI_EXIT_USAGE;
    case KVS_CAT_INPUT:
        return CLI_EXIT_INPUT;
    case KVS_CAT_KEY:
        return CLI_EXIT_KEY;
    case KVS_CAT_IO:
        return CLI_EXIT_IO;
    case KVS_CAT_INTERNAL:
        return CLI_EXIT_INTERNAL;
    case KVS_CAT_TRANSIENT:
        return CLI_EXIT_TRANSIENT;
    }
    return CLI_EXIT_INTERNAL; /* a category this build does not know */
}

/* Messages carry file names and header text, which may hold newlines or
 * escape sequences: keep the report on one line and the terminal sane. */
static void put_sanitized(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c < 0x20 || c == 0x7f ? '?' : c, stderr);
    }
}

__attribute__((format(printf, 2, 0)))
static void vreport(const char *cmd, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fputs("kvseal: ", stderr);
    if (cmd) {
        put_sanitized(cmd);
        fputs(": ", stderr);
    }
    put_sanitized(msg);
    fputc('\n', stderr);
}

int cli_error(const char *cmd, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return exit_code;
}

int cli_error_status(const char *cmd, const char *subject, const kvs_error *err)
{
    const char *msg = kvs_error_message(err);
    const char *query = subject && kvs_is_blob_url(subject) ? strchr(subject, '?') : NULL;
    if (query) /* a URL's query may hold a SAS token: never printed */
        cli_error(cmd, 0, "%.*s?...: %s", (int)(query - subject), subject, msg);
    else if (subject)
        cli_error(cmd, 0, "%s: %s", subject, msg);
    else
        cli_error(cmd, 0, "%s", msg);
    int code = cli_exit_code(err->status);
    /* A failure must never exit 0, even if the status was left unset. */
    return code == CLI_EXIT_OK ? CLI_EXIT_INTERNAL : code;
}

kvs_status cli_fail(kvs_error *err, kvs_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void cli_info(const char *cmd, const char *fmt, ...)
{
    if (g_cli.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
}
