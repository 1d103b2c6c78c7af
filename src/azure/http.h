/* HTTP exchanges for Key Vault, Entra ID, managed identity and Blob Storage: the request
 * policy and the retry loop above one transport (azure/transport.h; libcurl
 * in production: TLS 1.2 minimum, verification always on, no redirects).
 *
 * https only (plain http solely for managed identity endpoints on loopback or
 * link-local 169.254.0.0/16, when the request allows it); the extra CAs of
 * KVSEAL_CA_FILE are trusted only for hosts the user allowed explicitly, every
 * other host (Key Vault of a known cloud, the Entra sign-in hosts) is checked
 * against the system store alone. Response bodies live in secure memory.
 * Headers holding secrets are wiped after use and never logged. Not
 * thread-safe: the owner serialises calls. */
#ifndef KVS_AZURE_HTTP_H
#define KVS_AZURE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "azure/kvurl.h"
#include "azure/sbuf.h"
#include "kvseal/status.h"

#define KVS_HTTP_MAX_RESPONSE ((size_t)1 << 20)

typedef struct kvs_http kvs_http;
struct kvs_pacer;
struct kvs_transport;

typedef struct kvs_http_config {
    const char *ca_file;    /* extra trusted CAs (PEM) or NULL */
    unsigned connect_timeout_s;
    unsigned request_timeout_s;
    unsigned throttle_max_s; /* once throttled, a request may take this long
                                in total (0: only the caller's deadline) */
    /* The hosts ca_file is trusted for (host or host:port entries; must
     * outlive the kvs_http). NULL or empty: ca_file is trusted for none. */
    const kvs_kv_allowlist *ca_hosts;
    const struct kvs_transport *transport; /* NULL: the default (libcurl) */
} kvs_http_config;

kvs_status kvs_http_new(const kvs_http_config *cfg, kvs_http **out, kvs_error *err);
void kvs_http_free(kvs_http *h);

typedef struct kvs_http_req {
    const char *method;          /* "GET", "POST", "PUT" or "HEAD" */
    const char *url;
    const char *content_type;    /* POST: NULL is application/json; PUT: NULL sends none */
    const char *const *headers;  /* extra non-secret header lines, NULL-terminated */
    const char *secret_header;   /* one header line holding a secret, or NULL */
    const char *body;            /* POST or PUT body (NULL: empty), sent with a
                                    Content-Length, never chunked */
    size_t body_len;
    /* A 2xx response body goes here instead of resp->body (a ranged Get of
     * a blob): at most recv_len bytes, more is KVS_NET_TOO_LARGE; the count
     * is resp->recv_got. Error bodies still go to resp->body. */
    uint8_t *recv_buf;
    size_t recv_len;
    /* The x-ms-client-request-id to send (36 characters), or NULL for a
     * random one: a request signed with Shared Key signs it. */
    const char *client_request_id;
    int allow_plain_http;        /* managed identity: http to loopback / link-local */
    int imds;                    /* also retry 404 and 410 */
    int vault;                   /* count in the vault request statistics */
    struct kvs_pacer *pacer;     /* shared pacing of throttled hosts, or NULL */
    int64_t hard_deadline_ms;    /* 0, or a limit throttling never extends (a file's budget) */
} kvs_http_req;

typedef struct kvs_http_resp {
    long status;                 /* 0 when no response arrived */
    kvs_sbuf body;               /* secure, capped at KVS_HTTP_MAX_RESPONSE */
    char www_authenticate[4096];
    int www_authenticate_cut;    /* the header was longer than the buffer */
    char retry_after[128];
    char retry_after_ms[32];
    char request_id[128];        /* x-ms-request-id */
    char client_request_id[40];  /* the x-ms-client-request-id sent */
    char host[300];              /* host[:port] the request went to */
    char etag[128];              /* ETag, quotes included (Blob Storage) */
    char content_range[96];      /* Content-Range */
    char error_code[64];         /* x-ms-error-code */
    long long content_length;    /* Content-Length, or -1 when absent */
    size_t recv_got;             /* bytes written to req->recv_buf */
    unsigned attempts;           /* attempts kvs_http_exchange made */
} kvs_http_resp;

void kvs_http_resp_init(kvs_http_resp *r);
void kvs_http_resp_free(kvs_http_resp *r);

/* Send req, retrying 408/429/500/502/503/504 (plus 404/410 for IMDS) and
 * connection failures with exponential back-off and jitter, honouring
 * Retry-After, until deadline_ms (kvs_mono_ms clock). Once a 429 arrived the
 * deadline extends to throttle_max_s after the start, and with req->pacer the
 * retries are paced by what the pacer learned (azure/pacer.h). Returns KVS_OK once any
 * final HTTP response arrived (check resp->status), else KVS_ERR_NETWORK
 * (DNS, connect, TLS handshake, timeout, oversized response), KVS_ERR_CONFIG
 * (the server's TLS certificate failed verification: not transient) or
 * KVS_ERR_USAGE (a URL that is not https). */
kvs_status kvs_http_exchange(kvs_http *h, const kvs_http_req *req, int64_t deadline_ms,
                             kvs_http_resp *resp, kvs_error *err);

/* Random UUID v4 text (36 characters + NUL). */
void kvs_uuid4(char out[37]);

/* Wipe a string in place (header lines built around secrets). */
void kvs_wipe_str(char *s);

#endif
