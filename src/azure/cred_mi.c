/* Managed identity credential: App Service / Functions / Container Apps
 * (IDENTITY_ENDPOINT with IDENTITY_HEADER) or a VM's IMDS (IMDS_ENDPOINT,
 * default http://169.254.169.254). Plain http only to loopback or
 * link-local hosts (azure/http.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/cred_sources.h"
#include "azure/kverror.h"
#include "core/error.h"

#define KVS_MI_ENDPOINT_MAX 2048

typedef struct kvs_cred_mi {
    kvs_cred base;
    char endpoint[KVS_MI_ENDPOINT_MAX]; /* IDENTITY_ENDPOINT or IMDS base URL */
} kvs_cred_mi;

/* base?api-version=..&resource=..[&client_id=..] */
static int kvs_mi_url(const kvs_cred_mi *m, const char *base, const char *api,
                      const char *resource, kvs_sbuf *url)
{
    if (kvs_sbuf_puts(url, base) != 0) return -1;
    if (kvs_sbuf_puts(url, strchr(base, '?') ? "&api-version=" : "?api-version=") != 0 ||
        kvs_sbuf_puts(url, api) != 0 || kvs_sbuf_puts(url, "&resource=") != 0 ||
        kvs_sbuf_put_urlenc(url, resource) != 0)
        return -1;
    if (m->base.client_id[0] != '\0' && (kvs_sbuf_puts(url, "&client_id=") != 0 ||
                                         kvs_sbuf_put_urlenc(url, m->base.client_id) != 0))
        return -1;
    return 0;
}

/* IMDS_ENDPOINT may be a bare origin: add the token path then. */
static int kvs_imds_base(const char *endpoint, char *out, size_t cap)
{
    static const char path[] = "/metadata/identity/oauth2/token";
    size_t n = strlen(endpoint);
    while (n > 0 && endpoint[n - 1] == '/') n--;
    const char *scheme_end = strstr(endpoint, "://");
    int bare = scheme_end != NULL && memchr(scheme_end + 3, '/', n - (size_t)(scheme_end + 3 - endpoint)) == NULL;
    int w = snprintf(out, cap, "%.*s%s", (int)n, endpoint, bare ? path : "");
    return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

static const char *kvs_mi_describe(const kvs_cred *c)
{
    return c->kind == KVS_CRED_MI_APPSERVICE ? "managed identity (IDENTITY_ENDPOINT)"
                                             : "managed identity (IMDS)";
}

static kvs_status kvs_mi_failure(const kvs_cred_mi *m, const kvs_http_resp *resp,
                                 kvs_error *err)
{
    char desc[200];
    kvs_entra_error_text(resp->body.p, resp->body.len, desc, sizeof(desc));
    if (m->base.kind == KVS_CRED_MI_IMDS && resp->status == 400)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "managed identity (IMDS): no identity is assigned to this machine%s "
                        "(HTTP 400): %s",
                        m->base.client_id[0] ? " with that AZURE_CLIENT_ID" : "", desc);
    return kvs_fail(err, resp->status >= 500 || resp->status == 429 ? KVS_ERR_NETWORK
                                                                    : KVS_ERR_KEY_ACCESS,
                    "%s refused the token request (HTTP %ld): %s", kvs_mi_describe(&m->base),
                    resp->status, desc);
}

static kvs_status kvs_mi_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                               kvs_token *tok, kvs_error *err)
{
    const kvs_cred_mi *m = (const kvs_cred_mi *)c;
    char base[KVS_MI_ENDPOINT_MAX + 64];
    kvs_sbuf url, secret;
    const char *plain[2] = {"Metadata: true", NULL};
    int imds = c->kind == KVS_CRED_MI_IMDS;
    kvs_sbuf_init(&url, 8192);
    kvs_sbuf_init(&secret, 8192);
    kvs_status st = KVS_OK;
    if (imds ? kvs_imds_base(m->endpoint, base, sizeof(base)) != 0
             : snprintf(base, sizeof(base), "%s", m->endpoint) >= (int)sizeof(base))
        st = kvs_fail(err, KVS_ERR_CONFIG, "managed identity endpoint URL too long");
    else if (kvs_mi_url(m, base, imds ? "2018-02-01" : "2019-08-01", r->resource, &url) != 0 ||
             (!imds && (kvs_cred_env("IDENTITY_HEADER") == NULL ||
                        kvs_sbuf_puts(&secret, "X-IDENTITY-HEADER: ") != 0 ||
                        kvs_sbuf_puts(&secret, kvs_cred_env("IDENTITY_HEADER")) != 0)))
        st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "managed identity request too large");
    if (st == KVS_OK) {
        kvs_http_req req = {0};
        kvs_http_resp resp;
        req.method = "GET";
        req.url = url.p;
        req.headers = imds ? plain : NULL;
        req.secret_header = imds ? NULL : secret.p;
        req.allow_plain_http = 1; /* refused unless loopback or link-local */
        req.imds = imds;
        req.hard_deadline_ms = r->hard_deadline_ms;
        kvs_http_resp_init(&resp);
        st = kvs_http_exchange(http, &req, r->deadline_ms, &resp, err);
        if (st == KVS_OK && resp.status != 200) st = kvs_mi_failure(m, &resp, err);
        else if (st == KVS_OK &&
                 kvs_token_from_json(resp.body.p, resp.body.len, "access_token", tok) != 0)
            st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "managed identity answered without a token");
        kvs_http_resp_free(&resp);
    }
    kvs_sbuf_free(&url);
    kvs_sbuf_free(&secret);
    return st;
}

static void kvs_mi_free(kvs_cred *c)
{
    free(c);
}

static const kvs_cred_ops kvs_mi_ops = {kvs_mi_token, kvs_mi_describe, kvs_mi_free};

kvs_status kvs_cred_mi_new(const kvs_cred *base, kvs_cred **out, kvs_error *err)
{
    const char *ep = kvs_cred_env(base->kind == KVS_CRED_MI_APPSERVICE ? "IDENTITY_ENDPOINT"
                                                                       : "IMDS_ENDPOINT");
    if (ep == NULL) ep = "http://169.254.169.254"; /* IMDS; App Service always has one */
    if (strlen(ep) >= KVS_MI_ENDPOINT_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    kvs_cred_mi *m = calloc(1, sizeof(*m));
    if (m == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    m->base = *base;
    m->base.ops = &kvs_mi_ops;
    memcpy(m->endpoint, ep, strlen(ep) + 1);
    *out = &m->base;
    return KVS_OK;
}
