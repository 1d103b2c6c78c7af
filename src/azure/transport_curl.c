/* The libcurl transport: one hardened HTTPS (or local plain HTTP) attempt.
 *
 * TLS 1.2 minimum, peer and host verification always on, no redirects,
 * connect and total timeouts, capped response sizes, one reused connection
 * per scheme/host/port. The extra CAs are added to the system store only for
 * the attempts http.c marks (hosts the user allowed explicitly). */
#define _POSIX_C_SOURCE 200809L
#include "azure/transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/error.h"

#define KVS_CURL_POOL 8
#define KVS_USER_AGENT "kvseal/0.1.0"

typedef struct kvs_curl_conn {
    char key[320]; /* scheme://host:port */
    CURL *curl;
    uint64_t used;
} kvs_curl_conn;

typedef struct kvs_curl_ctx {
    STACK_OF(X509) *extra_ca;
    long connect_ms;
    uint64_t tick;
    kvs_curl_conn pool[KVS_CURL_POOL];
} kvs_curl_ctx;

/* ---- process-wide libcurl initialisation ------------------------------- */

static pthread_once_t kvs_curl_once = PTHREAD_ONCE_INIT;
static CURLcode kvs_curl_init_rc = CURLE_FAILED_INIT;

static void kvs_curl_global_init(void)
{
    kvs_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
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
 * store curl already loaded keeps the system store as the default. curl may
 * cache that store per handle; a pooled handle only ever serves one
 * scheme/host/port, whose CA decision does not change. */
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

static void kvs_curl_close(void *ctx)
{
    kvs_curl_ctx *x = ctx;
    if (x == NULL) return;
    for (size_t i = 0; i < KVS_CURL_POOL; i++)
        if (x->pool[i].curl != NULL) curl_easy_cleanup(x->pool[i].curl);
    sk_X509_pop_free(x->extra_ca, X509_free);
    free(x);
}

static kvs_status kvs_curl_open(const kvs_http_config *cfg, void **ctx, kvs_error *err)
{
    *ctx = NULL;
    pthread_once(&kvs_curl_once, kvs_curl_global_init);
    if (kvs_curl_init_rc != CURLE_OK)
        return kvs_fail(err, KVS_ERR_INTERNAL, "libcurl initialisation failed");
    kvs_curl_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    x->connect_ms = (long)cfg->connect_timeout_s * 1000;
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
        kvs_status st = kvs_load_ca_file(cfg->ca_file, &x->extra_ca, err);
        if (st != KVS_OK) {
            free(x);
            return st;
        }
    }
    *ctx = x;
    return KVS_OK;
}

/* ---- the connection pool ------------------------------------------------ */

static CURL *kvs_pool_get(kvs_curl_ctx *x, const kvs_http_target *t)
{
    char key[sizeof(x->pool[0].key)];
    snprintf(key, sizeof(key), "%s://%s:%ld", t->scheme, t->host, t->port);
    kvs_curl_conn *victim = &x->pool[0];
    for (size_t i = 0; i < KVS_CURL_POOL; i++) {
        kvs_curl_conn *c = &x->pool[i];
        if (c->curl != NULL && strcmp(c->key, key) == 0) {
            c->used = ++x->tick;
            return c->curl;
        }
        if (c->curl == NULL || (victim->curl != NULL && c->used < victim->used)) victim = c;
    }
    if (victim->curl != NULL) curl_easy_cleanup(victim->curl); /* least recently used */
    victim->curl = curl_easy_init();
    if (victim->curl == NULL) return NULL;
    memcpy(victim->key, key, sizeof(key));
    victim->used = ++x->tick;
    return victim->curl;
}

/* ---- callbacks --------------------------------------------------------- */

typedef struct kvs_io {
    kvs_http_resp *resp;
    int too_large;
    CURL *curl;
    const kvs_http_req *req;
} kvs_io;

/* A 2xx body with a caller buffer (a ranged blob Get) goes there, exactly. */
static int kvs_write_recv(kvs_io *io, const char *data, size_t n)
{
    long code = 0;
    const kvs_http_req *req = io->req;
    if (req->recv_buf == NULL) return 0;
    if (curl_easy_getinfo(io->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) return 0;
    if (code < 200 || code > 299) return 0;
    kvs_http_resp *r = io->resp;
    if (n > req->recv_len - r->recv_got) return -1;
    memcpy(req->recv_buf + r->recv_got, data, n);
    r->recv_got += n;
    return 1;
}

static size_t kvs_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    kvs_io *io = userdata;
    size_t n = size * nmemb;
    int direct = kvs_write_recv(io, data, n);
    if (direct == 1) return n;
    if (direct < 0 || kvs_sbuf_append(&io->resp->body, data, n) != 0) {
        io->too_large = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t kvs_header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    kvs_io *io = userdata;
    size_t n = size * nitems;
    kvs_http_resp_header(io->resp, line, n);
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
    if (strcmp(req->method, "POST") == 0 || (strcmp(req->method, "PUT") == 0 && req->content_type))
        l = kvs_slist_add(l, ctline, ok);
    else if (strcmp(req->method, "PUT") == 0)
        l = kvs_slist_add(l, "Content-Type:", ok); /* none: Shared Key signs what is sent */
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        l = kvs_slist_add(l, req->headers[i], ok);
    l = kvs_slist_add(l, req->secret_header, ok);
    return l;
}

static int kvs_set_tls(kvs_curl_ctx *x, CURL *c, int extra_ca)
{
    int bad = 0;
    bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    if (extra_ca && x->extra_ca != NULL) {
        bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, kvs_ssl_ctx_cb) != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, (void *)x->extra_ca) != CURLE_OK;
    }
    return bad;
}

static int kvs_set_options(kvs_curl_ctx *x, CURL *c, const kvs_transport_attempt *a,
                           struct curl_slist *hdrs, kvs_io *io, char *errbuf)
{
    const kvs_http_req *req = a->req;
    const kvs_http_target *t = a->target;
    int bad = 0;
    curl_easy_reset(c); /* keeps the live connection and TLS session */
    bad |= curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, t->scheme) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->connect_ms) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, a->timeout_ms) != CURLE_OK;
    size_t max_body = req->recv_len > KVS_HTTP_MAX_RESPONSE ? req->recv_len : KVS_HTTP_MAX_RESPONSE;
    /* A HEAD's Content-Length is the blob's size, not a body to receive. */
    if (strcmp(req->method, "HEAD") != 0)
        bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, KVS_USER_AGENT) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kvs_write_cb) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)io) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, kvs_header_cb) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)io) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    if (t->local) bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
    if (strcmp(t->scheme, "https") == 0) bad |= kvs_set_tls(x, c, a->extra_ca);
    int put = strcmp(req->method, "PUT") == 0;
    if (strcmp(req->method, "POST") == 0 || put) {
        /* A PUT is a POST with its method renamed: the body goes with a
         * Content-Length (Put Block refuses chunked transfer). */
        bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
        if (put) bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT") != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") != CURLE_OK;
        bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)(req->body ? req->body_len : 0)) != CURLE_OK;
    } else if (strcmp(req->method, "HEAD") == 0) {
        bad |= curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK;
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
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
}

static kvs_net_fail kvs_fail_kind(CURLcode rc, int too_large)
{
    switch (rc) {
    case CURLE_OK:
        return KVS_NET_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
        return KVS_NET_DNS;
    case CURLE_COULDNT_CONNECT:
        return KVS_NET_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return KVS_NET_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
        return KVS_NET_TLS_VERIFY;
    case CURLE_SSL_CONNECT_ERROR:
        return KVS_NET_TLS_HANDSHAKE;
    case CURLE_FILESIZE_EXCEEDED:
        return KVS_NET_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return too_large ? KVS_NET_TOO_LARGE : KVS_NET_OTHER;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return KVS_NET_DROPPED;
    default:
        return KVS_NET_OTHER;
    }
}

static kvs_status kvs_curl_send(void *ctx, kvs_transport_attempt *a, kvs_http_resp *resp,
                                kvs_error *err)
{
    kvs_curl_ctx *x = ctx;
    char errbuf[CURL_ERROR_SIZE];
    kvs_io io = {resp, 0, NULL, a->req};
    int ok;
    errbuf[0] = '\0';
    CURL *c = kvs_pool_get(x, a->target);
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory (curl handle)");
    io.curl = c;
    struct curl_slist *hdrs = kvs_build_headers(a->req, resp->client_request_id, &ok);
    if (!ok || kvs_set_options(x, c, a, hdrs, &io, errbuf)) {
        kvs_unset_options(c);
        kvs_slist_free_wiped(hdrs);
        return kvs_fail(err, KVS_ERR_INTERNAL, "cannot configure libcurl");
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    kvs_unset_options(c);
    kvs_slist_free_wiped(hdrs);
    a->fail = kvs_fail_kind(rc, io.too_large);
    if (a->fail != KVS_NET_NONE)
        snprintf(a->detail, sizeof(a->detail), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return KVS_OK;
}

const kvs_transport kvs_transport_curl = {kvs_curl_open, kvs_curl_send, kvs_curl_close};
