/* The shared Key Vault client: one per process and effective settings,
 * made on first use, reference counted, and the accessors of its caches.
 * The request itself is in call.c. */
#include "azure/client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "azure/client_impl.h"
#include "core/error.h"

static pthread_mutex_t kvs_kv_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static kvs_kv_client *kvs_kv_registry;

static void kvs_kv_client_destroy(kvs_kv_client *c)
{
    if (c == NULL) return;
    kvs_token_cache_free(c->tokens);
    kvs_key_cache_free(c->keys);
    if (c->attachment_free != NULL) c->attachment_free(c->attachment);
    pthread_mutex_destroy(&c->attachment_lock);
    kvs_chal_cache_free(c->chal);
    kvs_cred_free(c->cred);
    kvs_breaker_free(c->breaker);
    kvs_http_pool_free(c->pool);
    kvs_pacer_free(c->pacer);
    free(c);
}

static kvs_status kvs_kv_client_create(const kvs_kv_settings *s, kvs_kv_client **out,
                                       kvs_error *err)
{
    kvs_kv_client *c = calloc(1, sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    c->set = *s;
    pthread_mutex_init(&c->attachment_lock, NULL);
    /* KVSEAL_CA_FILE vouches only for the hosts allowed explicitly. */
    kvs_http_config hc = {c->set.ca_file[0] ? c->set.ca_file : NULL, s->connect_s, s->request_s,
                          s->throttle_s, &c->allow, NULL};
    kvs_status st = KVS_OK;
    if (kvs_kv_allowlist_parse(s->allowed, &c->allow) != 0)
        st = kvs_fail(err, KVS_ERR_CONFIG,
                      "KVSEAL_ALLOWED_HOSTS: expected comma-separated host or host:port "
                      "entries (at most %d)", KVS_KV_ALLOW_MAX);
    if (st == KVS_OK) st = kvs_http_pool_new(&hc, &c->pool, err);
    if (st == KVS_OK && ((c->pacer = kvs_pacer_new()) == NULL ||
                         (c->breaker = kvs_breaker_new()) == NULL ||
                         (c->chal = kvs_chal_cache_new()) == NULL ||
                         (c->tokens = kvs_token_cache_new()) == NULL ||
                         (c->keys = kvs_key_cache_new()) == NULL))
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) st = kvs_cred_new(s->credential[0] ? s->credential : NULL, &c->cred, err);
    if (st != KVS_OK) {
        kvs_kv_client_destroy(c);
        return st;
    }
    c->refs = 1;
    *out = c;
    return KVS_OK;
}

kvs_status kvs_kv_client_acquire(const kvs_keyvault_config *cfg, kvs_kv_client **out,
                                 kvs_error *err)
{
    kvs_kv_settings s;
    *out = NULL;
    kvs_status st = kvs_kv_settings_resolve(cfg, &s, err);
    if (st != KVS_OK) return st;
    pthread_mutex_lock(&kvs_kv_registry_lock);
    for (kvs_kv_client *c = kvs_kv_registry; c != NULL; c = c->next) {
        if (memcmp(&c->set, &s, sizeof(s)) == 0) { /* not secret; zero-padded */
            c->refs++;
            *out = c;
            break;
        }
    }
    if (*out == NULL) {
        st = kvs_kv_client_create(&s, out, err);
        if (st == KVS_OK) {
            (*out)->next = kvs_kv_registry;
            kvs_kv_registry = *out;
        }
    }
    pthread_mutex_unlock(&kvs_kv_registry_lock);
    return st;
}

void kvs_kv_client_release(kvs_kv_client *c)
{
    if (c == NULL) return;
    pthread_mutex_lock(&kvs_kv_registry_lock);
    int last = --c->refs == 0;
    if (last) {
        for (kvs_kv_client **p = &kvs_kv_registry; *p != NULL; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&kvs_kv_registry_lock);
    if (last) kvs_kv_client_destroy(c);
}

kvs_status kvs_kv_client_check_host(kvs_kv_client *c, const kvs_kv_keyref *key,
                                    kvs_kv_hostinfo *info, kvs_status fail_status,
                                    kvs_error *err)
{
    char hp[KVS_KV_HOSTPORT_MAX];
    kvs_kv_hostport(key, hp, sizeof(hp));
    int allowed = kvs_kv_host_allowed(&c->allow, key->host, key->port, info);
    if (allowed && info->cloud != KVS_KV_CLOUD_NONE && info->cloud != c->set.cloud)
        return kvs_fail(err, fail_status,
                        "refusing to contact %s: a %s host of the Azure %s cloud, but kvseal "
                        "is set up for the Azure %s cloud (choose it with --cloud or "
                        "KVSEAL_CLOUD: public, china, usgov); no request was sent",
                        hp, info->managed_hsm ? "Managed HSM" : "Key Vault",
                        kvs_kv_cloud_name(info->cloud), kvs_kv_cloud_name(c->set.cloud));
    if (allowed) return KVS_OK;
    return kvs_fail(err, fail_status,
                    "refusing to contact %s: not a Key Vault or Managed HSM host of a known "
                    "Azure cloud, and not listed in KVSEAL_ALLOWED_HOSTS (comma-separated "
                    "host or host:port); no request was sent",
                    hp);
}

EVP_PKEY *kvs_kv_client_key_get(kvs_kv_client *c, const char *kid)
{
    return kvs_key_cache_get(c->keys, kid);
}

void kvs_kv_client_key_put(kvs_kv_client *c, const char *kid, EVP_PKEY *pkey)
{
    kvs_key_cache_put(c->keys, kid, pkey);
}

void *kvs_kv_client_attachment(kvs_kv_client *c, void *(*make)(void), void (*free_fn)(void *))
{
    pthread_mutex_lock(&c->attachment_lock);
    if (c->attachment == NULL && (c->attachment = make()) != NULL) c->attachment_free = free_fn;
    void *a = c->attachment;
    pthread_mutex_unlock(&c->attachment_lock);
    return a;
}
