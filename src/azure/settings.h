/* The Key Vault client's effective settings: each kvs_keyvault_config
 * member, else its environment variable, else the documented default. Two
 * configurations with equal settings share one client. */
#ifndef KVS_AZURE_SETTINGS_H
#define KVS_AZURE_SETTINGS_H

#include "azure/kvurl.h"
#include "kvseal/keyvault.h"

typedef struct kvs_kv_settings {
    char ca_file[4096];
    char allowed[4096];
    char credential[32];
    char authority[512]; /* AZURE_AUTHORITY_HOST, else the cloud's sign-in host */
    unsigned connect_s;
    unsigned request_s;
    unsigned retry_s;
    unsigned throttle_s;
    kvs_kv_cloud cloud; /* the only cloud whose vault hosts are contacted */
} kvs_kv_settings;

/* Resolve cfg (may be NULL) into s, zero-padded so that settings compare
 * with memcmp. KVS_ERR_CONFIG names the bad variable. */
kvs_status kvs_kv_settings_resolve(const kvs_keyvault_config *cfg, kvs_kv_settings *s,
                                   kvs_error *err);

#endif
