/* The transport seam: one HTTP attempt, below the retry loop of http.c.
 *
 * http.c decides what to send, where it may go, which CAs to trust, how long
 * the attempt may take and what to do with the outcome (retry, back-off,
 * Retry-After, pacing, error text). A transport only carries out one attempt
 * and reports either the response (status, headers through
 * kvs_http_resp_header, body) or what kind of network failure ended it.
 * Production uses libcurl (transport_curl.c); unit tests install a scripted
 * fake with kvs_transport_set_default. Internal API, not in include/. */
#ifndef KVS_AZURE_TRANSPORT_H
#define KVS_AZURE_TRANSPORT_H

#include <stddef.h>

#include "azure/http.h"
#include "azure/kvurl.h"
#include "kvseal/status.h"

/* How an attempt ended without a response. */
typedef enum kvs_net_fail {
    KVS_NET_NONE = 0,      /* a response arrived */
    KVS_NET_DNS,           /* name lookup failed */
    KVS_NET_CONNECT,       /* connection refused or unreachable (retried) */
    KVS_NET_TIMEOUT,       /* connect or request timeout (retried) */
    KVS_NET_DROPPED,       /* connection closed or reset mid-exchange (retried) */
    KVS_NET_TLS_VERIFY,    /* certificate not trusted or not for the host */
    KVS_NET_TLS_HANDSHAKE, /* no common TLS version or cipher */
    KVS_NET_TOO_LARGE,     /* response over KVS_HTTP_MAX_RESPONSE */
    KVS_NET_OTHER
} kvs_net_fail;

/* Where a request goes, from its URL (lowercase host, IPv6 in brackets). */
typedef struct kvs_http_target {
    char scheme[8];
    char host[KVS_KV_HOST_MAX];
    long port;
    int local; /* loopback or link-local (IMDS, App Service): never proxied */
} kvs_http_target;

/* One attempt: inputs from http.c, outcome from the transport. */
typedef struct kvs_transport_attempt {
    const kvs_http_req *req;
    const kvs_http_target *target;
    long timeout_ms;       /* whole attempt */
    int extra_ca;          /* also trust the configured extra CAs for this host */
    kvs_net_fail fail;     /* out: KVS_NET_NONE when resp holds a response */
    char detail[256];      /* out: the transport's own words for a failure */
} kvs_transport_attempt;

typedef struct kvs_transport {
    /* Per kvs_http state (connections, loaded CAs) for cfg. */
    kvs_status (*open)(const kvs_http_config *cfg, void **ctx, kvs_error *err);
    /* Carry out one attempt into resp (already cleared, client_request_id
     * set). KVS_OK when the attempt ran, whether or not a response arrived
     * (see a->fail); another status only for a local failure (memory,
     * configuration of the transport itself). */
    kvs_status (*send)(void *ctx, kvs_transport_attempt *a, kvs_http_resp *resp,
                       kvs_error *err);
    void (*close)(void *ctx);
} kvs_transport;

extern const kvs_transport kvs_transport_curl;

/* The transport kvs_http_new uses when cfg->transport is NULL: t, or
 * libcurl for NULL. For tests; set it before any client is made. */
void kvs_transport_set_default(const kvs_transport *t);

/* Record one response header line ("Name: value\r\n") in r: the
 * WWW-Authenticate challenge, Retry-After, x-ms-retry-after-ms and the
 * request id. A status line ("HTTP/...") forgets the headers seen so far. */
void kvs_http_resp_header(kvs_http_resp *r, const char *line, size_t n);

#endif
