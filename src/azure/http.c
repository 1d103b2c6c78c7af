/* HTTP exchanges: request policy and the retry loop above one transport. */
#define _POSIX_C_SOURCE 200809L
#include "azure/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "azure/kverror.h"
#include "azure/pacer.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "azure/transport.h"
#include "core/error.h"
#include "crypto/crypto.h"

struct kvs_http {
    const kvs_transport *tp;
    void *tctx;
    int have_ca;                     /* an extra CA file is configured */
    const kvs_kv_allowlist *ca_hosts;
    long request_ms;
    int64_t throttle_ms;
};

/* ---- the transport in use ----------------------------------------------- */

static _Atomic(const kvs_transport *) kvs_transport_default_ = NULL;

void kvs_transport_set_default(const kvs_transport *t)
{
    atomic_store_explicit(&kvs_transport_default_, t, memory_order_release);
}

static const kvs_transport *kvs_transport_of(const kvs_http_config *cfg)
{
    if (cfg->transport != NULL) return cfg->transport;
    const kvs_transport *t = atomic_load_explicit(&kvs_transport_default_, memory_order_acquire);
    return t != NULL ? t : &kvs_transport_curl;
}

/* ---- small helpers ----------------------------------------------------- */

void kvs_wipe_str(char *s)
{
    if (s != NULL) OPENSSL_cleanse(s, strlen(s));
}

void kvs_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    if (kvs_random_public(b, sizeof(b)) != KVS_OK) memset(b, 0x5a, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void kvs_http_resp_init(kvs_http_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    kvs_sbuf_init(&r->body, KVS_HTTP_MAX_RESPONSE);
}

void kvs_http_resp_free(kvs_http_resp *r)
{
    if (r == NULL) return;
    kvs_sbuf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

static void kvs_resp_forget_headers(kvs_http_resp *r)
{
    r->www_authenticate[0] = '\0';
    r->www_authenticate_cut = 0;
    r->retry_after[0] = r->retry_after_ms[0] = r->request_id[0] = '\0';
    r->etag[0] = r->content_range[0] = r->error_code[0] = '\0';
    r->content_length = -1;
}

static void kvs_resp_clear(kvs_http_resp *r)
{
    r->status = 0;
    r->recv_got = 0;
    kvs_resp_forget_headers(r);
    kvs_sbuf_reset(&r->body);
}

kvs_status kvs_http_new(const kvs_http_config *cfg, kvs_http **out, kvs_error *err)
{
    *out = NULL;
    kvs_http *h = calloc(1, sizeof(*h));
    if (h == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    h->tp = kvs_transport_of(cfg);
    h->have_ca = cfg->ca_file != NULL && cfg->ca_file[0] != '\0';
    h->ca_hosts = cfg->ca_hosts;
    h->request_ms = (long)cfg->request_timeout_s * 1000;
    h->throttle_ms = (int64_t)cfg->throttle_max_s * 1000;
    kvs_status st = h->tp->open(cfg, &h->tctx, err);
    if (st != KVS_OK) {
        free(h);
        return st;
    }
    *out = h;
    return KVS_OK;
}

void kvs_http_free(kvs_http *h)
{
    if (h == NULL) return;
    h->tp->close(h->tctx);
    free(h);
}

/* ---- response headers --------------------------------------------------- */

static void kvs_header_store(char *dst, size_t cap, const char *v, size_t n, int *cut)
{
    if (n >= cap) {
        if (cut) *cut = 1;
        n = cap - 1;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int kvs_header_is(const char *line, size_t n, const char *name, const char **value,
                         size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return 0;
    const char *v = line + nl + 1, *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    *value = v;
    *vlen = (size_t)(e - v);
    return 1;
}

static int kvs_starts_bearer(const char *v, size_t n)
{
    return n >= 6 && strncasecmp(v, "bearer", 6) == 0 && (n == 6 || v[6] == ' ');
}

/* Decimal digits only, at most 18 (no sign, no overflow); else -1. */
static void kvs_content_length(kvs_http_resp *r, const char *v, size_t n)
{
    long long x = 0;
    r->content_length = -1;
    if (n == 0 || n > 18) return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return;
        x = x * 10 + (v[i] - '0');
    }
    r->content_length = x;
}

void kvs_http_resp_header(kvs_http_resp *r, const char *line, size_t n)
{
    const char *v;
    size_t vn;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        kvs_resp_forget_headers(r); /* a new response (after 100 Continue) */
    } else if (kvs_header_is(line, n, "www-authenticate", &v, &vn)) {
        /* Keep the first Bearer challenge; otherwise the first header. */
        if (r->www_authenticate[0] == '\0' ||
            (kvs_starts_bearer(v, vn) &&
             !kvs_starts_bearer(r->www_authenticate, strlen(r->www_authenticate))))
            kvs_header_store(r->www_authenticate, sizeof(r->www_authenticate), v, vn,
                             &r->www_authenticate_cut);
    } else if (kvs_header_is(line, n, "retry-after", &v, &vn)) {
        kvs_header_store(r->retry_after, sizeof(r->retry_after), v, vn, NULL);
    } else if (kvs_header_is(line, n, "retry-after-ms", &v, &vn) ||
               kvs_header_is(line, n, "x-ms-retry-after-ms", &v, &vn)) {
        kvs_header_store(r->retry_after_ms, sizeof(r->retry_after_ms), v, vn, NULL);
    } else if (kvs_header_is(line, n, "x-ms-request-id", &v, &vn)) {
        kvs_header_store(r->request_id, sizeof(r->request_id), v, vn, NULL);
    } else if (kvs_header_is(line, n, "etag", &v, &vn)) {
        kvs_header_store(r->etag, sizeof(r->etag), v, vn, NULL);
    } else if (kvs_header_is(line, n, "content-range", &v, &vn)) {
        kvs_header_store(r->content_range, sizeof(r->content_range), v, vn, NULL);
    } else if (kvs_header_is(line, n, "x-ms-error-code", &v, &vn)) {
        kvs_header_store(r->error_code, sizeof(r->error_code), v, vn, NULL);
    } else if (kvs_header_is(line, n, "content-length", &v, &vn)) {
        kvs_content_length(r, v, vn);
    }
}

/* ---- where a request may go --------------------------------------------- */

static int kvs_copy_part(CURLU *u, CURLUPart part, unsigned flags, char *out, size_t cap)
{
    char *v = NULL;
    if (curl_url_get(u, part, &v, flags) != CURLUE_OK || v == NULL) return -1;
    size_t n = strlen(v);
    int ok = n < cap;
    if (ok) {
        for (size_t i = 0; i <= n; i++)
            out[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] - 'A' + 'a') : v[i];
    }
    curl_free(v);
    return ok ? 0 : -1;
}

/* URL parsing only (libcurl's parser, the one the transport agrees with). */
static kvs_status kvs_target_of(const kvs_http_req *req, kvs_http_target *t, kvs_error *err)
{
    char port[8];
    CURLU *u = curl_url();
    if (u == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    int bad = curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
              kvs_copy_part(u, CURLUPART_SCHEME, 0, t->scheme, sizeof(t->scheme)) != 0 ||
              kvs_copy_part(u, CURLUPART_HOST, 0, t->host, sizeof(t->host)) != 0 ||
              kvs_copy_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, port, sizeof(port)) != 0;
    curl_url_cleanup(u);
    if (bad) return kvs_fail(err, KVS_ERR_USAGE, "malformed URL");
    t->port = strtol(port, NULL, 10);
    t->local = kvs_host_is_loopback(t->host) || kvs_host_is_link_local(t->host);
    if (strcmp(t->scheme, "https") == 0) return KVS_OK;
    if (strcmp(t->scheme, "http") == 0 && req->allow_plain_http && t->local) return KVS_OK;
    return kvs_fail(err, KVS_ERR_USAGE,
                    "refusing a non-https URL for %s (plain http is only used for "
                    "managed identity endpoints on loopback or link-local addresses)",
                    t->host);
}

/* A private CA vouches only for hosts the user named: otherwise whoever holds
 * its key could impersonate Entra ID or a real vault and collect secrets. */
static int kvs_extra_ca_applies(const kvs_http *h, const kvs_http_target *t)
{
    kvs_kv_hostinfo info;
    if (!h->have_ca || h->ca_hosts == NULL || strcmp(t->scheme, "https") != 0) return 0;
    if (t->port <= 0 || t->port > 65535) return 0;
    (void)kvs_kv_host_allowed(h->ca_hosts, t->host, (unsigned)t->port, &info);
    return info.explicit_allow;
}

/* ---- failures and retries --------------------------------------------- */

static int kvs_net_retryable(kvs_net_fail f)
{
    return f == KVS_NET_CONNECT || f == KVS_NET_TIMEOUT || f == KVS_NET_DROPPED;
}

static kvs_status kvs_net_error(kvs_error *err, const kvs_transport_attempt *a,
                                const char *host, const char *crid, int attempts)
{
    char why[sizeof(a->detail) + 8], ids[200], tries[64] = "";
    kvs_text_sanitize(a->detail[0] ? a->detail : "unknown error", why, sizeof(why));
    kvs_request_ids(crid, NULL, ids, sizeof(ids));
    if (attempts > 1) snprintf(tries, sizeof(tries), " (after %d attempts)", attempts);
    switch (a->fail) {
    case KVS_NET_DNS:
        return kvs_fail(err, KVS_ERR_NETWORK, "DNS lookup of %s failed: %s%s", host, why, ids);
    case KVS_NET_CONNECT:
        return kvs_fail(err, KVS_ERR_NETWORK, "cannot connect to %s%s: %s%s", host, tries, why,
                        ids);
    case KVS_NET_TIMEOUT:
        return kvs_fail(err, KVS_ERR_NETWORK, "request to %s timed out%s: %s%s", host, tries,
                        why, ids);
    case KVS_NET_TLS_VERIFY: /* not transient: retrying later cannot help */
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "TLS certificate verification failed for %s: the certificate is not "
                        "trusted or does not match the host (a private CA from KVSEAL_CA_FILE "
                        "or --ca-file is trusted only for hosts in KVSEAL_ALLOWED_HOSTS): %s%s",
                        host, why, ids);
    case KVS_NET_TLS_HANDSHAKE: /* a server without TLS 1.2 will not grow it on a retry */
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "TLS handshake with %s failed (TLS 1.2 or later is required): %s%s",
                        host, why, ids);
    case KVS_NET_TOO_LARGE:
        return kvs_fail(err, KVS_ERR_NETWORK, "response from %s is larger than %zu bytes%s",
                        host, KVS_HTTP_MAX_RESPONSE, ids);
    case KVS_NET_DROPPED:
        return kvs_fail(err, KVS_ERR_NETWORK, "connection to %s dropped%s: %s%s", host, tries,
                        why, ids);
    default:
        return kvs_fail(err, KVS_ERR_NETWORK, "request to %s failed: %s%s", host, why, ids);
    }
}

static uint32_t kvs_jitter(void)
{
    uint8_t b[4] = {0, 0, 0, 0};
    (void)kvs_random_public(b, sizeof(b));
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The delay the server asked for, or -1. */
static int64_t kvs_retry_after_of(const kvs_http_resp *resp)
{
    int64_t ms;
    if (resp->status != 0) {
        if (kvs_retry_after_ms_parse(resp->retry_after_ms, &ms) == 0) return ms;
        if (kvs_retry_after_parse(resp->retry_after, kvs_wall_s(), &ms) == 0) return ms;
    }
    return -1;
}

/* The server's wish if it stated one, else exponential back-off; a 429 to a
 * paced request is left to the pacer (which also tells the other callers). */
static int64_t kvs_retry_delay(const kvs_http_req *req, const kvs_http_resp *resp,
                               uint64_t ticket, unsigned attempt)
{
    int64_t asked = kvs_retry_after_of(resp);
    int throttled = resp->status == 429;
    if (req->pacer != NULL && throttled)
        return kvs_pacer_done(req->pacer, resp->host, ticket, 1, asked, attempt);
    if (req->pacer != NULL) (void)kvs_pacer_done(req->pacer, resp->host, ticket, 0, -1, attempt);
    return asked >= 0 ? asked : kvs_backoff_ms(attempt, kvs_jitter());
}

/* Throttling is the service pacing a big job, not a failure: once throttled,
 * a request may go on until the throttle budget, not only the retry budget. */
static int64_t kvs_effective_deadline(const kvs_http *h, int64_t start, int64_t deadline,
                                      int throttled)
{
    return throttled && start + h->throttle_ms > deadline ? start + h->throttle_ms : deadline;
}

/* One attempt through the transport, bounded by what is left until limit. */
static kvs_status kvs_http_once(kvs_http *h, kvs_transport_attempt *a, int64_t limit,
                                kvs_http_resp *resp, kvs_error *err)
{
    int64_t left = limit - kvs_mono_ms();
    if (left < 1) left = 1;
    a->timeout_ms = h->request_ms < left ? h->request_ms : (long)left;
    a->fail = KVS_NET_NONE;
    a->detail[0] = '\0';
    kvs_resp_clear(resp);
    if (a->req->vault) kvs_kv_stat_add(KVS_STAT_HTTP);
    kvs_status st = h->tp->send(h->tctx, a, resp, err);
    if (a->fail != KVS_NET_NONE) resp->status = 0;
    return st;
}

kvs_status kvs_http_exchange(kvs_http *h, const kvs_http_req *req, int64_t deadline_ms,
                             kvs_http_resp *resp, kvs_error *err)
{
    kvs_http_target t;
    kvs_status st = kvs_target_of(req, &t, err);
    if (st != KVS_OK) return st;
    if (t.port == 443 || (t.port == 80 && strcmp(t.scheme, "http") == 0))
        snprintf(resp->host, sizeof(resp->host), "%s", t.host);
    else
        snprintf(resp->host, sizeof(resp->host), "%s:%ld", t.host, t.port);
    /* one id across the retries of one call */
    if (req->client_request_id != NULL && strlen(req->client_request_id) == 36)
        memcpy(resp->client_request_id, req->client_request_id, 37);
    else
        kvs_uuid4(resp->client_request_id);
    kvs_transport_attempt a;
    memset(&a, 0, sizeof(a));
    a.req = req;
    a.target = &t;
    a.extra_ca = kvs_extra_ca_applies(h, &t);

    unsigned attempt;
    int64_t start = kvs_mono_ms(), limit = deadline_ms;
    for (attempt = 0;; attempt++) {
        uint64_t ticket = req->pacer ? kvs_pacer_acquire(req->pacer, resp->host, limit) : 0;
        st = kvs_http_once(h, &a, limit, resp, err);
        resp->attempts = attempt + 1;
        if (st != KVS_OK) return st;
        int again = a.fail == KVS_NET_NONE ? kvs_retryable_status(resp->status, req->imds)
                                           : kvs_net_retryable(a.fail);
        int64_t delay = kvs_retry_delay(req, resp, ticket, attempt);
        if (!again) break;
        if (resp->status == 429) limit = kvs_effective_deadline(h, start, deadline_ms, 1);
        if (req->hard_deadline_ms > 0 && limit > req->hard_deadline_ms) limit = req->hard_deadline_ms;
        if (kvs_mono_ms() + delay >= limit) break; /* budget spent */
        kvs_sleep_ms(delay);
        kvs_kv_stat_add(KVS_STAT_RETRY);
        if (attempt >= 1000) break;
    }
    if (a.fail != KVS_NET_NONE)
        return kvs_net_error(err, &a, resp->host, resp->client_request_id, (int)attempt + 1);
    return KVS_OK;
}
