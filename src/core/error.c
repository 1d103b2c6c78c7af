/* Filling a caller-owned kvs_error. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* Details may quote hostile input: keep them on one printable line. */
static void kvs_detail_sanitize(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) *s = ' ';
    }
}

/* Mark a cut detail so readers know text is missing. */
static void kvs_detail_mark_truncated(char *detail)
{
    static const char dots[] = "...";
    size_t at = KVS_ERROR_DETAIL_MAX - sizeof(dots);
    memcpy(detail + at, dots, sizeof(dots));
}

kvs_status kvs_fail(kvs_error *err, kvs_status status, const char *fmt, ...)
{
    if (err == NULL) return status;
    err->status = status;
    err->detail[0] = '\0';
    if (fmt == NULL) return status;

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->detail[0] = '\0';
        return status;
    }
    if ((size_t)n >= sizeof(err->detail)) kvs_detail_mark_truncated(err->detail);
    kvs_detail_sanitize(err->detail);
    return status;
}

int kvs_ossl_out_of_memory(void)
{
    int oom = 0;
    unsigned long e;
    while ((e = ERR_get_error()) != 0)
        if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) oom = 1;
    return oom;
}

kvs_status kvs_fail_ossl(kvs_error *err, kvs_status status, const char *what)
{
    unsigned long code = ERR_get_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    if (what == NULL) what = "crypto library";

    if (reason != NULL)
        kvs_fail(err, status, "%s: %s", what, reason);
    else if (code != 0)
        kvs_fail(err, status, "%s: OpenSSL error 0x%lx", what, code);
    else
        kvs_fail(err, status, "%s", what);
    /* Leave no stale entries for the next operation on this thread. */
    ERR_clear_error();
    return status;
}

kvs_status kvs_error_copy(kvs_error *dst, const kvs_error *src)
{
    if (src == NULL) {
        kvs_error_clear(dst);
        return KVS_OK;
    }
    if (dst != NULL && dst != src) *dst = *src;
    return src->status;
}
