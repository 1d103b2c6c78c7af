/* A scripted transport for unit tests (see fake_transport.h). */
#include "fake_transport.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "azure/clock.h"
#include "fake_clock.h"

#define FAKE_MAX_REPLIES 256
#define FAKE_MAX_REQUESTS 1024

/* A form body (not NUL-terminated: a blob block is binary) holds field. */
static int has_field(const void *body, size_t len, const char *field)
{
    const char *b = body;
    size_t n = strlen(field);
    for (size_t i = 0; i + n <= len; i++)
        if ((i == 0 || b[i - 1] == '&') && strncmp(b + i, field, n) == 0) return 1;
    return 0;
}

static pthread_mutex_t ft_mu = PTHREAD_MUTEX_INITIALIZER;
static fake_reply ft_replies[FAKE_MAX_REPLIES];
static int ft_served[FAKE_MAX_REPLIES];
static size_t ft_nreplies, ft_next;
static fake_request ft_log[FAKE_MAX_REQUESTS];
static size_t ft_nlog, ft_mismatch;

static kvs_status ft_open(const kvs_http_config *cfg, void **ctx, kvs_error *err)
{
    (void)cfg;
    (void)err;
    *ctx = NULL; /* one script serves every kvs_http */
    return KVS_OK;
}

static void ft_close(void *ctx)
{
    (void)ctx;
}

/* The reply for the next request, or NULL when the script is used up. */
static const fake_reply *ft_take(void)
{
    while (ft_next < ft_nreplies) {
        const fake_reply *r = &ft_replies[ft_next];
        if (r->times < 0) return r;
        if (++ft_served[ft_next] >= (r->times > 0 ? r->times : 1)) ft_next++;
        return r;
    }
    return NULL;
}

static void ft_record(fake_request *q, const kvs_transport_attempt *a)
{
    const kvs_http_req *req = a->req;
    memset(q, 0, sizeof(*q));
    snprintf(q->method, sizeof(q->method), "%s", req->method);
    snprintf(q->url, sizeof(q->url), "%s", req->url);
    if (a->target->port == 443)
        snprintf(q->host, sizeof(q->host), "%s", a->target->host);
    else
        snprintf(q->host, sizeof(q->host), "%s:%ld", a->target->host, a->target->port);
    q->secret = req->secret_header != NULL;
    q->bearer = q->secret && strncmp(req->secret_header, "Authorization: Bearer ", 22) == 0 &&
                req->secret_header[22] != '\0';
    q->body = req->body != NULL && req->body_len > 0;
    q->client_secret = q->body && has_field(req->body, req->body_len, "client_secret=");
    if (q->body && strstr(req->url, "/sign?") != NULL) {
        size_t n = req->body_len < sizeof(q->sign_body) - 1 ? req->body_len
                                                            : sizeof(q->sign_body) - 1;
        memcpy(q->sign_body, req->body, n);
        q->sign_body[n] = '\0';
    }
    q->extra_ca = a->extra_ca;
    q->timeout_ms = a->timeout_ms;
    q->at_ms = kvs_mono_ms();
}

static int ft_matches(const fake_reply *r, const kvs_http_req *req)
{
    if (r->method != NULL && strcmp(r->method, req->method) != 0) return 0;
    return r->url_prefix == NULL || strncmp(req->url, r->url_prefix, strlen(r->url_prefix)) == 0;
}

/* Feed the canned headers line by line through the real header parser. */
static void ft_headers(kvs_http_resp *resp, const char *h)
{
    while (h != NULL && *h != '\0') {
        const char *e = strchr(h, '\n');
        size_t n = e ? (size_t)(e - h) + 1 : strlen(h);
        kvs_http_resp_header(resp, h, n);
        h += n;
    }
}

static kvs_status ft_send(void *ctx, kvs_transport_attempt *a, kvs_http_resp *resp,
                          kvs_error *err)
{
    (void)ctx;
    (void)err;
    pthread_mutex_lock(&ft_mu);
    fake_request q;
    ft_record(&q, a);
    const fake_reply *r = ft_take();
    fake_reply reply = r ? *r : (fake_reply){0};
    q.mismatch = r == NULL || !ft_matches(r, a->req);
    if (q.mismatch) ft_mismatch++;
    if (ft_nlog < FAKE_MAX_REQUESTS) ft_log[ft_nlog++] = q;
    pthread_mutex_unlock(&ft_mu);

    if (q.mismatch) {
        a->fail = KVS_NET_OTHER;
        snprintf(a->detail, sizeof(a->detail), "fake transport: unexpected %s %.200s",
                 q.method, q.url);
        return KVS_OK;
    }
    if (reply.fail != KVS_NET_NONE) {
        int64_t took = reply.fail == KVS_NET_TIMEOUT ? a->timeout_ms : reply.takes_ms;
        fake_clock_advance(took);
        a->fail = reply.fail;
        snprintf(a->detail, sizeof(a->detail), "fake network failure %d", (int)reply.fail);
        return KVS_OK;
    }
    fake_clock_advance(reply.takes_ms);
    resp->status = reply.status;
    ft_headers(resp, reply.headers);
    size_t blen = reply.body != NULL ? strlen(reply.body) : 0;
    const kvs_http_req *req = a->req;
    if (req->recv_buf != NULL && reply.status >= 200 && reply.status <= 299) {
        /* As the curl transport: a 2xx body goes to the caller's buffer. */
        if (blen > req->recv_len) {
            a->fail = KVS_NET_TOO_LARGE;
        } else {
            if (blen > 0) memcpy(req->recv_buf, reply.body, blen);
            resp->recv_got = blen;
        }
    } else if (reply.body != NULL && kvs_sbuf_append(&resp->body, reply.body, blen) != 0) {
        a->fail = KVS_NET_TOO_LARGE;
    }
    return KVS_OK;
}

const kvs_transport fake_transport = {ft_open, ft_send, ft_close};

void fake_transport_install(void)
{
    pthread_mutex_lock(&ft_mu);
    ft_nreplies = ft_next = ft_nlog = ft_mismatch = 0;
    memset(ft_served, 0, sizeof(ft_served));
    pthread_mutex_unlock(&ft_mu);
    kvs_transport_set_default(&fake_transport);
}

void fake_transport_uninstall(void)
{
    kvs_transport_set_default(NULL);
}

void fake_queue(fake_reply r)
{
    pthread_mutex_lock(&ft_mu);
    if (ft_nreplies < FAKE_MAX_REPLIES) ft_replies[ft_nreplies++] = r;
    pthread_mutex_unlock(&ft_mu);
}

void fake_respond(const char *method, const char *url_prefix, long status,
                  const char *headers, const char *body)
{
    fake_reply r = {method, url_prefix, status, KVS_NET_NONE, headers, body, 0, 0};
    fake_queue(r);
}

size_t fake_request_count(void)
{
    pthread_mutex_lock(&ft_mu);
    size_t n = ft_nlog;
    pthread_mutex_unlock(&ft_mu);
    return n;
}

fake_request fake_request_at(size_t i)
{
    pthread_mutex_lock(&ft_mu);
    fake_request q = i < ft_nlog ? ft_log[i] : (fake_request){0};
    pthread_mutex_unlock(&ft_mu);
    return q;
}

size_t fake_mismatches(void)
{
    pthread_mutex_lock(&ft_mu);
    size_t n = ft_mismatch;
    pthread_mutex_unlock(&ft_mu);
    return n;
}

size_t fake_pending(void)
{
    pthread_mutex_lock(&ft_mu);
    size_t n = ft_nreplies - ft_next;
    pthread_mutex_unlock(&ft_mu);
    return n;
}
