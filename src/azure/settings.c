/* Key Vault client settings from config, environment and defaults. */
#include "azure/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/kvurl.h"
#include "azure/retry.h"
#include "core/error.h"

static kvs_status kvs_pick_str(char *dst, size_t cap, const char *cfg_value, const char *env,
                               kvs_error *err)
{
    const char *v = cfg_value ? cfg_value : getenv(env);
    if (v == NULL) v = "";
    if (strlen(v) >= cap) return kvs_fail(err, KVS_ERR_CONFIG, "%s is too long", env);
    memcpy(dst, v, strlen(v) + 1);
    return KVS_OK;
}

static kvs_status kvs_pick_uint(unsigned *dst, unsigned cfg_value, const char *env,
                                unsigned dflt, kvs_error *err)
{
    int64_t v;
    const char *e = getenv(env);
    *dst = dflt;
    if (cfg_value) {
        *dst = cfg_value;
    } else if (e != NULL && e[0] != '\0') {
        if (kvs_parse_seconds(e, &v) != 0 || v < 1 || v > 86400)
            return kvs_fail(err, KVS_ERR_CONFIG, "%s must be whole seconds from 1 to 86400",
                            env);
        *dst = (unsigned)v;
    }
    return KVS_OK;
}

/* "login.microsoftonline.com" or "https://host[:port][/]" -> "https://host[:port]". */
static kvs_status kvs_normalise_authority(char *a, size_t cap, kvs_error *err)
{
    char tmp[512], host[KVS_KV_HOST_MAX];
    unsigned port;
    const char *path;
    if (a[0] == '\0') return KVS_OK;
    int n = strstr(a, "://") ? snprintf(tmp, sizeof(tmp), "%s", a)
                              : snprintf(tmp, sizeof(tmp), "https://%s", a);
    if (n < 0 || (size_t)n >= sizeof(tmp)) return kvs_fail(err, KVS_ERR_CONFIG, "authority too long");
    while (n > 8 && tmp[n - 1] == '/') tmp[--n] = '\0';
    if (kvs_https_url_split(tmp, host, sizeof(host), &port, &path) != 0 || path[0] != '\0')
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "AZURE_AUTHORITY_HOST must be an https host such as "
                        "https://login.microsoftonline.com");
    int w = port ? snprintf(a, cap, "https://%s:%u", host, port)
                 : snprintf(a, cap, "https://%s", host);
    return (w < 0 || (size_t)w >= cap) ? kvs_fail(err, KVS_ERR_CONFIG, "authority too long")
                                       : KVS_OK;
}

/* KVSEAL_CLOUD / cfg->cloud: "public" (also the default), "china", "usgov". */
static kvs_status kvs_pick_cloud(kvs_kv_cloud *cloud, const char *cfg_value, kvs_error *err)
{
    const char *v = cfg_value ? cfg_value : getenv("KVSEAL_CLOUD");
    if (v == NULL || v[0] == '\0' || strcmp(v, "public") == 0) *cloud = KVS_KV_CLOUD_PUBLIC;
    else if (strcmp(v, "china") == 0) *cloud = KVS_KV_CLOUD_CHINA;
    else if (strcmp(v, "usgov") == 0) *cloud = KVS_KV_CLOUD_USGOV;
    else
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "unknown Azure cloud '%.32s' (KVSEAL_CLOUD or --cloud: public, china, "
                        "usgov)", v);
    return KVS_OK;
}

kvs_status kvs_kv_settings_resolve(const kvs_keyvault_config *cfg, kvs_kv_settings *s,
                                   kvs_error *err)
{
    kvs_keyvault_config none;
    memset(&none, 0, sizeof(none));
    if (cfg == NULL) cfg = &none;
    memset(s, 0, sizeof(*s));
    kvs_status st = kvs_pick_str(s->ca_file, sizeof(s->ca_file), cfg->ca_file,
                                 "KVSEAL_CA_FILE", err);
    if (st == KVS_OK)
        st = kvs_pick_str(s->allowed, sizeof(s->allowed), cfg->allowed_hosts,
                          "KVSEAL_ALLOWED_HOSTS", err);
    if (st == KVS_OK)
        st = kvs_pick_str(s->credential, sizeof(s->credential), cfg->credential,
                          "KVSEAL_CREDENTIAL", err);
    if (st == KVS_OK)
        st = kvs_pick_str(s->authority, sizeof(s->authority), cfg->authority_host,
                          "AZURE_AUTHORITY_HOST", err);
    if (st == KVS_OK) st = kvs_normalise_authority(s->authority, sizeof(s->authority), err);
    if (st == KVS_OK) st = kvs_pick_cloud(&s->cloud, cfg->cloud, err);
    /* The sign-in host comes from configuration only, never from the cloud
     * of a host a file names (that would send the credential elsewhere). */
    if (st == KVS_OK && s->authority[0] == '\0')
        snprintf(s->authority, sizeof(s->authority), "%s", kvs_kv_cloud_authority(s->cloud));
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->connect_s, cfg->connect_timeout, "KVSEAL_CONNECT_TIMEOUT", 10, err);
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->request_s, cfg->request_timeout, "KVSEAL_HTTP_TIMEOUT", 30, err);
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->retry_s, cfg->retry_max_seconds, "KVSEAL_RETRY_MAX_SECONDS", 60,
                           err);
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->throttle_s, cfg->throttle_max_seconds,
                           "KVSEAL_THROTTLE_MAX_SECONDS", 900, err);
    return st;
}
