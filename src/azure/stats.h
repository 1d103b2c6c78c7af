/* Process-wide counters behind kvs_keyvault_stats(). */
#ifndef KVS_AZURE_STATS_H
#define KVS_AZURE_STATS_H

typedef enum kvs_kv_stat {
    KVS_STAT_GET_KEY,
    KVS_STAT_WRAP,
    KVS_STAT_UNWRAP,
    KVS_STAT_TOKEN,
    KVS_STAT_HTTP,
    KVS_STAT_CHALLENGE,
    KVS_STAT_RETRY,
    KVS_STAT_DEK_HIT,
    KVS_STAT_COUNT_
} kvs_kv_stat;

void kvs_kv_stat_add(kvs_kv_stat which);

#endif
