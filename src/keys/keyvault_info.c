/* kvs_keyvault_key_info: which version of a key is current, and the state
 * of one version (include/kvseal/keyvault.h). Used by `kvseal audit`. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "azure/client.h"
#include "azure/kvjson.h"
#include "azure/kvurl.h"
#include "azure/retry.h"
#include "core/error.h"
#include "kvseal/keyvault.h"

/* A disabled version answers 403 KeyDisabled even to GET. */
static int kvs_is_disabled(kvs_status st, const kvs_kv_call_info *ci)
{
    return st != KVS_OK && ci->http_status == 403 && strcmp(ci->inner, "KeyDisabled") == 0;
}

static void kvs_take_attrs(const cJSON *bundle, kvs_keyvault_version_info *info)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(bundle, "attributes");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(bundle, "key");
    int64_t now = kvs_wall_s();
    int enabled = 1;
    (void)kvs_json_bool(attrs, "enabled", &enabled);
    (void)kvs_json_i64(attrs, "created", &info->created);
    (void)kvs_json_i64(attrs, "updated", &info->updated);
    (void)kvs_json_i64(attrs, "nbf", &info->nbf);
    (void)kvs_json_i64(attrs, "exp", &info->exp);
    info->enabled = enabled != 0;
    info->usable = info->enabled && (info->nbf == 0 || info->nbf <= now) &&
                   (info->exp == 0 || info->exp > now);
    const char *kty = kvs_json_str(key, "kty");
    snprintf(info->kty, sizeof(info->kty), "%s", kty ? kty : "");
}

/* The versioned kid a GET answered with, checked against what was asked. */
static kvs_status kvs_bundle_kid(const cJSON *bundle, const kvs_kv_keyref *asked, char *out,
                                 size_t cap, kvs_error *err)
{
    kvs_kv_keyref got;
    const char *kid = kvs_json_str(cJSON_GetObjectItemCaseSensitive(bundle, "key"), "kid");
    if (kid == NULL || strlen(kid) > KVS_MAX_KEY_ID_LEN || kvs_kv_parse_kid(kid, &got) != 0 ||
        strcmp(got.host, asked->host) != 0 ||
        got.port != asked->port || strcasecmp(got.name, asked->name) != 0)
        return kvs_fail(err, KVS_ERR_KEY, "the vault answered for another key than %s",
                        asked->name);
    if (kvs_kv_format_key_url(&got, out, cap) != 0)
        return kvs_fail(err, KVS_ERR_KEY, "kid too long");
    return KVS_OK;
}

/* GET key (version "" = current). *bundle NULL and *disabled set when the
 * vault refused because that version is disabled. */
static kvs_status kvs_get_bundle(kvs_kv_client *c, const kvs_kv_keyref *key, cJSON **bundle,
                                 int *disabled, kvs_error *err)
{
    kvs_kv_call_info ci;
    kvs_error e;
    kvs_error_clear(&e);
    *disabled = 0;
    kvs_status st = kvs_kv_client_call_ex(c, KVS_KV_OP_GET, key, NULL, 0, bundle, &ci, &e);
    if (kvs_is_disabled(st, &ci)) {
        *disabled = 1;
        return KVS_OK;
    }
    return st == KVS_OK ? KVS_OK : kvs_error_copy(err, &e);
}

static kvs_status kvs_info_current(kvs_kv_client *c, const kvs_kv_keyref *key,
                                   kvs_keyvault_version_info *info, kvs_error *err)
{
    kvs_kv_keyref cur = *key;
    cJSON *bundle = NULL;
    int disabled = 0;
    cur.version[0] = '\0';
    kvs_status st = kvs_get_bundle(c, &cur, &bundle, &disabled, err);
    if (st == KVS_OK && bundle != NULL)
        st = kvs_bundle_kid(bundle, key, info->current_kid, sizeof(info->current_kid), err);
    if (st == KVS_OK && bundle != NULL && key->version[0] == '\0') {
        snprintf(info->kid, sizeof(info->kid), "%s", info->current_kid);
        kvs_take_attrs(bundle, info);
    } else if (st == KVS_OK && disabled && key->version[0] == '\0') {
        kvs_kv_format_key_url(key, info->kid, sizeof(info->kid)); /* current, disabled */
    }
    kvs_json_free_wiped(bundle);
    return st;
}

static kvs_status kvs_info_version(kvs_kv_client *c, const kvs_kv_keyref *key,
                                   kvs_keyvault_version_info *info, kvs_error *err)
{
    cJSON *bundle = NULL;
    int disabled = 0;
    kvs_kv_format_key_url(key, info->kid, sizeof(info->kid));
    kvs_status st = kvs_get_bundle(c, key, &bundle, &disabled, err);
    if (st == KVS_OK && bundle != NULL) kvs_take_attrs(bundle, info);
    kvs_json_free_wiped(bundle);
    return st;
}

/* The parsed key_url and the shared client, once the host policy allows
 * the host; no request is made. On failure *c is released. */
static kvs_status kvs_info_client(const char *key_url, const kvs_keyvault_config *cfg,
                                  kvs_kv_keyref *key, kvs_kv_client **c, kvs_error *err)
{
    kvs_kv_hostinfo hi;
    *c = NULL;
    if (key_url == NULL || kvs_kv_parse_key_url(key_url, key) != 0)
        return kvs_fail(err, KVS_ERR_USAGE, "'%.200s' is not a Key Vault key URL",
                        key_url ? key_url : "");
    kvs_status st = kvs_kv_client_acquire(cfg, c, err);
    if (st == KVS_OK) st = kvs_kv_client_check_host(*c, key, &hi, KVS_ERR_KEY_ACCESS, err);
    if (st != KVS_OK) {
        kvs_kv_client_release(*c);
        *c = NULL;
    }
    return st;
}

kvs_status kvs_keyvault_host_allowed(const char *key_url, const kvs_keyvault_config *cfg,
                                     kvs_error *err)
{
    kvs_kv_keyref key;
    kvs_kv_client *c;
    kvs_status st = kvs_info_client(key_url, cfg, &key, &c, err);
    kvs_kv_client_release(c);
    return st;
}

kvs_status kvs_keyvault_key_info(const char *key_url, const kvs_keyvault_config *cfg,
                                 kvs_keyvault_version_info *info, kvs_error *err)
{
    kvs_kv_keyref key;
    kvs_kv_client *c = NULL;
    if (info == NULL) return kvs_fail(err, KVS_ERR_USAGE, "key info: missing info");
    memset(info, 0, sizeof(*info));
    kvs_status st = kvs_info_client(key_url, cfg, &key, &c, err);
    if (st == KVS_OK) st = kvs_info_current(c, &key, info, err);
    if (st == KVS_OK && key.version[0] != '\0') {
        char asked[KVS_MAX_KEY_ID_LEN + 1];
        kvs_kv_format_key_url(&key, asked, sizeof(asked));
        info->is_current = strcasecmp(asked, info->current_kid) == 0;
        st = kvs_info_version(c, &key, info, err);
    } else if (st == KVS_OK) {
        info->is_current = 1;
    }
    kvs_kv_client_release(c);
    return st;
}
