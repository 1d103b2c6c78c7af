/* Process-wide counters behind kvs_keyvault_stats(). */
#include "azure/stats.h"

#include <stdatomic.h>

#include "kvseal/keyvault.h"

static atomic_ulong kvs_kv_counters[KVS_STAT_COUNT_];

void kvs_kv_stat_add(kvs_kv_stat which)
{
    if (which < KVS_STAT_COUNT_) atomic_fetch_add(&kvs_kv_counters[which], 1ul);
}

static unsigned long kvs_kv_stat_get(kvs_kv_stat which)
{
    return atomic_load(&kvs_kv_counters[which]);
}

void kvs_keyvault_stats(kvs_keyvault_counts *out)
{
    if (out == NULL) return;
    out->get_key = kvs_kv_stat_get(KVS_STAT_GET_KEY);
    out->wrap = kvs_kv_stat_get(KVS_STAT_WRAP);
    out->unwrap = kvs_kv_stat_get(KVS_STAT_UNWRAP);
    out->token = kvs_kv_stat_get(KVS_STAT_TOKEN);
    out->http_requests = kvs_kv_stat_get(KVS_STAT_HTTP);
    out->challenges = kvs_kv_stat_get(KVS_STAT_CHALLENGE);
    out->retries = kvs_kv_stat_get(KVS_STAT_RETRY);
    out->dek_cache_hits = kvs_kv_stat_get(KVS_STAT_DEK_HIT);
}

void kvs_keyvault_stats_reset(void)
{
    for (int i = 0; i < KVS_STAT_COUNT_; i++) atomic_store(&kvs_kv_counters[i], 0ul);
}
