/* Internal helpers to fill a kvs_error. */
#ifndef KVS_CORE_ERROR_H
#define KVS_CORE_ERROR_H

#include "kvseal/status.h"

/* Set err (may be NULL) to status with a printf-style one-line detail and
 * return status, so callers can write `return kvs_fail(err, ..., "...")`. */
kvs_status kvs_fail(kvs_error *err, kvs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like kvs_fail, appending the first OpenSSL error reason, then clearing
 * OpenSSL's error queue. */
kvs_status kvs_fail_ossl(kvs_error *err, kvs_status status, const char *what);

/* Drain OpenSSL's error queue; non-zero if any entry was an allocation
 * failure (so callers report "out of memory", not "bad input"). */
int kvs_ossl_out_of_memory(void);

/* Copy src into dst (both may be NULL) and return src->status. */
kvs_status kvs_error_copy(kvs_error *dst, const kvs_error *src);

#endif
