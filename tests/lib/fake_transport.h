/* A scripted transport for unit tests of the Key Vault protocol logic.
 *
 * Replies are queued in order; each request takes the next one. A reply may
 * state the method and a URL prefix it expects: a request that does not
 * match gets a network failure and counts as a mismatch, so a test fails
 * loudly on an unexpected request. Every request is recorded with what a
 * test may assert on: method, URL, host, whether a secret (token, client
 * secret) was present -- never the secret itself -- and whether the extra
 * CAs were trusted for it. With the fake clock installed, a reply's takes_ms
 * (or a timeout) advances virtual time. Thread-safe. */
#ifndef KVS_FAKE_TRANSPORT_H
#define KVS_FAKE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "azure/transport.h"

typedef struct fake_reply {
    const char *method;     /* expected method, or NULL for any */
    const char *url_prefix; /* expected URL prefix, or NULL for any */
    long status;            /* HTTP status; ignored when fail is set */
    kvs_net_fail fail;      /* a network failure instead of a response */
    const char *headers;    /* "Name: value\n" lines, or NULL */
    const char *body;       /* response body, or NULL */
    int64_t takes_ms;       /* virtual time the attempt takes */
    int times;              /* serve this many times (0 counts as 1; -1: forever) */
} fake_reply;

typedef struct fake_request {
    char method[8];
    char url[2048];
    char host[300];      /* host[:port] as the transport saw it */
    int secret;          /* a secret header line was sent */
    int bearer;          /* ... and it is "Authorization: Bearer <something>" */
    int body;            /* a request body was sent */
    int client_secret;   /* the body has a client_secret form field */
    int extra_ca;        /* the extra CAs were trusted for this attempt */
    long timeout_ms;
    int64_t at_ms;       /* kvs_mono_ms when sent */
    int mismatch;        /* it did not match the queued reply */
    /* The body of a Key Vault sign request (a digest, not a secret; cut at
     * 511 bytes). Other bodies are never recorded. */
    char sign_body[512];
} fake_request;

/* Clear the script and the record, and make the fake the default transport
 * of every kvs_http made from now on. */
void fake_transport_install(void);
void fake_transport_uninstall(void);
/* The fake itself, for kvs_http_config.transport. */
extern const kvs_transport fake_transport;

void fake_queue(fake_reply r);
/* Shorthands: a response with status, headers and body, served once. */
void fake_respond(const char *method, const char *url_prefix, long status,
                  const char *headers, const char *body);

size_t fake_request_count(void);
/* A copy of request i (0-based); i must be < fake_request_count(). */
fake_request fake_request_at(size_t i);
/* Requests that did not match their reply, or found none queued. */
size_t fake_mismatches(void);
/* Queued replies not yet used up (one served forever counts as one). */
size_t fake_pending(void);

#endif
