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
#include "azure/pacer.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "core/error.h"
#include "keys/dek_cache.h"

#define KVS_API_VERSION "7.4"
#define KVS_CHAL_CACHE 32
#define KVS_TOKEN_CACHE 16
#define KVS_KEY_CACHE 64
#define KVS_TOKEN_MARGIN_S 300 /* refresh 5 minutes before expiry */
#define KVS_HTTP_SLOTS 16      /* concurrent vault calls per client */
#define KVS_INFLIGHT 64        /* unwraps in flight tracked for single flight */
#define KVS_DOWN_HOSTS 8
#define KVS_DOWN_MS 60000      /* skip a vault this long after it was unreachable */

typedef struct kvs_kv_settings {
    char ca_file[4096];
    char allowed[4096];
    char credential[32];
    char authority[512]; /* "" = the vault's cloud */
    unsigned connect_s;
    unsigned request_s;
    unsigned retry_s;
    unsigned throttle_s;
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

/* A vault that did not answer: later calls fail fast instead of each
 * spending the whole retry budget (disaster recovery moves on quickly). */
typedef struct kvs_down_entry {
    char hostport[KVS_KV_HOSTPORT_MAX];
    int64_t until; /* kvs_mono_ms */
    char why[200];
} kvs_down_entry;

/* Locking: `lock` guards the caches, the credential and the slot table; it
 * is never held across a vault request (only across a token request, so
 * that one token serves every waiting caller). Each call checks out its own
 * HTTP handle, so up to KVS_HTTP_SLOTS calls run concurrently. */
struct kvs_kv_client {
    kvs_kv_client *next; /* registry */
    int refs;
    kvs_kv_settings set;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a handle was returned or an unwrap finished */
    kvs_http_config hc;
    kvs_http *http[KVS_HTTP_SLOTS]; /* made on demand; [0] at creation */
    int http_busy[KVS_HTTP_SLOTS];
    kvs_pacer *pacer;
    uint8_t inflight[KVS_INFLIGHT][32]; /* DEK cache ids being unwrapped */
    int inflight_used[KVS_INFLIGHT];
    kvs_down_entry down[KVS_DOWN_HOSTS];
    char probing[KVS_HTTP_SLOTS][KVS_KV_HOSTPORT_MAX]; /* first contact under way */
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
    if (st == KVS_OK)
        st = kvs_pick_uint(&s->throttle_s, cfg->throttle_max_seconds,
                           "KVSEAL_THROTTLE_MAX_SECONDS", 900, err);
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
    for (size_t i = 0; i < KVS_HTTP_SLOTS; i++) kvs_http_free(c->http[i]);
    kvs_pacer_free(c->pacer);
    pthread_cond_destroy(&c->changed);
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
    pthread_cond_init(&c->changed, NULL);
    for (size_t i = 0; i < KVS_TOKEN_CACHE; i++) kvs_token_init(&c->tokens[i].tok);
    /* KVSEAL_CA_FILE vouches only for the hosts allowed explicitly. */
    kvs_http_config hc = {c->set.ca_file[0] ? c->set.ca_file : NULL, s->connect_s, s->request_s,
                          s->throttle_s, &c->allow, NULL};
    c->hc = hc;
    kvs_status st = KVS_OK;
    if (kvs_kv_allowlist_parse(s->allowed, &c->allow) != 0)
        st = kvs_fail(err, KVS_ERR_CONFIG,
                      "KVSEAL_ALLOWED_HOSTS: expected comma-separated host or host:port "
                      "entries (at most %d)", KVS_KV_ALLOW_MAX);
    if (st == KVS_OK) st = kvs_http_new(&c->hc, &c->http[0], err);
    if (st == KVS_OK && (c->pacer = kvs_pacer_new()) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
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

/* ---- HTTP handles and unreachable vaults ---------------------------------- */

/* A free HTTP handle for one call (waits while all are busy). */
static kvs_status kvs_http_checkout(kvs_kv_client *c, size_t *slot, kvs_error *err)
{
    kvs_status st = KVS_OK;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        size_t i, made = 0;
        for (i = 0; i < KVS_HTTP_SLOTS; i++) {
            if (c->http[i] != NULL) made++;
            if (!c->http_busy[i] && (c->http[i] != NULL || made == i)) break;
        }
        if (i < KVS_HTTP_SLOTS && c->http[i] == NULL &&
            kvs_http_new(&c->hc, &c->http[i], err) != KVS_OK)
            i = KVS_HTTP_SLOTS; /* cannot make another: wait for one in use */
        if (i < KVS_HTTP_SLOTS) {
            c->http_busy[i] = 1;
            *slot = i;
            break;
        }
        if (made == 0) {
            st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory (HTTP handle)");
            break;
        }
        pthread_cond_wait(&c->changed, &c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

static void kvs_http_checkin(kvs_kv_client *c, size_t slot)
{
    pthread_mutex_lock(&c->lock);
    c->http_busy[slot] = 0;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* KVS_OK, or the remembered failure of a vault that did not answer lately. */
static kvs_status kvs_down_check(kvs_kv_client *c, const char *hp, kvs_error *err)
{
    kvs_status st = KVS_OK;
    int64_t now = kvs_mono_ms();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < KVS_DOWN_HOSTS; i++) {
        kvs_down_entry *d = &c->down[i];
        if (d->until > now && strcmp(d->hostport, hp) == 0)
            st = kvs_fail(err, KVS_ERR_NETWORK,
                          "%s is skipped for %llds: it did not answer earlier in this run (%s)",
                          hp, (long long)((d->until - now + 999) / 1000), d->why);
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

static void kvs_down_note(kvs_kv_client *c, const char *hp, const kvs_error *why)
{
    int64_t now = kvs_mono_ms();
    pthread_mutex_lock(&c->lock);
    kvs_down_entry *d = &c->down[0];
    for (size_t i = 0; i < KVS_DOWN_HOSTS; i++) {
        if (strcmp(c->down[i].hostport, hp) == 0) {
            d = &c->down[i];
            break;
        }
        if (c->down[i].until < d->until) d = &c->down[i];
    }
    snprintf(d->hostport, sizeof(d->hostport), "%s", hp);
    snprintf(d->why, sizeof(d->why), "%s", kvs_error_message(why));
    d->until = now + KVS_DOWN_MS;
    pthread_mutex_unlock(&c->lock);
}

/* ---- one vault call ------------------------------------------------------ */

typedef struct kvs_call {
    kvs_kv_client *c;
    kvs_http *http; /* checked out for this call */
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
    kvs_kv_errbody ebody; /* of a failed answer */
    int unreachable;      /* a vault request got no answer, or 5xx to the end */
    int probing;          /* this call makes the first contact with the host */
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

/* Send the call's request, with or without body and token (no lock held). */
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
    req.pacer = k->c->pacer;
    kvs_status st = kvs_http_exchange(k->http, &req, k->deadline, &k->resp, err);
    k->unreachable = st == KVS_ERR_NETWORK || (st == KVS_OK && k->resp.status >= 500);
    /* Noted at once, before callers waiting on this first contact wake up. */
    if (st == KVS_ERR_NETWORK) kvs_down_note(k->c, k->hostport, err);
    return st;
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
    pthread_mutex_lock(&k->c->lock);
    kvs_chal_store(k->c, k->hostport, &k->ci);
    pthread_mutex_unlock(&k->c->lock);
    k->tenant = kvs_cred_tenant(k->c->cred) ? kvs_cred_tenant(k->c->cred) : k->ci.tenant;
    return KVS_OK;
}

/* A token for the current challenge: cached unless force, else fresh.
 * Caller holds the lock; *out stays valid only while it does. */
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
    kvs_status st = kvs_cred_get_token(c->cred, k->http, &r, &e->tok, err);
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

/* "Authorization: Bearer <token>" in secure memory, built under the lock
 * so the request itself can go without it. */
static kvs_status kvs_call_auth_line(kvs_call *k, int force, kvs_sbuf *line, int *fresh,
                                     kvs_error *err)
{
    const kvs_token *tok = NULL;
    pthread_mutex_lock(&k->c->lock);
    kvs_status st = kvs_call_token(k, force, &tok, fresh, err);
    if (st == KVS_OK) {
        kvs_sbuf_init(line, tok->text.len + 64);
        if (kvs_sbuf_puts(line, "Authorization: Bearer ") != 0 ||
            kvs_sbuf_append(line, tok->text.p, tok->text.len) != 0) {
            kvs_sbuf_free(line);
            st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&k->c->lock);
    return st;
}

static void kvs_call_drop_token(kvs_call *k)
{
    pthread_mutex_lock(&k->c->lock);
    kvs_token_entry *e = kvs_token_find(k->c, k->authority, k->ci.scope, k->tenant);
    if (e != NULL) {
        kvs_token_free(&e->tok);
        kvs_token_init(&e->tok);
        e->authority[0] = '\0';
    }
    pthread_mutex_unlock(&k->c->lock);
}

/* Send with a token (cached unless force). */
static kvs_status kvs_call_send_token(kvs_call *k, int force, int *fresh, kvs_error *err)
{
    kvs_sbuf line;
    kvs_status st = kvs_call_auth_line(k, force, &line, fresh, err);
    if (st != KVS_OK) return st;
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
    kvs_kv_errbody_parse(k->resp.body.p, k->resp.body.len, &k->ebody);
    kvs_kv_errctx x = {kvs_op_name(k->op), k->key->name, k->key->version, k->hostport,
                       k->hi.managed_hsm, k->resp.client_request_id, k->resp.request_id};
    return kvs_kv_http_error(err, k->resp.status, &k->ebody, &x);
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
    kvs_status st = kvs_call_send_token(k, 1, &fresh, err);
    if (st == KVS_OK && k->resp.status == 401) return kvs_call_rejected(k, err);
    return st;
}

static int kvs_probing_find(const kvs_kv_client *c, const char *hp)
{
    for (int i = 0; i < KVS_HTTP_SLOTS; i++)
        if (strcmp(c->probing[i], hp) == 0) return i;
    return -1;
}

/* The cached challenge for the host, copied out: 1. Else 0, and this call
 * makes the first contact; concurrent calls wait for its outcome rather
 * than each probing the vault (every request counts against throttling). */
static int kvs_call_cached_challenge(kvs_call *k)
{
    kvs_kv_client *c = k->c;
    const kvs_challenge_info *cached;
    pthread_mutex_lock(&c->lock);
    while ((cached = kvs_chal_find(c, k->hostport)) == NULL &&
           kvs_probing_find(c, k->hostport) >= 0)
        pthread_cond_wait(&c->changed, &c->lock);
    if (cached != NULL) k->ci = *cached;
    int slot = cached ? -1 : kvs_probing_find(c, "");
    if (slot >= 0) {
        snprintf(c->probing[slot], sizeof c->probing[slot], "%s", k->hostport);
        k->probing = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return cached != NULL;
}

static void kvs_call_probe_done(kvs_call *k)
{
    if (!k->probing) return;
    pthread_mutex_lock(&k->c->lock);
    int slot = kvs_probing_find(k->c, k->hostport);
    if (slot >= 0) k->c->probing[slot][0] = '\0';
    pthread_cond_broadcast(&k->c->changed);
    pthread_mutex_unlock(&k->c->lock);
    k->probing = 0;
}

static kvs_status kvs_call_run(kvs_call *k, cJSON **json, kvs_error *err)
{
    kvs_kv_client *c = k->c;
    kvs_status st = kvs_kv_client_check_host(c, k->key, &k->hi, KVS_ERR_KEY_ACCESS, err);
    if (st != KVS_OK) return st;
    kvs_kv_hostport(k->key, k->hostport, sizeof(k->hostport));
    if ((st = kvs_call_url(k, err)) != KVS_OK) return st;
    if ((st = kvs_down_check(c, k->hostport, err)) != KVS_OK) return st;
    k->authority = c->set.authority[0] ? c->set.authority : kvs_kv_cloud_authority(k->hi.cloud);
    k->deadline = kvs_mono_ms() + (int64_t)c->set.retry_s * 1000;

    if (kvs_call_cached_challenge(k)) {
        k->tenant = kvs_cred_tenant(c->cred) ? kvs_cred_tenant(c->cred) : k->ci.tenant;
    } else {
        int answered = 0;
        /* The vault may have been found down while this call waited. */
        st = kvs_down_check(c, k->hostport, err);
        if (st == KVS_OK) st = kvs_call_probe(k, &answered, err);
        kvs_call_probe_done(k);
        if (st != KVS_OK) return st;
        if (answered) return kvs_call_finish(k, json, err);
    }
    int fresh;
    st = kvs_call_send_token(k, 0, &fresh, err);
    if (st == KVS_OK && k->resp.status == 401) st = kvs_call_after_401(k, fresh, err);
    if (st != KVS_OK) return st;
    return kvs_call_finish(k, json, err);
}

kvs_status kvs_kv_client_call_ex(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                                 const char *body, size_t body_len, cJSON **json,
                                 kvs_kv_call_info *info, kvs_error *err)
{
    kvs_call *k = calloc(1, sizeof(*k));
    size_t slot = 0;
    *json = NULL;
    if (info != NULL) memset(info, 0, sizeof(*info));
    if (k == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    k->c = c;
    k->op = op;
    k->key = key;
    k->body = body;
    k->body_len = body_len;
    kvs_http_resp_init(&k->resp);
    kvs_status st = kvs_http_checkout(c, &slot, err);
    if (st == KVS_OK) {
        k->http = c->http[slot];
        st = kvs_call_run(k, json, err);
        kvs_http_checkin(c, slot);
    }
    /* No answer, or only server errors after every retry: down for this run. */
    if (st == KVS_ERR_NETWORK && k->unreachable) kvs_down_note(c, k->hostport, err);
    if (info != NULL) {
        info->http_status = k->resp.status;
        memcpy(info->inner, k->ebody.inner, sizeof(info->inner));
    }
    kvs_http_resp_free(&k->resp);
    free(k);
    return st;
}

kvs_status kvs_kv_client_call(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                              const char *body, size_t body_len, cJSON **json, kvs_error *err)
{
    return kvs_kv_client_call_ex(c, op, key, body, body_len, json, NULL, err);
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

/* ---- single flight ---------------------------------------------------------- */

static int kvs_inflight_find(const kvs_kv_client *c, const uint8_t id[32])
{
    for (int i = 0; i < KVS_INFLIGHT; i++)
        if (c->inflight_used[i] && memcmp(c->inflight[i], id, 32) == 0) return i; /* not secret */
    return -1;
}

int kvs_kv_client_dek_begin(kvs_kv_client *c, const kvs_recipient *r, uint8_t dek[KVS_DEK_LEN])
{
    uint8_t id[32];
    int hit = 0;
    if (kvs_dek_cache_id(r, id) != 0) return 0;
    pthread_mutex_lock(&c->lock);
    /* Concurrent restores of files sharing a DEK: one unwrap, the others wait.
     * A prefetching thread leaves the key marked for the decryption. */
    while (!(hit = kvs_dek_prefetching() ? kvs_dek_cache_get(c->deks, r, dek)
                                         : kvs_dek_cache_get_counted(c->deks, r, dek)) &&
           kvs_inflight_find(c, id) >= 0)
        pthread_cond_wait(&c->changed, &c->lock);
    for (int i = 0; !hit && i < KVS_INFLIGHT; i++) {
        if (!c->inflight_used[i]) {
            memcpy(c->inflight[i], id, 32);
            c->inflight_used[i] = 1;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void kvs_kv_client_dek_finish(kvs_kv_client *c, const kvs_recipient *r, const uint8_t *dek)
{
    uint8_t id[32];
    if (kvs_dek_cache_id(r, id) != 0) return;
    pthread_mutex_lock(&c->lock);
    if (dek != NULL) kvs_dek_cache_put_marked(c->deks, r, dek, kvs_dek_prefetching());
    int i = kvs_inflight_find(c, id);
    if (i >= 0) c->inflight_used[i] = 0;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}
