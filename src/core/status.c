/* Status names and categories (public API in kvseal/status.h). */
#include "kvseal/status.h"

#include <string.h>

const char *kvs_strerror(kvs_status status)
{
    switch (status) {
    case KVS_OK: return "success";
    case KVS_ERR_USAGE: return "invalid argument or API misuse";
    case KVS_ERR_CONFIG: return "invalid configuration";
    case KVS_ERR_NOT_KVSEAL: return "not a kvseal file or unsupported version";
    case KVS_ERR_FORMAT: return "malformed kvseal header";
    case KVS_ERR_AUTH: return "authentication failed";
    case KVS_ERR_TRUNCATED: return "input is truncated";
    case KVS_ERR_TRAILING_DATA: return "unexpected data after the final chunk";
    case KVS_ERR_CONTEXT_MISMATCH: return "encryption context does not match";
    case KVS_ERR_NO_RECIPIENT: return "no recipient could be unwrapped";
    case KVS_ERR_KEY: return "key unusable or decryption with the key failed";
    case KVS_ERR_KEY_ACCESS: return "key service refused access";
    case KVS_ERR_NETWORK: return "key service unreachable";
    case KVS_ERR_IO: return "input/output error";
    case KVS_ERR_NOMEM: return "out of memory";
    case KVS_ERR_LIMIT: return "the input exceeds a format limit";
    case KVS_ERR_CRYPTO: return "crypto library failure";
    case KVS_ERR_INTERNAL: return "internal error (please report)";
    case KVS_ERR_EXISTS: return "output already exists";
    case KVS_ERR_STATE: return "operation used out of order or after a failure";
    case KVS_ERR_UNAVAILABLE: return "service temporarily unavailable";
    case KVS_ERR_RESOURCE_LIMIT: return "a configuration or resource limit was exceeded";
    case KVS_ERR_SIGNER: return "the file is not signed by the required signer";
    }
    return "unknown status";
}

kvs_category kvs_status_category(kvs_status status)
{
    switch (status) {
    case KVS_OK:
        return KVS_CAT_OK;
    case KVS_ERR_USAGE:
    case KVS_ERR_CONFIG:
    case KVS_ERR_EXISTS:
    case KVS_ERR_RESOURCE_LIMIT:
        return KVS_CAT_USAGE;
    case KVS_ERR_NOT_KVSEAL:
    case KVS_ERR_FORMAT:
    case KVS_ERR_AUTH:
    case KVS_ERR_TRUNCATED:
    case KVS_ERR_TRAILING_DATA:
    case KVS_ERR_CONTEXT_MISMATCH:
    case KVS_ERR_LIMIT: /* an input exceeding a format limit */
    case KVS_ERR_SIGNER:
        return KVS_CAT_INPUT;
    case KVS_ERR_NO_RECIPIENT:
    case KVS_ERR_KEY:
    case KVS_ERR_KEY_ACCESS:
        return KVS_CAT_KEY;
    case KVS_ERR_NETWORK:
    case KVS_ERR_UNAVAILABLE:
        return KVS_CAT_TRANSIENT;
    case KVS_ERR_IO:
        return KVS_CAT_IO;
    case KVS_ERR_NOMEM:
    case KVS_ERR_CRYPTO:
    case KVS_ERR_INTERNAL:
    case KVS_ERR_STATE:
        return KVS_CAT_INTERNAL;
    }
    return KVS_CAT_INTERNAL;
}

const char *kvs_error_message(const kvs_error *err)
{
    if (err == NULL) return kvs_strerror(KVS_OK);
    /* Bounded: a detail that lost its terminator falls back to the name. */
    if (err->detail[0] != '\0' && memchr(err->detail, '\0', sizeof(err->detail)) != NULL)
        return err->detail;
    return kvs_strerror(err->status);
}

void kvs_error_clear(kvs_error *err)
{
    if (err == NULL) return;
    err->status = KVS_OK;
    memset(err->detail, 0, sizeof(err->detail));
}
