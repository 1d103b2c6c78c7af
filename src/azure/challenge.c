/* The Key Vault authentication challenge (WWW-Authenticate: Bearer ...).
 *
 * The header comes from the network and is fuzzed: every read goes through
 * the bounded cursor below, and anything unexpected inside the Bearer
 * challenge is an error rather than a guess. */
#include "azure/challenge.h"

#include <string.h>

typedef struct kvs_cur {
    const char *p;
    const char *e;
} kvs_cur;

static int kvs_cur_end(const kvs_cur *c)
{
    return c->p >= c->e;
}

static char kvs_lower_c(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* RFC 9110 tchar. */
static int kvs_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible ASCII except the delimiters that end an unquoted value. */
static int kvs_is_bare_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != ';' && c != '\\';
}

static void kvs_skip_ows(kvs_cur *c)
{
    while (!kvs_cur_end(c) && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static void kvs_skip_ows_commas(kvs_cur *c)
{
    while (!kvs_cur_end(c) && (*c->p == ' ' || *c->p == '\t' || *c->p == ',')) c->p++;
}

static int kvs_read_token(kvs_cur *c, const char **s, size_t *n)
{
    *s = c->p;
    while (!kvs_cur_end(c) && kvs_is_tchar((unsigned char)*c->p)) c->p++;
    *n = (size_t)(c->p - *s);
    return *n > 0 ? 0 : -1;
}

static int kvs_token_is(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (kvs_lower_c(s[i]) != word[i]) return 0;
    return 1;
}

/* Append one value byte to out (NULL: discard). Visible ASCII and space only. */
static int kvs_put(char *out, size_t cap, size_t *len, unsigned char ch)
{
    if (ch < 0x20 || ch >= 0x7f) return -1;
    if (out == NULL) return 0;
    if (*len + 1 >= cap) return -1;
    out[(*len)++] = (char)ch;
    return 0;
}

static int kvs_read_quoted(kvs_cur *c, char *out, size_t cap, size_t *len)
{
    c->p++; /* opening quote */
    while (!kvs_cur_end(c)) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') return 0;
        if (ch == '\\') {
            if (kvs_cur_end(c)) return -1;
            ch = (unsigned char)*c->p++;
        }
        if (kvs_put(out, cap, len, ch) != 0) return -1;
    }
    return -1; /* unterminated */
}

/* token / quoted-string into out (NUL-terminated); out NULL discards. */
static int kvs_read_value(kvs_cur *c, char *out, size_t cap)
{
    size_t len = 0;
    int rc;
    if (kvs_cur_end(c)) return -1;
    if (*c->p == '"') {
        rc = kvs_read_quoted(c, out, cap, &len);
    } else {
        /* Unquoted: RFC 9110 wants a token, but servers send bare URLs too. */
        const char *s = c->p;
        while (!kvs_cur_end(c) && kvs_is_bare_char((unsigned char)*c->p)) c->p++;
        rc = c->p > s ? 0 : -1;
        for (const char *q = s; rc == 0 && q < c->p; q++)
            rc = kvs_put(out, cap, &len, (unsigned char)*q);
    }
    if (rc == 0 && out != NULL) out[len] = '\0';
    return rc;
}

/* Skip the rest of an element of a challenge kvseal ignores, up to a comma
 * outside quotes. */
static void kvs_skip_element(kvs_cur *c)
{
    int quoted = 0;
    while (!kvs_cur_end(c)) {
        char ch = *c->p;
        if (quoted && ch == '\\' && c->p + 1 < c->e) {
            c->p += 2;
            continue;
        }
        if (ch == '"') quoted = !quoted;
        else if (ch == ',' && !quoted) return;
        c->p++;
    }
}

/* The slot a Bearer parameter goes to, or NULL for parameters kvseal ignores. */
static char *kvs_param_slot(kvs_challenge *out, const char *name, size_t n)
{
    if (kvs_token_is(name, n, "authorization") || kvs_token_is(name, n, "authorization_uri"))
        return out->authorization;
    if (kvs_token_is(name, n, "resource")) return out->resource;
    if (kvs_token_is(name, n, "scope")) return out->scope;
    return NULL;
}

static int kvs_store_param(kvs_challenge *out, const char *name, size_t n, kvs_cur *c)
{
    char *slot = kvs_param_slot(out, name, n);
    if (slot == NULL) return kvs_read_value(c, NULL, 0);
    char value[KVS_CHAL_VALUE_MAX];
    if (kvs_read_value(c, value, sizeof(value)) != 0) return -1;
    /* A repeated parameter must not change meaning. */
    if (slot[0] != '\0' && strcmp(slot, value) != 0) return -1;
    memcpy(slot, value, strlen(value) + 1);
    return 0;
}

int kvs_challenge_parse(const char *hdr, size_t len, kvs_challenge *out)
{
    memset(out, 0, sizeof(*out));
    if (hdr == NULL || memchr(hdr, '\0', len) != NULL) return -1;
    kvs_cur c = {hdr, hdr + len};
    int in_bearer = 0, seen_bearer = 0;

    for (;;) {
        kvs_skip_ows_commas(&c);
        if (kvs_cur_end(&c)) break;
        const char *tok;
        size_t n;
        if (kvs_read_token(&c, &tok, &n) != 0) {
            if (in_bearer) return -1;
            kvs_skip_element(&c); /* junk inside another scheme's challenge */
            if (!kvs_cur_end(&c)) c.p++;
            continue;
        }
        kvs_skip_ows(&c);
        if (!kvs_cur_end(&c) && *c.p == '=') {
            c.p++;
            kvs_skip_ows(&c);
            if (in_bearer) {
                if (kvs_store_param(out, tok, n, &c) != 0) return -1;
                kvs_skip_ows(&c);
                if (!kvs_cur_end(&c) && *c.p != ',') return -1;
            } else {
                kvs_skip_element(&c);
            }
            continue;
        }
        /* A token without '=' starts a new challenge. */
        if (seen_bearer) break; /* only the first Bearer challenge counts */
        in_bearer = kvs_token_is(tok, n, "bearer");
        seen_bearer = in_bearer;
    }
    if (!seen_bearer || out->authorization[0] == '\0') return -1;
    if (out->resource[0] == '\0' && out->scope[0] == '\0') return -1;
    return 0;
}

/* ---- derivation and verification -------------------------------------- */

static int kvs_tenant_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '.' || c == '_';
}

static int kvs_tenant_from_url(const char *url, char *tenant, size_t cap)
{
    char host[KVS_KV_HOST_MAX];
    unsigned port;
    const char *path;
    if (kvs_https_url_split(url, host, sizeof(host), &port, &path) != 0) return -1;
    if (*path != '/') return -1;
    path++;
    size_t n = 0;
    while (path[n] != '\0' && path[n] != '/' && path[n] != '?' && path[n] != '#') {
        if (!kvs_tenant_char(path[n])) return -1;
        n++;
    }
    if (n == 0 || n >= cap || n > KVS_TENANT_MAX) return -1;
    memcpy(tenant, path, n);
    tenant[n] = '\0';
    return 0;
}

/* An https URL without spaces; its host into host. */
static int kvs_audience_url_host(const char *url, char *host, size_t cap)
{
    unsigned port;
    const char *path;
    if (strpbrk(url, " \t") != NULL) return -1;
    return kvs_https_url_split(url, host, cap, &port, &path);
}

static int kvs_set_str(char *dst, size_t cap, const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen + blen >= cap) return -1;
    memcpy(dst, a, alen);
    memcpy(dst + alen, b, blen + 1);
    return 0;
}

static int kvs_derive_scope(const kvs_challenge *c, kvs_challenge_info *out)
{
    static const char suffix[] = "/.default";
    size_t slen = sizeof(suffix) - 1;
    if (c->scope[0] != '\0') {
        size_t n = strlen(c->scope);
        if (kvs_set_str(out->scope, sizeof(out->scope), c->scope, n, "") != 0) return -1;
        if (n > slen && strcmp(c->scope + n - slen, suffix) == 0) n -= slen;
        return kvs_set_str(out->resource, sizeof(out->resource), c->scope, n, "");
    }
    size_t n = strlen(c->resource);
    if (n > 0 && c->resource[n - 1] == '/') n--; /* "https://vault.azure.net/" */
    if (kvs_set_str(out->resource, sizeof(out->resource), c->resource, n, "") != 0) return -1;
    return kvs_set_str(out->scope, sizeof(out->scope), c->resource, n, suffix);
}

int kvs_challenge_derive(const kvs_challenge *c, kvs_challenge_info *out)
{
    memset(out, 0, sizeof(*out));
    if (kvs_tenant_from_url(c->authorization, out->tenant, sizeof(out->tenant)) != 0) return -1;
    char scope_host[KVS_KV_HOST_MAX] = "", res_host[KVS_KV_HOST_MAX] = "";
    if (c->scope[0] != '\0' &&
        kvs_audience_url_host(c->scope, scope_host, sizeof(scope_host)) != 0)
        return -1;
    if (c->resource[0] != '\0' &&
        kvs_audience_url_host(c->resource, res_host, sizeof(res_host)) != 0)
        return -1;
    if (scope_host[0] != '\0' && res_host[0] != '\0' && strcmp(scope_host, res_host) != 0)
        return -1; /* two audiences: refuse rather than pick one */
    const char *aud = scope_host[0] ? scope_host : res_host;
    if (aud[0] == '\0') return -1;
    memcpy(out->audience_host, aud, strlen(aud) + 1);
    return kvs_derive_scope(c, out);
}

int kvs_challenge_resource_ok(const kvs_challenge_info *ci, const char *vault_host,
                              int explicit_allow)
{
    const char *aud = ci->audience_host;
    size_t alen = strlen(aud), vlen = strlen(vault_host);
    if (alen == 0 || vlen == 0) return 0;
    if (explicit_allow && strcmp(aud, vault_host) == 0) return 1;
    if (strchr(aud, '.') == NULL) return 0; /* never a bare top-level name */
    return vlen > alen + 1 && vault_host[vlen - alen - 1] == '.' &&
           strcmp(vault_host + vlen - alen, aud) == 0;
}
