/* kvseal status codes and error detail.
 *
 * Every library function returns a kvs_status. The enum is append-only: values
 * never change meaning between versions. Detail text (one line, never a secret)
 * is written to a caller-owned kvs_error, never to a global, so the library is
 * safe to use from several threads with separate contexts. */
#ifndef KVSEAL_STATUS_H
#define KVSEAL_STATUS_H

#include <stddef.h>

#include "kvseal/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kvs_status {
    KVS_OK = 0,
    KVS_ERR_USAGE = 1,            /* bad argument or API misuse */
    KVS_ERR_CONFIG = 2,           /* bad configuration (key file, options) */
    KVS_ERR_NOT_KVSEAL = 3,       /* bad magic or unsupported version */
    KVS_ERR_FORMAT = 4,           /* malformed or out-of-range header */
    KVS_ERR_AUTH = 5,             /* header tag or chunk tag did not verify */
    KVS_ERR_TRUNCATED = 6,        /* input ended before the final chunk */
    KVS_ERR_TRAILING_DATA = 7,    /* bytes after the final chunk */
    KVS_ERR_CONTEXT_MISMATCH = 8, /* required context differs from the header */
    KVS_ERR_NO_RECIPIENT = 9,     /* no recipient could be unwrapped */
    KVS_ERR_KEY = 10,             /* key unusable (wrong type, size, ops) */
    KVS_ERR_KEY_ACCESS = 11,      /* key service refused access */
    KVS_ERR_NETWORK = 12,         /* key service unreachable: network down, DNS,
                                     connect, timeout, dropped connection */
    KVS_ERR_IO = 13,              /* local read/write failure */
    KVS_ERR_NOMEM = 14,           /* allocation failed */
    KVS_ERR_LIMIT = 15,           /* an input file exceeds a format limit */
    KVS_ERR_CRYPTO = 16,          /* the crypto library failed unexpectedly */
    KVS_ERR_INTERNAL = 17,        /* a bug: please report */
    KVS_ERR_EXISTS = 18,          /* output exists and overwriting was not allowed */
    KVS_ERR_STATE = 19,           /* context failed earlier or used out of order */
    KVS_ERR_UNAVAILABLE = 20,     /* service failed transiently: 5xx or throttled past the
                                     retry budget, host skipped by the breaker */
    KVS_ERR_RESOURCE_LIMIT = 21,   /* a configuration or local resource limit was
                                     exceeded (secret file size, recipients, header) */
    KVS_ERR_SIGNER = 22           /* a signer was required and the file is unsigned
                                     or signed by another key */
} kvs_status;

/* Broad classes of failure; the CLI maps each to one documented exit code. */
typedef enum kvs_category {
    KVS_CAT_OK = 0,
    KVS_CAT_USAGE,    /* exit 1 */
    KVS_CAT_INPUT,    /* exit 2: not a valid or authentic kvseal file */
    KVS_CAT_KEY,      /* exit 3: no recipient could be unwrapped */
    KVS_CAT_IO,       /* exit 4 */
    KVS_CAT_INTERNAL, /* exit 5: out of memory, crypto library or internal failure */
    KVS_CAT_TRANSIENT /* exit 7: service unreachable or unavailable; retrying later may
                         succeed (KVS_ERR_NETWORK, KVS_ERR_UNAVAILABLE) */
} kvs_category;

#define KVS_ERROR_DETAIL_MAX 512

/* Detail of the last failure of an operation: status plus one line of text. */
typedef struct kvs_error {
    kvs_status status;
    char detail[KVS_ERROR_DETAIL_MAX];
} kvs_error;

/* Every kvs_error *err parameter of the API may be NULL: no detail is kept. */

/* Static, human-readable name of a status ("header authentication failed"). */
KVS_API const char *kvs_strerror(kvs_status status);

KVS_API kvs_category kvs_status_category(kvs_status status);

/* Detail text if set (owned by err, valid while it is unchanged), else
 * kvs_strerror(err->status) (static). Never NULL. */
KVS_API const char *kvs_error_message(const kvs_error *err);

KVS_API void kvs_error_clear(kvs_error *err);

#ifdef __cplusplus
}
#endif
#endif
