/* One Key Vault call as a state machine: host policy, breaker, the
 * challenge (cached, or learned by a first contact without token or body),
 * a token (cached, or fresh from the credential), the request, and a 401
 * answered by re-verifying the challenge and retrying once with a fresh
 * token. Retries of one request are inside kvs_http_exchange. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/client_impl.h"
#include "azure/kverror.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "core/error.h"

#define KVS_API_VERSION "7.4"
/* Less than this left of a file's budget: not worth starting a request. */
#define KVS_BUDGET_SLACK_MS 100

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
    int64_t start;
    int64_t deadline;
    int64_t hard_deadline; /* 0, or the file's budget: never extended */
    kvs_challenge_info ci;
    const char *tenant;
    const char *authority;
    kvs_http_resp resp;
    kvs_kv_errbody ebody; /* of a failed answer */
    int unreachable;      /* a vault request got no answer, or 5xx to the end */
    int probing;          /* this call holds the host's first-contact slot */
    int throttled_out;    /* still throttled (429) when the budget ran out */
    int budget_refused;   /* not started: the file's budget was spent */
} kvs_call;

static const char *kvs_op_name(kvs_kv_op op)
{
    switch (op) {
    case KVS_KV_OP_GET: return "get key";
    case KVS_KV_OP_WRAP: return "wrapkey";
    case KVS_KV_OP_UNWRAP: return "unwrapkey";
    case KVS_KV_OP_SIGN: return "sign";
    }
    return "?";
}

/* The operation's path segment after the key ("" for GET). */
static const char *kvs_op_segment(kvs_kv_op op)
{
    switch (op) {
    case KVS_KV_OP_WRAP: return "/wrapkey";
    case KVS_KV_OP_UNWRAP: return "/unwrapkey";
    case KVS_KV_OP_SIGN: return "/sign";
    case KVS_KV_OP_GET: break;
    }
    return "";
}

static kvs_status kvs_call_url(kvs_call *k, kvs_error *err)
{
    const kvs_kv_keyref *key = k->key;
    const char *opseg = kvs_op_segment(k->op);
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

/* The file's budget (if any) is spent: a failure now says nothing about
 * the host. */
static int kvs_call_budget_spent(const kvs_call *k)
{
    return k->hard_deadline > 0 && kvs_mono_ms() >= k->hard_deadline - KVS_BUDGET_SLACK_MS;
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
    req.pacer = k->c->pacer;
    req.hard_deadline_ms = k->hard_deadline;
    kvs_status st = kvs_http_exchange(k->http, &req, k->deadline, &k->resp, err);
    k->unreachable = st == KVS_ERR_NETWORK || (st == KVS_OK && k->resp.status >= 500);
    /* Noted at once, before callers waiting on this first contact wake up. */
    if (st == KVS_ERR_NETWORK && !kvs_call_budget_spent(k))
        kvs_breaker_trip(k->c->breaker, k->hostport, err);
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
    kvs_chal_cache_store(k->c->chal, k->hostport, &k->ci);
    k->tenant = kvs_cred_tenant(k->c->cred) ? kvs_cred_tenant(k->c->cred) : k->ci.tenant;
    return KVS_OK;
}

static kvs_token_req kvs_call_token_req(const kvs_call *k)
{
    kvs_token_req r = {k->authority, k->tenant, k->ci.scope, k->ci.resource, k->deadline,
                       k->hard_deadline};
    return r;
}

/* "Authorization: Bearer <token>" in secure memory, with a token from the
 * cache unless force. */
static kvs_status kvs_call_auth_line(kvs_call *k, int force, kvs_sbuf *line, int *fresh,
                                     kvs_error *err)
{
    kvs_token_req r = kvs_call_token_req(k);
    kvs_sbuf_init(line, KVS_TOKEN_MAX + 64);
    kvs_status st = kvs_sbuf_puts(line, "Authorization: Bearer ") == 0
                        ? kvs_token_cache_get(k->c->tokens, k->c->cred, k->http, &r, force, line,
                                              fresh, err)
                        : kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st != KVS_OK) kvs_sbuf_free(line);
    return st;
}

static void kvs_call_drop_token(kvs_call *k)
{
    kvs_token_cache_drop(k->c->tokens, k->authority, k->tenant, k->ci.scope);
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
        /* sign calls are counted by their signer (kvs_signer_signatures). */
        if (k->op != KVS_KV_OP_SIGN)
            kvs_kv_stat_add(k->op == KVS_KV_OP_GET ? KVS_STAT_GET_KEY
                            : k->op == KVS_KV_OP_WRAP ? KVS_STAT_WRAP : KVS_STAT_UNWRAP);
        return KVS_OK;
    }
    kvs_kv_errbody_parse(k->resp.body.p, k->resp.body.len, &k->ebody);
    kvs_kv_errctx x = {kvs_op_name(k->op), k->key->name, k->key->version, k->hostport,
                       k->hi.managed_hsm, k->resp.client_request_id, k->resp.request_id};
    kvs_status st = kvs_kv_http_error(err, k->resp.status, &k->ebody, &x);
    if (k->resp.status == 429) { /* throttled past the budget: as good as down */
        k->throttled_out = 1;
        st = KVS_ERR_UNAVAILABLE;
        if (err != NULL) err->status = st;
    }
    return st;
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

static void kvs_call_probe_done(kvs_call *k)
{
    if (!k->probing) return;
    kvs_chal_cache_probe_done(k->c->chal, k->hostport);
    k->probing = 0;
}

static kvs_status kvs_call_run(kvs_call *k, cJSON **json, kvs_error *err)
{
    kvs_kv_client *c = k->c;
    kvs_status st = kvs_kv_client_check_host(c, k->key, &k->hi, KVS_ERR_KEY_ACCESS, err);
    if (st != KVS_OK) return st;
    kvs_kv_hostport(k->key, k->hostport, sizeof(k->hostport));
    if ((st = kvs_call_url(k, err)) != KVS_OK) return st;
    if ((st = kvs_breaker_check(c->breaker, k->hostport, err)) != KVS_OK) return st;
    k->authority = c->set.authority; /* configuration only (settings.c) */
    k->start = kvs_mono_ms();
    k->deadline = k->start + (int64_t)c->set.retry_s * 1000;
    if (k->hard_deadline > 0 && k->hard_deadline < k->deadline) k->deadline = k->hard_deadline;
    if (kvs_call_budget_spent(k)) {
        k->budget_refused = 1;
        return kvs_fail(err, KVS_ERR_UNAVAILABLE,
                        "not tried: the file's time budget for Key Vault "
                        "(KVSEAL_FILE_BUDGET_SECONDS) is spent");
    }

    if (kvs_chal_cache_lookup(c->chal, k->hostport, &k->ci, &k->probing)) {
        k->tenant = kvs_cred_tenant(c->cred) ? kvs_cred_tenant(c->cred) : k->ci.tenant;
    } else {
        int answered = 0;
        /* The vault may have been found down while this call waited. */
        st = kvs_breaker_check(c->breaker, k->hostport, err);
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

kvs_status kvs_kv_client_call_until(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                                    const char *body, size_t body_len, cJSON **json,
                                    kvs_kv_call_info *info, int64_t hard_deadline_ms,
                                    kvs_error *err)
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
    k->hard_deadline = hard_deadline_ms;
    kvs_http_resp_init(&k->resp);
    kvs_status st = kvs_http_pool_checkout(c->pool, &k->http, &slot, err);
    if (st == KVS_OK) {
        st = kvs_call_run(k, json, err);
        kvs_http_pool_checkin(c->pool, slot);
    }
    /* No answer, or only server errors after every retry: down for this run. */
    /* Still throttling at the end of the throttle budget (not of a file's
     * shorter budget): down too, so other files move on at once. */
    int64_t throttle_end = k->start + (int64_t)c->set.throttle_s * 1000;
    int file_budget_bound = k->hard_deadline > 0 && k->hard_deadline < throttle_end;
    /* A request cut short by the file's budget says nothing about the host. */
    if (k->start > 0 && !k->budget_refused && kvs_call_budget_spent(k) &&
        (st == KVS_ERR_NETWORK || st == KVS_ERR_UNAVAILABLE)) {
        char was[KVS_ERROR_DETAIL_MAX];
        snprintf(was, sizeof(was), "%s", kvs_error_message(err));
        st = kvs_fail(err, KVS_ERR_UNAVAILABLE,
                      "the file's time budget for Key Vault (KVSEAL_FILE_BUDGET_SECONDS) "
                      "ran out: %.300s", was);
    } else if ((st == KVS_ERR_NETWORK && k->unreachable) ||
               (k->throttled_out && !file_budget_bound)) {
        kvs_breaker_trip(c->breaker, k->hostport, err);
    }
    if (info != NULL) {
        info->http_status = k->resp.status;
        memcpy(info->inner, k->ebody.inner, sizeof(info->inner));
    }
    kvs_http_resp_free(&k->resp);
    free(k);
    return st;
}

kvs_status kvs_kv_client_call_ex(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                                 const char *body, size_t body_len, cJSON **json,
                                 kvs_kv_call_info *info, kvs_error *err)
{
    return kvs_kv_client_call_until(c, op, key, body, body_len, json, info, 0, err);
}

kvs_status kvs_kv_client_call(kvs_kv_client *c, kvs_kv_op op, const kvs_kv_keyref *key,
                              const char *body, size_t body_len, cJSON **json, kvs_error *err)
{
    return kvs_kv_client_call_ex(c, op, key, body, body_len, json, NULL, err);
}
