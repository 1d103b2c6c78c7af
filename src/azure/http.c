/* Hardened HTTPS over libcurl for Key Vault, Entra ID and managed identity. */
#define _POSIX_C_SOURCE 200809L
#include "azure/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "azure/kverror.h"
#include "azure/kvurl.h"
#include "azure/pacer.h"
#include "azure/retry.h"
#include "azure/stats.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define KVS_HTTP_POOL 8
#define KVS_USER_AGENT "kvseal/0.1.0"

typedef struct kvs_http_conn {
    char key[320]; /* scheme://host:port */
    CURL *curl;
    uint64_t used;
} kvs_http_conn;

struct kvs_http {
    STACK_OF(X509) *extra_ca;
    long connect_ms;
    long request_ms;
    int64_t throttle_ms;
    uint64_t tick;
    kvs_http_conn pool[KVS_HTTP_POOL];
};

/* ---- process-wide libcurl initialisation ------------------------------- */

static pthread_once_t kvs_curl_once = PTHREAD_ONCE_INIT;
static CURLcode kvs_curl_init_rc = CURLE_FAILED_INIT;

static void kvs_curl_global_init(void)
{
    kvs_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
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
    kvs_sbuf_init(&r->body, KVS_HTTP_MAX_RESPONSE);
}

void kvs_http_resp_free(kvs_http_resp *r)
{
    if (r == NULL) return;
    kvs_sbuf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

static void kvs_resp_clear_headers(kvs_http_resp *r)
{
    r->status = 0;
    r->www_authenticate[0] = '\0';
    r->www_authenticate_cut = 0;
    r->retry_after[0] = '\0';
    r->retry_after_ms[0] = '\0';
    r->request_id[0] = '\0';
    kvs_sbuf_reset(&r->body);
}

/* ---- extra CA certificates -------------------------------------------- */

static kvs_status kvs_load_ca_file(const char *path, STACK_OF(X509) **out, kvs_error *err)
{
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL)
        return kvs_fail(err, KVS_ERR_CONFIG, "cannot read CA file '%s'", path);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *x;
    while (certs != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            break;
        }
    }
    ERR_clear_error(); /* the loop ends on "no start line" */
    BIO_free(bio);
    if (certs == NULL || sk_X509_num(certs) == 0) {
        sk_X509_pop_free(certs, X509_free);
        return kvs_fail(err, KVS_ERR_CONFIG, "CA file '%s' holds no PEM certificate", path);
    }
    *out = certs;
    return KVS_OK;
}

/* CURLOPT_CAINFO would replace the system store; adding the extra CAs to the
 * store curl already loaded keeps the system store as the default. */
static CURLcode kvs_ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *userptr)
{
    (void)curl;
    STACK_OF(X509) *certs = userptr;
    X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx);
    if (store == NULL) return CURLE_SSL_CERTPROBLEM;
    for (int i = 0; i < sk_X509_num(certs); i++)
        X509_STORE_add_cert(store, sk_X509_value(certs, i)); /* duplicates are fine */
    ERR_clear_error();
    return CURLE_OK;
}

kvs_status kvs_http_new(const kvs_http_config *cfg, kvs_http **out, kvs_error *err)
{
    *out = NULL;
    pthread_once(&kvs_curl_once, kvs_curl_global_init);
    if (kvs_curl_init_rc != CURLE_OK)
        return kvs_fail(err, KVS_ERR_INTERNAL, "libcurl initialisation failed");
    kvs_http *h = calloc(1, sizeof(*h));
    if (h == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    h->connect_ms = (long)cfg->connect_timeout_s * 1000;
    h->request_ms = (long)cfg->request_timeout_s * 1000;
    h->throttle_ms = (int64_t)cfg->throttle_max_s * 1000;
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
        kvs_status st = kvs_load_ca_file(cfg->ca_file, &h->extra_ca, err);
        if (st != KVS_OK) {
            free(h);
            return st;
        }
    }
    *out = h;
    return KVS_OK;
}

void kvs_http_free(kvs_http *h)
{
    if (h == NULL) return;
    for (size_t i = 0; i < KVS_HTTP_POOL; i++)
        if (h->pool[i].curl != NULL) curl_easy_cleanup(h->pool[i].curl);
    sk_X509_pop_free(h->extra_ca, X509_free);
    free(h);
}

/* ---- URL checks and the connection pool -------------------------------- */

typedef struct kvs_target {
    char scheme[8];
    char host[KVS_KV_HOST_MAX];
    long port;
    int local; /* loopback or link-local (IMDS, App Service): never proxied */
} kvs_target;

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

static kvs_status kvs_target_of(const kvs_http_req *req, kvs_target *t, kvs_error *err)
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

static CURL *kvs_pool_get(kvs_http *h, const kvs_target *t)
{
    char key[sizeof(h->pool[0].key)];
    snprintf(key, sizeof(key), "%s://%s:%ld", t->scheme, t->host, t->port);
    kvs_http_conn *victim = &h->pool[0];
    for (size_t i = 0; i < KVS_HTTP_POOL; i++) {
        kvs_http_conn *c = &h->pool[i];
        if (c->curl != NULL && strcmp(c->key, key) == 0) {
            c->used = ++h->tick;
            return c->curl;
        }
        if (c->curl == NULL || (victim->curl != NULL && c->used < victim->used)) victim = c;
    }
    if (victim->curl != NULL) curl_easy_cleanup(victim->curl); /* least recently used */
    victim->curl = curl_easy_init();
    if (victim->curl == NULL) return NULL;
    memcpy(victim->key, key, sizeof(key));
    victim->used = ++h->tick;
    return victim->curl;
}

/* ---- callbacks --------------------------------------------------------- */

typedef struct kvs_io {
    kvs_http_resp *resp;
    int too_large;
} kvs_io;

static size_t kvs_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    kvs_io *io = userdata;
    size_t n = size * nmemb;
    if (kvs_sbuf_append(&io->resp->body, data, n) != 0) {
        io->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

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

static size_t kvs_header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    kvs_io *io = userdata;
    kvs_http_resp *r = io->resp;
    size_t n = size * nitems;
    const char *v;
    size_t vn;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue): forget the previous headers. */
        r->www_authenticate[0] = '\0';
        r->www_authenticate_cut = 0;
        r->retry_after[0] = r->retry_after_ms[0] = r->request_id[0] = '\0';
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
    }
    return n;
}

/* ---- one attempt ------------------------------------------------------- */

/* Wipe every header line before the list is freed: one may hold a token. */
static void kvs_slist_free_wiped(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i != NULL; i = i->next) kvs_wipe_str(i->data);
    curl_slist_free_all(l);
}

static struct curl_slist *kvs_slist_add(struct curl_slist *l, const char *line, int *ok)
{
    if (!*ok || line == NULL) return l;
    struct curl_slist *n = curl_slist_append(l, line);
    if (n == NULL) {
        *ok = 0;
        return l;
    }
    return n;
}

static struct curl_slist *kvs_build_headers(const kvs_http_req *req, const char *crid,
                                            int *ok)
{
    char idline[80];
    char ctline[128];
    struct curl_slist *l = NULL;
    snprintf(idline, sizeof(idline), "x-ms-client-request-id: %s", crid);
    snprintf(ctline, sizeof(ctline), "Content-Type: %s",
             req->content_type ? req->content_type : "application/json");
    *ok = 1;
    l = kvs_slist_add(l, "Accept: application/json", ok);
    l = kvs_slist_add(l, "Expect:", ok); /* no 100-continue round trip */
    l = kvs_slist_add(l, idline, ok);
    if (strcmp(req->method, "POST") == 0) l = kvs_slist_add(l, ctline, ok);
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        l = kvs_slist_add(l, req->headers[i], ok);
    l = kvs_slist_add(l, req->secret_header, ok);
    return l;
}

static int kvs_set_tls(kvs_http *h, CURL *c)
{
    int bad = 0;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    if (h->extra_ca != NULL) {
        bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, kvs_ssl_ctx_cb) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, (void *)h->extra_ca) != CURLE_OK;
    }
    return bad;
}

static int kvs_set_options(kvs_http *h, CURL *c, const kvs_http_req *req, const kvs_target *t,
                           struct curl_slist *hdrs, kvs_io *io, long timeout_ms,
                           char *errbuf)
{
    int bad = 0;
    curl_easy_reset(c); /* keeps the live connection and TLS session */
    bad |= curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, t->scheme) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t)KVS_HTTP_MAX_RESPONSE) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, KVS_USER_AGENT) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kvs_write_cb) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)io) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, kvs_header_cb) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)io) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    if (t->local) bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
    if (strcmp(t->scheme, "https") == 0) bad |= kvs_set_tls(h, c);
    if (strcmp(req->method, "POST") == 0) {
        bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)(req->body ? req->body_len : 0)) != CURLE_OK;
    } else {
        bad |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK;
    }
    return bad;
}

/* Clear URL-embedded or header-embedded secrets from the reused handle. */
static void kvs_unset_options(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
}

typedef struct kvs_attempt {
    CURLcode rc;
    int too_large;
    char errbuf[CURL_ERROR_SIZE];
} kvs_attempt;

static kvs_status kvs_http_once(kvs_http *h, const kvs_http_req *req, const kvs_target *t,
                                long timeout_ms, kvs_http_resp *resp, kvs_attempt *a,
                                kvs_error *err)
{
    kvs_io io = {resp, 0};
    int ok;
    memset(a, 0, sizeof(*a));
    kvs_resp_clear_headers(resp);
    CURL *c = kvs_pool_get(h, t);
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory (curl handle)");
    struct curl_slist *hdrs = kvs_build_headers(req, resp->client_request_id, &ok);
    if (!ok || kvs_set_options(h, c, req, t, hdrs, &io, timeout_ms, a->errbuf)) {
        kvs_unset_options(c);
        kvs_slist_free_wiped(hdrs);
        return kvs_fail(err, KVS_ERR_INTERNAL, "cannot configure libcurl");
    }
    if (req->vault) kvs_kv_stat_add(KVS_STAT_HTTP);
    a->rc = curl_easy_perform(c);
    a->too_large = io.too_large;
    if (a->rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    kvs_unset_options(c);
    kvs_slist_free_wiped(hdrs);
    return KVS_OK;
}

/* ---- failures and retries --------------------------------------------- */

static int kvs_transport_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

static kvs_status kvs_transport_error(kvs_error *err, const kvs_attempt *a, const char *host,
                                      const char *crid, int attempts)
{
    char why[CURL_ERROR_SIZE + 8], ids[200], tries[64] = "";
    kvs_text_sanitize(a->errbuf[0] ? a->errbuf : curl_easy_strerror(a->rc), why, sizeof(why));
    kvs_request_ids(crid, NULL, ids, sizeof(ids));
    if (attempts > 1) snprintf(tries, sizeof(tries), " (after %d attempts)", attempts);
    switch (a->rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return kvs_fail(err, KVS_ERR_NETWORK, "DNS lookup of %s failed: %s%s", host, why, ids);
    case CURLE_COULDNT_CONNECT:
        return kvs_fail(err, KVS_ERR_NETWORK, "cannot connect to %s%s: %s%s", host, tries, why,
                        ids);
    case CURLE_OPERATION_TIMEDOUT:
        return kvs_fail(err, KVS_ERR_NETWORK, "request to %s timed out%s: %s%s", host, tries,
                        why, ids);
    case CURLE_PEER_FAILED_VERIFICATION:
        return kvs_fail(err, KVS_ERR_NETWORK,
                        "TLS certificate of %s is not trusted or does not match the host "
                        "(a private CA can be added with KVSEAL_CA_FILE or --ca-file): %s%s",
                        host, why, ids);
    case CURLE_SSL_CONNECT_ERROR:
        return kvs_fail(err, KVS_ERR_NETWORK,
                        "TLS handshake with %s failed (TLS 1.2 or later is required): %s%s",
                        host, why, ids);
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (a->too_large || a->rc == CURLE_FILESIZE_EXCEEDED)
            return kvs_fail(err, KVS_ERR_NETWORK, "response from %s is larger than %zu bytes%s",
                            host, KVS_HTTP_MAX_RESPONSE, ids);
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return kvs_fail(err, KVS_ERR_NETWORK, "connection to %s dropped%s: %s%s", host, tries,
                        why, ids);
    default:
        break;
    }
    return kvs_fail(err, KVS_ERR_NETWORK, "request to %s failed: %s%s", host, why, ids);
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

kvs_status kvs_http_exchange(kvs_http *h, const kvs_http_req *req, int64_t deadline_ms,
                             kvs_http_resp *resp, kvs_error *err)
{
    kvs_target t;
    kvs_attempt a;
    kvs_status st = kvs_target_of(req, &t, err);
    if (st != KVS_OK) return st;
    if (t.port == 443 || (t.port == 80 && strcmp(t.scheme, "http") == 0))
        snprintf(resp->host, sizeof(resp->host), "%s", t.host);
    else
        snprintf(resp->host, sizeof(resp->host), "%s:%ld", t.host, t.port);
    kvs_uuid4(resp->client_request_id); /* one id across the retries of one call */

    unsigned attempt;
    int64_t start = kvs_mono_ms(), limit = deadline_ms;
    for (attempt = 0;; attempt++) {
        uint64_t ticket = req->pacer ? kvs_pacer_acquire(req->pacer, resp->host, limit) : 0;
        int64_t left = limit - kvs_mono_ms();
        if (left < 1) left = 1;
        long timeout = h->request_ms < left ? h->request_ms : (long)left;
        st = kvs_http_once(h, req, &t, timeout, resp, &a, err);
        if (st != KVS_OK) return st;
        int again = a.rc == CURLE_OK ? kvs_retryable_status(resp->status, req->imds)
                                     : kvs_transport_retryable(a.rc);
        if (a.rc != CURLE_OK) resp->status = 0;
        int64_t delay = kvs_retry_delay(req, resp, ticket, attempt);
        if (!again) break;
        if (resp->status == 429) limit = kvs_effective_deadline(h, start, deadline_ms, 1);
        if (req->hard_deadline_ms > 0 && limit > req->hard_deadline_ms) limit = req->hard_deadline_ms;
        if (kvs_mono_ms() + delay >= limit) break; /* budget spent */
        kvs_sleep_ms(delay);
        kvs_kv_stat_add(KVS_STAT_RETRY);
        if (attempt >= 1000) break;
    }
    if (a.rc != CURLE_OK)
        return kvs_transport_error(err, &a, resp->host, resp->client_request_id,
                                   (int)attempt + 1);
    return KVS_OK;
}
