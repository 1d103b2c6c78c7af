/* The shared Key Vault client: settings, caches, and the challenge flow. */
#define _POSIX_C_SOURCE 200809L
#include "azure/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/challenge.h"
#include "azure/cred.h"
#include "azure/http.h"
#include "azure/kverror.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "core/error.h"
#include "keys/dek_cache.h"

#define KVS_API_VERSION "7.4"
#define KVS_CHAL_CACHE 32
#define KVS_TOKEN_CACHE 16
#define KVS_KEY_CACHE 64
#define KVS_TOKEN_MARGIN_S 300 /* refresh 5 minutes before expiry */

typedef struct kvs_kv_settings {
    char ca_file[4096];
    char allowed[4096];
    char credential[32];
    char authority[512]; /* "" = the vault's cloud */
    unsigned connect_s;
    unsigned request_s;
    unsigned retry_s;
} kvs_kv_settings;

typedef struct kvs_chal_entry {
    char hostport[KVS_KV_HOSTPORT_MAX];
    kvs_challenge_info ci;
    uint64_t stamp;
} kvs_chal_entry;

typedef struct kvs_token_entry {
    char authority[512];
    char scope[KVS_SCOPE_MAX];
    char tenant[KVS_TENANT_MAX + 1];
    kvs_token tok;
    uint64_t stamp;
} kvs_token_entry;

typedef struct kvs_key_entry {
    char kid[KVS_MAX_KEY_ID_LEN + 1];
    EVP_PKEY *pkey;
} kvs_key_entry;

struct kvs_kv_client {
    kvs_kv_client *next; /* registry */
    int refs;
    kvs_kv_settings set;
    pthread_mutex_t lock;
    kvs_http *http;
    kvs_cred *cred;
    kvs_kv_allowlist allow;
    uint64_t tick;
    kvs_chal_entry chal[KVS_CHAL_CACHE];
    kvs_token_entry tokens[KVS_TOKEN_CACHE];
    kvs_key_entry keys[KVS_KEY_CACHE];
    size_t keys_next;
    kvs_dek_cache *deks;
};

static pthread_mutex_t kvs_kv_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static kvs_kv_client *kvs_kv_registry;

/* ---- settings ----------------------------------------------------------- */

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

static kvs_status kvs_settings_resolve(const kvs_keyvault_config *cfg, kvs_kv_settings *s,
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
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->connect_s, cfg->connect_timeout, "KVSEAL_CONNECT_TIMEOUT", 10, err);
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->request_s, cfg->request_timeout, "KVSEAL_HTTP_TIMEOUT", 30, err);
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->retry_s, cfg->retry_max_seconds, "KVSEAL_RETRY_MAX_SECONDS", 60,
                           err);
    return st;
}

/* ---- registry ----------------------------------------------------------- */

static void kvs_kv_client_destroy(kvs_kv_client *c)
{
    if (c == NULL) return;
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) kvs_token_free(&c->tokens[i].tok);
    for (size_t i = 0; i < KVS_KEY_CACHE; i++) EVP_PKEY_free(c->keys[i].pkey);
    kvs_dek_cache_free(c->deks);
    kvs_cred_free(c->cred);
    kvs_http_free(c->http);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static kvs_status kvs_kv_client_create(const kvs_kv_settings *s, kvs_kv_client **out,
                                       kvs_error *err)
{
    kvs_kv_client *c = calloc(1, sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    c->set = *s;
    pthread_mutex_init(&c->lock, NULL);
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) kvs_token_init(&c->tokens[i].tok);
    kvs_http_config hc = {s->ca_file[0] ? s->ca_file : NULL, s->connect_s, s->request_s};
    kvs_status st = KVS_OK;
    if (kvs_kv_allowlist_parse(s->allowed, &c->allow) != 0)
        st = kvs_fail(err, KVS_ERR_CONFIG,
                      "KVSEAL_ALLOWED_HOSTS: expected comma-separated host or host:port "
                      "entries (at most %d)", KVS_KV_ALLOW_MAX);
    if (st == KVS_OK) st = kvs_http_new(&hc, &c->http, err);
    if (st == KVS_OK) st = kvs_cred_new(s->credential[0] ? s->credential : NULL, &c->cred, err);
    if (st == KVS_OK && (c->deks = kvs_dek_cache_new(0)) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
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
    kvs_status st = kvs_settings_resolve(cfg, &s, err);
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

/* ---- host policy --------------------------------------------------------- */

kvs_status kvs_kv_client_check_host(kvs_kv_client *c, const kvs_kv_keyref *key,
                                    kvs_kv_hostinfo *info, kvs_status fail_status,
                                    kvs_error *err)
{
    char hp[KVS_KV_HOSTPORT_MAX];
    kvs_kv_hostport(key, hp, sizeof(hp));
    if (kvs_kv_host_allowed(&c->allow, key->host, key->port, info)) return KVS_OK;
    return kvs_fail(err, fail_status,
                    "refusing to contact %s: not a Key Vault or Managed HSM host of a known "
                    "Azure cloud, and not listed in KVSEAL_ALLOWED_HOSTS (comma-separated "
                    "host or host:port); no request was sent",
                    hp);
}

/* ---- caches -------------------------------------------------------------- */

static const kvs_challenge_info *kvs_chal_find(kvs_kv_client *c, const char *hp)
{
    for (size_t i = 0; i < KVS_CHAL_CACHE; i++)
        if (c->chal[i].hostport[0] && strcmp(c->chal[i].hostport, hp) == 0) return &c->chal[i].ci;
    return NULL;
}

static void kvs_chal_store(kvs_kv_client *c, const char *hp, const kvs_challenge_info *ci)
{
    kvs_chal_entry *slot = &c->chal[0];
    for (size_t i = 0; i < KVS_CHAL_CACHE; i++) {
        kvs_chal_entry *e = &c->chal[i];
        if (strcmp(e->hostport, hp) == 0) {
            slot = e;
            break;
        }
        if (e->stamp < slot->stamp) slot = e;
    }
    snprintf(slot->hostport, sizeof(slot->hostport), "%s", hp);
    slot->ci = *ci;
    slot->stamp = ++c->tick;
}

static int kvs_token_valid(const kvs_token *t, int64_t now)
{
    int64_t life = t->expires_on - t->issued_at;
    int64_t margin = life / 2 < KVS_TOKEN_MARGIN_S ? life / 2 : KVS_TOKEN_MARGIN_S;
    return t->text.len > 0 && now < t->expires_on - margin;
}

static kvs_token_entry *kvs_token_find(kvs_kv_client *c, const char *authority,
                                       const char *scope, const char *tenant)
{
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) {
        kvs_token_entry *e = &c->tokens[i];
        if (e->tok.text.len && strcmp(e->authority, authority) == 0 &&
            strcmp(e->scope, scope) == 0 && strcmp(e->tenant, tenant) == 0)
            return e;
    }
    return NULL;
}

static kvs_token_entry *kvs_token_slot(kvs_kv_client *c, const char *authority,
                                       const char *scope, const char *tenant)
{
    kvs_token_entry *e = kvs_token_find(c, authority, scope, tenant);
    if (e != NULL) return e;
    e = &c->tokens[0];
    for (size_t i = 1; i < KVS_TOKEN_CACHE; i++)
        if (c->tokens[i].stamp < e->stamp) e = &c->tokens[i];
    kvs_token_free(&e->tok);
    kvs_token_init(&e->tok);
    snprintf(e->authority, sizeof(e->authority), "%s", authority);
    snprintf(e->scope, sizeof(e->scope), "%s", scope);
    snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
    return e;
}

/* ---- one vault call ------------------------------------------------------ */

typedef struct kvs_call {
    kvs_kv_client *c;
    kvs_kv_op op;
    const kvs_kv_keyref *key;
    kvs_kv_hostinfo hi;
    char hostport[KVS_KV_HOSTPORT_MAX];
    char url[2048];
    const char *body;
    size_t body_len;
    int64_t deadline;
    kvs_challenge_info ci;
    const char *tenant;
    const char *authority;
    kvs_http_resp resp;
} kvs_call;

static const char *kvs_op_name(kvs_kv_op op)
{
    return op == KVS_KV_OP_GET ? "get key" : op == KVS_KV_OP_WRAP ? "wrapkey" : "unwrapkey";
}

static kvs_status kvs_call_url(kvs_call *k, kvs_error *err)
{
    const kvs_kv_keyref *key = k->key;
    const char *opseg = k->op == KVS_KV_OP_WRAP ? "/wrapkey"
                        : k->op == KVS_KV_OP_UNWRAP ? "/unwrapkey" : "";
    int n = snprintf(k->url, sizeof(k->url), "https://%s/keys/%s%s%s%s?api-version=%s",
                     k->hostport, key->name, key->version[0] ? "/" : "", key->version, opseg,
                     KVS_API_VERSION);
    if (n < 0 || (size_t)n >= sizeof(k->url))
        return kvs_fail(err, KVS_ERR_USAGE, "key URL too long");
    return KVS_OK;
}

static void kvs_call_ids(const kvs_call *k, char *ids, size_t cap)
{
    kvs_request_ids(k->resp.client_request_id, k->resp.request_id, ids, cap);
}

/* Send the call's request, with or without body and token. */
static kvs_status kvs_call_send(kvs_call *k, const char *auth_line, int with_body,
                                kvs_error *err)
{
    kvs_http_req req = {0};
    req.method = k->op == KVS_KV_OP_GET ? "GET" : "POST";
    req.url = k->url;
    req.secret_header = auth_line;
    req.body = with_body ? k->body : NULL;
    req.body_len = with_body ? k->body_len : 0;
    req.vault = 1;
    return kvs_http_exchange(k->c->http, &req, k->deadline, &k->resp, err);
}

/* Parse, derive and verify the challenge in a 401, and cache it. */
static kvs_status kvs_call_learn(kvs_call *k, kvs_error *err)
{
    kvs_challenge ch;
    char ids[200];
    kvs_call_ids(k, ids, sizeof(ids));
    kvs_kv_stat_add(KVS_STAT_CHALLENGE);
    const char *h = k->resp.www_authenticate;
    if (k->resp.www_authenticate_cut || kvs_challenge_parse(h, strlen(h), &ch) != 0 ||
        kvs_challenge_derive(&ch, &k->ci) != 0)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "%s answered 401 without a usable Bearer authentication challenge; "
                        "no token was sent%s", k->hostport, ids);
    if (!kvs_challenge_resource_ok(&k->ci, k->key->host, k->hi.explicit_allow))
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "refusing to send a token to %s: its authentication challenge names "
                        "the resource host '%s', which does not match the vault host; no "
                        "token was sent%s", k->hostport, k->ci.audience_host, ids);
    kvs_chal_store(k->c, k->hostport, &k->ci);
    k->tenant = kvs_cred_tenant(k->c->cred) ? kvs_cred_tenant(k->c->cred) : k->ci.tenant;
    return KVS_OK;
}

/* A token for the current challenge: cached unless force, else fresh. */
static kvs_status kvs_call_token(kvs_call *k, int force, const kvs_token **out, int *fresh,
                                 kvs_error *err)
{
    kvs_kv_client *c = k->c;
    kvs_token_entry *e = kvs_token_find(c, k->authority, k->ci.scope, k->tenant);
    *fresh = 0;
    if (!force && e != NULL && kvs_token_valid(&e->tok, kvs_wall_s())) {
        e->stamp = ++c->tick;
        *out = &e->tok;
        return KVS_OK;
    }
    e = kvs_token_slot(c, k->authority, k->ci.scope, k->tenant);
    kvs_token_req r = {k->authority, k->tenant, k->ci.scope, k->ci.resource, k->deadline};
    kvs_status st = kvs_cred_get_token(c->cred, c->http, &r, &e->tok, err);
    if (st != KVS_OK) {
        kvs_token_free(&e->tok);
        kvs_token_init(&e->tok);
        e->authority[0] = '\0';
        return st;
    }
    kvs_kv_stat_add(KVS_STAT_TOKEN);
    e->stamp = ++c->tick;
    *fresh = 1;
    *out = &e->tok;
    return KVS_OK;
}

static void kvs_call_drop_token(kvs_call *k)
{
    kvs_token_entry *e = kvs_token_find(k->c, k->authority, k->ci.scope, k->tenant);
    if (e == NULL) return;
    kvs_token_free(&e->tok);
    kvs_token_init(&e->tok);
    e->authority[0] = '\0';
}

/* Send with "Authorization: Bearer <token>" built in secure memory. */
static kvs_status kvs_call_send_token(kvs_call *k, const kvs_token *tok, kvs_error *err)
{
    kvs_sbuf line;
    kvs_sbuf_init(&line, tok->text.len + 64);
    kvs_status st;
    if (kvs_sbuf_puts(&line, "Authorization: Bearer ") != 0 ||
        kvs_sbuf_append(&line, tok->text.p, tok->text.len) != 0)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    else
        st = kvs_call_send(k, line.p, 1, err);
    kvs_sbuf_free(&line);
    return st;
}

static kvs_status kvs_call_rejected(kvs_call *k, kvs_error *err)
{
    char ids[200];
    kvs_call_ids(k, ids, sizeof(ids));
    return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                    "%s rejected a fresh access token from the %s credential (tenant %s, "
                    "audience %s): check that the identity belongs to that tenant and the "
                    "token's audience matches the vault%s",
                    k->hostport, kvs_cred_describe(k->c->cred), k->tenant, k->ci.scope, ids);
}

/* 200: parsed JSON out; anything else: a mapped error. */
static kvs_status kvs_call_finish(kvs_call *k, cJSON **json, kvs_error *err)
{
    char ids[200];
    kvs_call_ids(k, ids, sizeof(ids));
    if (k->resp.status == 200) {
        *json = kvs_json_parse(k->resp.body.p, k->resp.body.len);
        if (*json == NULL)
            return kvs_fail(err, KVS_ERR_NETWORK, "%s: %s sent a response that is not JSON%s",
                            kvs_op_name(k->op), k->hostport, ids);
        kvs_kv_stat_add(k->op == KVS_KV_OP_GET ? KVS_STAT_GET_KEY
                        : k->op == KVS_KV_OP_WRAP ? KVS_STAT_WRAP : KVS_STAT_UNWRAP);
        return KVS_OK;
    }
    kvs_kv_errbody b;
    kvs_kv_errbody_parse(k->resp.body.p, k->resp.body.len, &b);
    kvs_kv_errctx x = {kvs_op_name(k->op), k->key->name, k->key->version, k->hostport,
                       k->hi.managed_hsm, k->resp.client_request_id, k->resp.request_id};
    return kvs_kv_http_error(err, k->resp.status, &b, &x);
}

/* First contact with a host: no token, no body; learn the challenge. */
static kvs_status kvs_call_probe(kvs_call *k, int *answered, kvs_error *err)
{
    *answered = 0;
    kvs_status st = kvs_call_send(k, NULL, 0, err);
    if (st != KVS_OK) return st;
    if (k->resp.status != 401) {
        *answered = 1; /* no authentication needed, or an error to report */
        return KVS_OK;
    }
    return kvs_call_learn(k, err);
}

/* After a 401 to a request that carried a token. */
static kvs_status kvs_call_after_401(kvs_call *k, int fresh, kvs_error *err)
{
    if (k->resp.www_authenticate[0] != '\0') {
        /* The challenge may have changed (another tenant): verify it again. */
        kvs_status st = kvs_call_learn(k, err);
        if (st != KVS_OK) return st;
    } else {
        kvs_kv_stat_add(KVS_STAT_CHALLENGE);
    }
    if (fresh) return kvs_call_rejected(k, err);
    kvs_call_drop_token(k);
    const kvs_token *tok;
    kvs_status st = kvs_call_token(k, 1, &tok, &fresh, err);
    if (st == KVS_OK) st = kvs_call_send_token(k, tok, err);
    if (st == KVS_OK && k->resp.status == 401) return kvs_call_rejected(k, err);
    return st;
}

static kvs_status kvs_call_run(kvs_call *k, cJSON **json, kvs_error *err)
{
    kvs_kv_client *c = k->c;
    kvs_status st = kvs_kv_client_check_host(c, k->key, &k->hi, KVS_ERR_KEY_ACCESS, err);
    if (st != KVS_OK) return st;
    kvs_kv_hostport(k->key, k->hostport, sizeof(k->hostport));
    if ((st = kvs_call_url(k, err)) != KVS_OK) return st;
    k->authority = c->set.authority[0] ? c->set.authority : kvs_kv_cloud_authority(k->hi.cloud);
    k->deadline = kvs_mono_ms() + (int64_t)c->set.retry_s * 1000;

    const kvs_challenge_info *cached = kvs_chal_find(c, k->hostport);
    if (cached != NULL) {
        k->ci = *cached;
        k->tenant = kvs_cred_tenant(c->cred) ? kvs_cred_tenant(c->cred) : k->ci.tenant;
    } else {
        int answered;
        st = kvs_call_probe(k, &answered, err);
        if (st != KVS_OK) return st;
        if (answered) return kvs_call_finish(k, json, err);
    }
    const kvs_token *tok;
    int fresh;
    st = kvs_call_token(k, 0, &tok, &fresh, err);
    if (st == KVS_OK) st = kvs_call_send_token(k, tok, err);
    if (st == KVS_OK && k->resp.status == 401) st = kvs_call_after_401(k, fresh, err);
    if (st != KVS_OK) return st;
    return kvs_call_finish(k, json, err);
}

kvs_status kvs_kv_client_call(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                              const char *body, size_t body_len, cJSON **json, kvs_error *err)
{
    kvs_call *k = calloc(1, sizeof(*k));
    *json = NULL;
    if (k == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    k->c = c;
    k->op = op;
    k->key = key;
    k->body = body;
    k->body_len = body_len;
    kvs_http_resp_init(&k->resp);
    pthread_mutex_lock(&c->lock);
    kvs_status st = kvs_call_run(k, json, err);
    pthread_mutex_unlock(&c->lock);
    kvs_http_resp_free(&k->resp);
    free(k);
    return st;
}

/* ---- public keys and DEKs -------------------------------------------------- */

EVP_PKEY *kvs_kv_client_key_get(kvs_kv_client *c, const char *kid)
{
    EVP_PKEY *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < KVS_KEY_CACHE; i++) {
        if (c->keys[i].pkey != NULL && strcmp(c->keys[i].kid, kid) == 0) {
            if (EVP_PKEY_up_ref(c->keys[i].pkey)) found = c->keys[i].pkey;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void kvs_kv_client_key_put(kvs_kv_client *c, const char *kid, EVP_PKEY *pkey)
{
    if (strlen(kid) > KVS_MAX_KEY_ID_LEN || !EVP_PKEY_up_ref(pkey)) return;
    pthread_mutex_lock(&c->lock);
    kvs_key_entry *e = &c->keys[c->keys_next];
    c->keys_next = (c->keys_next + 1) % KVS_KEY_CACHE;
    EVP_PKEY_free(e->pkey);
    memcpy(e->kid, kid, strlen(kid) + 1);
    e->pkey = pkey;
    pthread_mutex_unlock(&c->lock);
}

int kvs_kv_client_dek_get(kvs_kv_client *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN])
{
    pthread_mutex_lock(&c->lock);
    int hit = kvs_dek_cache_get(c->deks, r, dek);
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kvs_kv_client_dek_put(kvs_kv_client *c, const kvs_recipient *r,
                           const uint8_t dek[KVS_DEK_LEN])
{
    pthread_mutex_lock(&c->lock);
    kvs_dek_cache_put(c->deks, r, dek);
    pthread_mutex_unlock(&c->lock);
}
