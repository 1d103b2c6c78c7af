/* Per-file Key Vault limits from the environment (keys/keyvault_file.h). */
#include "keys/keyvault_file.h"

#include <stdlib.h>

#include "azure/retry.h"
#include "core/error.h"

static kvs_status kvs_env_count(const char *name, int64_t lo, int64_t hi, int64_t dflt,
                                int64_t *out, kvs_error *err)
{
    const char *v = getenv(name);
    *out = dflt;
    if (v == NULL || v[0] == '\0') return KVS_OK;
    if (kvs_parse_seconds(v, out) != 0 || *out < lo || *out > hi)
        return kvs_fail(err, KVS_ERR_CONFIG, "%s must be a whole number from %lld to %lld",
                        name, (long long)lo, (long long)hi);
    return KVS_OK;
}

kvs_status kvs_kv_file_limits_get(kvs_kv_file_limits *out, kvs_error *err)
{
    int64_t budget, remote;
    kvs_status st = kvs_env_count("KVSEAL_FILE_BUDGET_SECONDS", 1, 86400,
                                  KVS_FILE_BUDGET_DEFAULT_S, &budget, err);
    if (st == KVS_OK)
        st = kvs_env_count("KVSEAL_MAX_REMOTE_RECIPIENTS", 1, 64, KVS_MAX_REMOTE_DEFAULT,
                           &remote, err);
    if (st != KVS_OK) return st;
    out->budget_ms = budget * 1000;
    out->max_remote = (unsigned)remote;
    return KVS_OK;
}
