/* Microsoft Entra ID credentials: source selection, the token endpoint,
 * workload identity and managed identity. */
#define _POSIX_C_SOURCE 200809L
#include "azure/cred.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "azure/kverror.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/error.h"

#define KVS_PATH_MAX 4096
#define KVS_TOKEN_MAX (64 * 1024)
#define KVS_FED_REREAD_MS (5 * 60 * 1000)

struct kvs_cred {
    kvs_cred_kind kind;
    char client_id[256];
    char tenant[130];
    char secret_file[KVS_PATH_MAX];
    char cert_path[KVS_PATH_MAX];
    char fed_file[KVS_PATH_MAX];
    char endpoint[2048]; /* IDENTITY_ENDPOINT or IMDS base URL */
    kvs_cert_cred cert;  /* loaded on first use */
    kvs_sbuf fed_token;  /* workload identity assertion, cached */
    int64_t fed_read_ms;
};

void kvs_token_init(kvs_token *t)
{
    memset(t, 0, sizeof(*t));
    kvs_sbuf_init(&t->text, KVS_TOKEN_MAX);
}

void kvs_token_free(kvs_token *t)
{
    kvs_sbuf_free(&t->text);
    t->expires_on = t->issued_at = 0;
}

/* ---- choosing the source ----------------------------------------------- */

static const char *kvs_env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static int kvs_copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = kvs_env(name);
    if (v == NULL) return 0;
    if (strlen(v) >= cap) return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

/* An executable named az in a PATH directory. */
static int kvs_az_on_path(void)
{
    const char *path = kvs_env("PATH");
    char buf[KVS_PATH_MAX];
    while (path != NULL) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        int w = snprintf(buf, sizeof(buf), "%.*s/az", (int)n, n ? path : ".");
        if (w > 0 && (size_t)w < sizeof(buf) && access(buf, X_OK) == 0) return 1;
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

static int kvs_secret_configured(void)
{
    return kvs_env("AZURE_CLIENT_ID") &&
           (kvs_env("AZURE_CLIENT_SECRET") || kvs_env("AZURE_CLIENT_SECRET_FILE"));
}

static int kvs_cert_configured(void)
{
    return kvs_env("AZURE_CLIENT_ID") && kvs_env("AZURE_CLIENT_CERTIFICATE_PATH");
}

static int kvs_workload_configured(void)
{
    return kvs_env("AZURE_CLIENT_ID") && kvs_env("AZURE_FEDERATED_TOKEN_FILE");
}

static kvs_cred_kind kvs_mi_kind(void)
{
    if (kvs_env("IDENTITY_ENDPOINT") && kvs_env("IDENTITY_HEADER")) return KVS_CRED_MI_APPSERVICE;
    return KVS_CRED_MI_IMDS;
}

static kvs_cred_kind kvs_auto_kind(void)
{
    if (kvs_secret_configured()) return KVS_CRED_ENV_SECRET;
    if (kvs_cert_configured()) return KVS_CRED_ENV_CERT;
    if (kvs_workload_configured()) return KVS_CRED_WORKLOAD;
    if (kvs_env("IDENTITY_ENDPOINT") && kvs_env("IDENTITY_HEADER")) return KVS_CRED_MI_APPSERVICE;
    if (kvs_env("IMDS_ENDPOINT")) return KVS_CRED_MI_IMDS;
    if (kvs_az_on_path()) return KVS_CRED_CLI;
    return KVS_CRED_NONE;
}

static kvs_status kvs_named_kind(const char *name, kvs_cred_kind *kind, kvs_error *err)
{
    if (strcmp(name, "env-secret") == 0) {
        if (!kvs_secret_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential env-secret needs AZURE_CLIENT_ID "
                            "and AZURE_CLIENT_SECRET or AZURE_CLIENT_SECRET_FILE");
        *kind = KVS_CRED_ENV_SECRET;
    } else if (strcmp(name, "env-cert") == 0) {
        if (!kvs_cert_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential env-cert needs AZURE_CLIENT_ID "
                            "and AZURE_CLIENT_CERTIFICATE_PATH");
        *kind = KVS_CRED_ENV_CERT;
    } else if (strcmp(name, "workload") == 0) {
        if (!kvs_workload_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential workload needs AZURE_CLIENT_ID "
                            "and AZURE_FEDERATED_TOKEN_FILE");
        *kind = KVS_CRED_WORKLOAD;
    } else if (strcmp(name, "managed-identity") == 0) {
        *kind = kvs_mi_kind();
    } else if (strcmp(name, "cli") == 0) {
        *kind = KVS_CRED_CLI;
    } else {
        return kvs_fail(err, KVS_ERR_CONFIG, "unknown credential '%.64s' (auto, env-secret, "
                        "env-cert, workload, managed-identity, cli)", name);
    }
    return KVS_OK;
}

static kvs_status kvs_cred_capture_env(kvs_cred *c, kvs_error *err)
{
    int bad = kvs_copy_env(c->client_id, sizeof(c->client_id), "AZURE_CLIENT_ID") < 0 ||
              kvs_copy_env(c->tenant, sizeof(c->tenant), "AZURE_TENANT_ID") < 0 ||
              kvs_copy_env(c->secret_file, sizeof(c->secret_file), "AZURE_CLIENT_SECRET_FILE") < 0 ||
              kvs_copy_env(c->cert_path, sizeof(c->cert_path), "AZURE_CLIENT_CERTIFICATE_PATH") < 0 ||
              kvs_copy_env(c->fed_file, sizeof(c->fed_file), "AZURE_FEDERATED_TOKEN_FILE") < 0;
    if (!bad && c->kind == KVS_CRED_MI_APPSERVICE)
        bad = kvs_copy_env(c->endpoint, sizeof(c->endpoint), "IDENTITY_ENDPOINT") < 0;
    if (!bad && c->kind == KVS_CRED_MI_IMDS &&
        kvs_copy_env(c->endpoint, sizeof(c->endpoint), "IMDS_ENDPOINT") == 0)
        memcpy(c->endpoint, "http://169.254.169.254", sizeof("http://169.254.169.254"));
    if (bad) return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    for (const char *p = c->tenant; *p; p++) {
        int ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.' || *p == '_';
        if (!ok) return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_TENANT_ID is not a tenant id");
    }
    return KVS_OK;
}

kvs_status kvs_cred_new(const char *name, kvs_cred **out, kvs_error *err)
{
    *out = NULL;
    kvs_cred_kind kind = KVS_CRED_NONE;
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0) {
        kind = kvs_auto_kind();
    } else {
        kvs_status st = kvs_named_kind(name, &kind, err);
        if (st != KVS_OK) return st;
    }
    kvs_cred *c = calloc(1, sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    c->kind = kind;
    kvs_sbuf_init(&c->fed_token, KVS_TOKEN_MAX);
    kvs_status st = kvs_cred_capture_env(c, err);
    if (st != KVS_OK) {
        kvs_cred_free(c);
        return st;
    }
    *out = c;
    return KVS_OK;
}

void kvs_cred_free(kvs_cred *c)
{
    if (c == NULL) return;
    kvs_cert_cred_clear(&c->cert);
    kvs_sbuf_free(&c->fed_token);
    free(c);
}

kvs_cred_kind kvs_cred_kind_of(const kvs_cred *c)
{
    return c->kind;
}

const char *kvs_cred_describe(const kvs_cred *c)
{
    switch (c->kind) {
    case KVS_CRED_ENV_SECRET:
        return "environment client secret";
    case KVS_CRED_ENV_CERT:
        return "environment client certificate";
    case KVS_CRED_WORKLOAD:
        return "workload identity";
    case KVS_CRED_MI_APPSERVICE:
        return "managed identity (IDENTITY_ENDPOINT)";
    case KVS_CRED_MI_IMDS:
        return "managed identity (IMDS)";
    case KVS_CRED_CLI:
        return "Azure CLI";
    case KVS_CRED_NONE:
    default:
        return "no credential";
    }
}

const char *kvs_cred_tenant(const kvs_cred *c)
{
    return c->tenant[0] ? c->tenant : NULL;
}

/* ---- shared pieces ------------------------------------------------------ */

kvs_status kvs_read_file_secure(const char *path, size_t max, kvs_sbuf *out, kvs_error *err)
{
    char chunk[4096];
    kvs_sbuf_init(out, max);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kvs_fail(err, KVS_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
    kvs_status st = KVS_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            st = kvs_fail(err, KVS_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        if (kvs_sbuf_append(out, chunk, (size_t)n) != 0) {
            st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "'%s' is larger than %zu bytes", path, max);
            break;
        }
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    if (st != KVS_OK) kvs_sbuf_free(out);
    return st;
}

static void kvs_sbuf_rtrim(kvs_sbuf *b)
{
    while (b->len > 0 && (b->p[b->len - 1] == '\n' || b->p[b->len - 1] == '\r' ||
                          b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\t'))
        b->p[--b->len] = '\0';
}

int kvs_token_from_json(const char *body, size_t len, const char *access_field, kvs_token *tok)
{
    int64_t now = kvs_wall_s(), on = 0, in = 0;
    cJSON *j = kvs_json_parse(body, len);
    const char *t = kvs_json_str(j, access_field);
    int rc = -1;
    kvs_sbuf_reset(&tok->text);
    if (t != NULL && t[0] != '\0' && strpbrk(t, " \r\n\t\"") == NULL &&
        kvs_sbuf_puts(&tok->text, t) == 0) {
        if (kvs_json_i64(j, "expires_on", &on) == 0 && on > 1000000000) {
            tok->expires_on = on;
        } else if (kvs_json_i64(j, "expires_in", &in) == 0) {
            tok->expires_on = now + in;
        } else {
            tok->expires_on = now + 300; /* unknown: assume short-lived */
        }
        tok->issued_at = now;
        rc = 0;
    }
    kvs_json_free_wiped(j);
    return rc;
}

/* ---- Entra ID token endpoint ------------------------------------------- */

static int kvs_form_add(kvs_sbuf *f, const char *name, const char *value)
{
    if (f->len > 0 && kvs_sbuf_puts(f, "&") != 0) return -1;
    if (kvs_sbuf_puts(f, name) != 0 || kvs_sbuf_puts(f, "=") != 0) return -1;
    return kvs_sbuf_put_urlenc(f, value);
}

static kvs_status kvs_token_url(const kvs_token_req *r, const char *tenant, char *url,
                                size_t cap, kvs_error *err)
{
    int n = snprintf(url, cap, "%s/%s/oauth2/v2.0/token", r->authority, tenant);
    if (n < 0 || (size_t)n >= cap)
        return kvs_fail(err, KVS_ERR_CONFIG, "authority URL too long");
    return KVS_OK;
}

static kvs_status kvs_entra_post(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                 const char *url, const kvs_sbuf *form, kvs_token *tok,
                                 kvs_error *err)
{
    kvs_http_resp resp;
    kvs_http_req req = {0};
    req.method = "POST";
    req.url = url;
    req.content_type = "application/x-www-form-urlencoded";
    req.body = form->p;
    req.body_len = form->len;
    kvs_http_resp_init(&resp);
    kvs_status st = kvs_http_exchange(http, &req, r->deadline_ms, &resp, err);
    if (st == KVS_OK && resp.status == 200 &&
        kvs_token_from_json(resp.body.p, resp.body.len, "access_token", tok) != 0)
        st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "Entra ID answered without an access token");
    else if (st == KVS_OK && resp.status != 200) {
        char desc[200], ids[200];
        kvs_entra_error_text(resp.body.p, resp.body.len, desc, sizeof(desc));
        kvs_request_ids(resp.client_request_id, resp.request_id, ids, sizeof(ids));
        st = kvs_fail(err, resp.status >= 500 || resp.status == 429 ? KVS_ERR_NETWORK
                                                                    : KVS_ERR_KEY_ACCESS,
                      "Entra ID refused the %s credential (client %.64s, tenant %.64s, HTTP "
                      "%ld): %s%s",
                      kvs_cred_describe(c), c->client_id, r->tenant, resp.status, desc, ids);
    }
    kvs_http_resp_free(&resp);
    return st;
}

static kvs_status kvs_secret_value(kvs_cred *c, kvs_sbuf *out, kvs_error *err)
{
    const char *v = kvs_env("AZURE_CLIENT_SECRET");
    if (v != NULL) {
        kvs_sbuf_init(out, KVS_TOKEN_MAX);
        return kvs_sbuf_puts(out, v) == 0
                   ? KVS_OK
                   : kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client secret too long");
    }
    kvs_status st = kvs_read_file_secure(c->secret_file, KVS_TOKEN_MAX, out, err);
    if (st != KVS_OK) return st;
    kvs_sbuf_rtrim(out);
    if (out->len == 0) return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_CLIENT_SECRET_FILE is empty");
    return KVS_OK;
}

static kvs_status kvs_workload_assertion(kvs_cred *c, kvs_error *err)
{
    int64_t now = kvs_mono_ms();
    if (c->fed_token.len > 0 && now - c->fed_read_ms < KVS_FED_REREAD_MS) return KVS_OK;
    kvs_sbuf_free(&c->fed_token); /* projected tokens rotate: re-read */
    kvs_status st = kvs_read_file_secure(c->fed_file, KVS_TOKEN_MAX, &c->fed_token, err);
    if (st != KVS_OK) return st;
    kvs_sbuf_rtrim(&c->fed_token);
    if (c->fed_token.len == 0)
        return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_FEDERATED_TOKEN_FILE is empty");
    c->fed_read_ms = now;
    return KVS_OK;
}

/* The credential-specific part of the token request form. */
static kvs_status kvs_entra_proof(kvs_cred *c, const char *url, kvs_sbuf *form, kvs_error *err)
{
    static const char jwt_type[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    kvs_status st = KVS_OK;
    if (c->kind == KVS_CRED_ENV_SECRET) {
        kvs_sbuf secret;
        st = kvs_secret_value(c, &secret, err);
        if (st == KVS_OK && kvs_form_add(form, "client_secret", secret.p) != 0)
            st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
        kvs_sbuf_free(&secret);
        return st;
    }
    if (kvs_form_add(form, "client_assertion_type", jwt_type) != 0 ||
        kvs_sbuf_puts(form, "&client_assertion=") != 0)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    if (c->kind == KVS_CRED_WORKLOAD) {
        st = kvs_workload_assertion(c, err);
        if (st == KVS_OK && kvs_sbuf_put_urlenc(form, c->fed_token.p) != 0)
            st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
        return st;
    }
    if (c->cert.key == NULL) {
        st = kvs_cert_cred_load(c->cert_path, kvs_env("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
                                &c->cert, err);
        if (st != KVS_OK) return st;
    }
    return kvs_cert_assertion(&c->cert, c->client_id, url, form, err); /* b64url: no escaping */
}

static kvs_status kvs_entra_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                  kvs_token *tok, kvs_error *err)
{
    char url[2300];
    if (r->tenant == NULL || r->tenant[0] == '\0')
        return kvs_fail(err, KVS_ERR_CONFIG, "no tenant: set AZURE_TENANT_ID");
    kvs_status st = kvs_token_url(r, r->tenant, url, sizeof(url), err);
    if (st != KVS_OK) return st;
    kvs_sbuf form;
    kvs_sbuf_init(&form, 256 * 1024);
    if (kvs_form_add(&form, "grant_type", "client_credentials") != 0 ||
        kvs_form_add(&form, "client_id", c->client_id) != 0 ||
        kvs_form_add(&form, "scope", r->scope) != 0) {
        kvs_sbuf_free(&form);
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    }
    st = kvs_entra_proof(c, url, &form, err);
    if (st == KVS_OK) st = kvs_entra_post(c, http, r, url, &form, tok, err);
    kvs_sbuf_free(&form);
    return st;
}

/* ---- managed identity -------------------------------------------------- */

/* base?api-version=..&resource=..[&client_id=..] */
static int kvs_mi_url(kvs_cred *c, const char *base, const char *api, const char *resource,
                      kvs_sbuf *url)
{
    if (kvs_sbuf_puts(url, base) != 0) return -1;
    if (kvs_sbuf_puts(url, strchr(base, '?') ? "&api-version=" : "?api-version=") != 0 ||
        kvs_sbuf_puts(url, api) != 0 || kvs_sbuf_puts(url, "&resource=") != 0 ||
        kvs_sbuf_put_urlenc(url, resource) != 0)
        return -1;
    if (c->client_id[0] != '\0' &&
        (kvs_sbuf_puts(url, "&client_id=") != 0 || kvs_sbuf_put_urlenc(url, c->client_id) != 0))
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

static kvs_status kvs_mi_failure(kvs_cred *c, const kvs_http_resp *resp, kvs_error *err)
{
    char desc[200];
    kvs_entra_error_text(resp->body.p, resp->body.len, desc, sizeof(desc));
    if (c->kind == KVS_CRED_MI_IMDS && resp->status == 400)
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "managed identity (IMDS): no identity is assigned to this machine%s "
                        "(HTTP 400): %s",
                        c->client_id[0] ? " with that AZURE_CLIENT_ID" : "", desc);
    return kvs_fail(err, resp->status >= 500 || resp->status == 429 ? KVS_ERR_NETWORK
                                                                    : KVS_ERR_KEY_ACCESS,
                    "%s refused the token request (HTTP %ld): %s", kvs_cred_describe(c),
                    resp->status, desc);
}

static kvs_status kvs_mi_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                               kvs_token *tok, kvs_error *err)
{
    char base[2100];
    kvs_sbuf url, secret;
    const char *plain[2] = {"Metadata: true", NULL};
    int imds = c->kind == KVS_CRED_MI_IMDS;
    kvs_sbuf_init(&url, 8192);
    kvs_sbuf_init(&secret, 8192);
    kvs_status st = KVS_OK;
    if (imds ? kvs_imds_base(c->endpoint, base, sizeof(base)) != 0
             : snprintf(base, sizeof(base), "%s", c->endpoint) >= (int)sizeof(base))
        st = kvs_fail(err, KVS_ERR_CONFIG, "managed identity endpoint URL too long");
    else if (kvs_mi_url(c, base, imds ? "2018-02-01" : "2019-08-01", r->resource, &url) != 0 ||
             (!imds && (kvs_env("IDENTITY_HEADER") == NULL ||
                        kvs_sbuf_puts(&secret, "X-IDENTITY-HEADER: ") != 0 ||
                        kvs_sbuf_puts(&secret, kvs_env("IDENTITY_HEADER")) != 0)))
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
        kvs_http_resp_init(&resp);
        st = kvs_http_exchange(http, &req, r->deadline_ms, &resp, err);
        if (st == KVS_OK && resp.status != 200) st = kvs_mi_failure(c, &resp, err);
        else if (st == KVS_OK &&
                 kvs_token_from_json(resp.body.p, resp.body.len, "access_token", tok) != 0)
            st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "managed identity answered without a token");
        kvs_http_resp_free(&resp);
    }
    kvs_sbuf_free(&url);
    kvs_sbuf_free(&secret);
    return st;
}

/* ---- dispatch ----------------------------------------------------------- */

kvs_status kvs_cred_get_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                              kvs_token *tok, kvs_error *err)
{
    kvs_status st;
    switch (c->kind) {
    case KVS_CRED_ENV_SECRET:
    case KVS_CRED_ENV_CERT:
    case KVS_CRED_WORKLOAD:
        st = kvs_entra_token(c, http, r, tok, err);
        break;
    case KVS_CRED_MI_APPSERVICE:
    case KVS_CRED_MI_IMDS:
        st = kvs_mi_token(c, http, r, tok, err);
        break;
    case KVS_CRED_CLI:
        st = kvs_cli_get_token(r, tok, err);
        break;
    case KVS_CRED_NONE:
    default:
        return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                        "no Azure credential is configured: set AZURE_CLIENT_ID with "
                        "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
                        "AZURE_FEDERATED_TOKEN_FILE, log in with 'az login', or choose "
                        "--credential managed-identity on an Azure VM");
    }
    if (st != KVS_OK) kvs_sbuf_reset(&tok->text);
    return st;
}
