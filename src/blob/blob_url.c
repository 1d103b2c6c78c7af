/* Blob URL parsing and validation, and the blob path's wire encoding. */
#include "blob/blob_url.h"

#include <stdio.h>
#include <string.h>

#include "azure/kverror.h"
#include "core/error.h"

static const struct {
    const char *suffix;
    kvs_kv_cloud cloud;
} kvs_blob_suffixes[] = {{".blob.core.windows.net", KVS_KV_CLOUD_PUBLIC},
                         {".blob.core.usgovcloudapi.net", KVS_KV_CLOUD_USGOV},
                         {".blob.core.chinacloudapi.cn", KVS_KV_CLOUD_CHINA}};

static int kvs_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int kvs_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Storage account names: 3 to 24 of [a-z0-9]. */
static int kvs_account_valid(const char *s, size_t n)
{
    if (n < 3 || n > KVS_BLOB_ACCOUNT_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!kvs_lower_alnum(s[i])) return 0;
    return 1;
}

/* Container names: 3 to 63 of [a-z0-9-], no leading, trailing or double '-'. */
static int kvs_container_valid(const char *s, size_t n)
{
    if (n < 3 || n > KVS_BLOB_CONTAINER_MAX || s[0] == '-' || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' ? s[i + 1] == '-' : !kvs_lower_alnum(s[i])) return 0;
    }
    return 1;
}

/* The cloud and account of a known cloud's virtual-host name, or
 * KVS_KV_CLOUD_NONE. */
static kvs_kv_cloud kvs_account_of_host(const char *host, char *account)
{
    size_t hl = strlen(host);
    for (size_t i = 0; i < sizeof(kvs_blob_suffixes) / sizeof(kvs_blob_suffixes[0]); i++) {
        size_t sl = strlen(kvs_blob_suffixes[i].suffix);
        if (hl <= sl || strcmp(host + hl - sl, kvs_blob_suffixes[i].suffix) != 0) continue;
        if (!kvs_account_valid(host, hl - sl)) return KVS_KV_CLOUD_NONE;
        memcpy(account, host, hl - sl);
        account[hl - sl] = '\0';
        return kvs_blob_suffixes[i].cloud;
    }
    return KVS_KV_CLOUD_NONE;
}

/* Decode the blob path [s, e) into out, refusing bad escapes, control bytes,
 * empty, "." and ".." segments (a service would resolve them elsewhere). */
static int kvs_blob_path_decode(const char *s, const char *e, char *out, size_t cap)
{
    size_t o = 0, seg = 0;
    for (const char *p = s; p < e; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = p + 2 < e ? kvs_hexval(p[1]) : -1, lo = hi >= 0 ? kvs_hexval(p[2]) : -1;
            if (lo < 0) return -1;
            c = hi * 16 + lo;
            p += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\') return -1;
        if (o + 1 >= cap) return -1;
        if (c == '/') {
            if (seg == 0) return -1; /* empty segment */
            if ((seg == 1 && out[o - 1] == '.') ||
                (seg == 2 && out[o - 1] == '.' && out[o - 2] == '.'))
                return -1;
            seg = 0;
        } else {
            seg++;
        }
        out[o++] = (char)c;
    }
    if (seg == 0) return -1; /* empty path or a trailing '/' */
    if ((seg == 1 && out[o - 1] == '.') || (seg == 2 && out[o - 1] == '.' && out[o - 2] == '.'))
        return -1;
    out[o] = '\0';
    return 0;
}

int kvs_blob_path_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = kvs_lower_alnum((char)c) || (c >= 'A' && c <= 'Z') || c == '-' ||
                   c == '.' || c == '_' || c == '~' || c == '/';
        if (o + (keep ? 1 : 3) >= cap) return -1;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return 0;
}

/* url for messages: cut at any query or fragment, and user info in the
 * authority ("user:password@") shown as "...@". */
static void kvs_url_redact(const char *url, char *out, size_t cap)
{
    size_t keep = strcspn(url, "?#"), o = 0, i = 0;
    const char *scheme_end = strstr(url, "://");
    size_t skip_from = keep, skip_to = keep;
    if (scheme_end && (size_t)(scheme_end - url) < keep) {
        size_t auth = (size_t)(scheme_end - url) + 3;
        size_t auth_end = auth + strcspn(url + auth, "/?#");
        for (size_t j = auth; j < auth_end; j++)
            if (url[j] == '@') skip_to = j; /* the last '@' ends the user info */
        if (skip_to != keep) skip_from = auth;
    }
    while (i < keep && o + 1 < cap) {
        if (i == skip_from) {
            for (const char *m = "..."; *m && o + 1 < cap; m++) out[o++] = *m;
            i = skip_to;
            continue;
        }
        out[o++] = url[i++];
    }
    out[o] = '\0';
}

static kvs_status kvs_bad_url(kvs_error *err, const kvs_blob_url *u, const char *why)
{
    return kvs_fail(err, KVS_ERR_USAGE, "not a usable blob URL '%s': %s", u->shown, why);
}

/* Split "account/container/path" (path-style) or "container/path". */
static kvs_status kvs_split_path(const char *p, kvs_blob_url *u, kvs_error *err)
{
    if (u->path_style) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!kvs_account_valid(p, n))
            return kvs_bad_url(err, u, "the account name must be 3 to 24 of a-z and 0-9");
        memcpy(u->account, p, n);
        u->account[n] = '\0';
        if (slash == NULL) return kvs_bad_url(err, u, "it names no container");
        p = slash + 1;
    }
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (!kvs_container_valid(p, n))
        return kvs_bad_url(err, u,
                           "a container name is 3 to 63 of a-z, 0-9 and '-', without a "
                           "leading, trailing or double '-'");
    memcpy(u->container, p, n);
    u->container[n] = '\0';
    if (u->is_prefix) {
        /* "" (the container) or "dir/.../" (decoded like a blob path). */
        size_t rest = slash ? strlen(slash + 1) : 0;
        if (slash == NULL || (rest > 0 && slash[rest] != '/'))
            return kvs_bad_url(err, u, "a container or prefix URL ends with '/'");
        if (rest == 0) return KVS_OK;
        if (kvs_blob_path_decode(slash + 1, slash + rest, u->blob, sizeof(u->blob) - 1) != 0)
            return kvs_bad_url(err, u,
                               "the prefix has an empty, '.' or '..' segment, a control "
                               "character, a bad %-escape or more than 1024 bytes");
        size_t bl = strlen(u->blob);
        u->blob[bl] = '/';
        u->blob[bl + 1] = '\0';
        return KVS_OK;
    }
    if (slash == NULL || slash[1] == '\0') return kvs_bad_url(err, u, "it names no blob");
    if (kvs_blob_path_decode(slash + 1, slash + 1 + strlen(slash + 1), u->blob,
                             sizeof(u->blob)) != 0)
        return kvs_bad_url(err, u,
                           "the blob path has an empty, '.' or '..' segment, a control "
                           "character, a bad %-escape or more than 1024 bytes");
    return KVS_OK;
}

static kvs_status kvs_build_base(kvs_blob_url *u, kvs_error *err)
{
    char port[12] = "";
    if (u->port) snprintf(port, sizeof(port), ":%u", u->port);
    int n = snprintf(u->base, sizeof(u->base), "%s://%s%s", u->https ? "https" : "http", u->host,
                     port);
    if (n < 0 || (size_t)n >= sizeof(u->base)) return kvs_bad_url(err, u, "it is too long");
    size_t path_at = (size_t)n;
    if (u->is_prefix) {
        int m = u->path_style ? snprintf(u->base + n, sizeof(u->base) - (size_t)n, "/%s/%s",
                                         u->account, u->container)
                              : snprintf(u->base + n, sizeof(u->base) - (size_t)n, "/%s",
                                         u->container);
        if (m < 0 || (size_t)m >= sizeof(u->base) - (size_t)n)
            return kvs_bad_url(err, u, "it is too long");
        u->wire_path = u->base + path_at;
        return KVS_OK;
    }
    int m = u->path_style ? snprintf(u->base + n, sizeof(u->base) - (size_t)n, "/%s/%s/",
                                     u->account, u->container)
                          : snprintf(u->base + n, sizeof(u->base) - (size_t)n, "/%s/",
                                     u->container);
    if (m < 0 || (size_t)m >= sizeof(u->base) - (size_t)n ||
        kvs_blob_path_encode(u->blob, u->base, sizeof(u->base)) != 0)
        return kvs_bad_url(err, u, "it is too long");
    u->wire_path = u->base + path_at;
    return KVS_OK;
}

static kvs_status kvs_url_parse_any(const char *url, const kvs_kv_allowlist *allowed,
                                   kvs_blob_url *out, int prefix, kvs_error *err)
{
    kvs_blob_url *u = out;
    const char *path = NULL;
    memset(u, 0, sizeof(*u));
    u->is_prefix = prefix;
    /* Messages show the URL up to any query and without user info: a SAS
     * token or a password must never leak. */
    char cut[KVS_BLOB_SHOWN_MAX];
    kvs_url_redact(url, cut, sizeof(cut));
    kvs_text_sanitize(cut, u->shown, sizeof(u->shown));

    if (kvs_url_split(url, &u->https, u->host, sizeof(u->host), &u->port, &path) != 0)
        return kvs_bad_url(err, u,
                           "expected http(s)://host[:port]/... without user info, with a "
                           "valid host and port");
    if (strchr(path, '?') != NULL || strchr(path, '#') != NULL)
        return kvs_bad_url(err, u, "a blob URL takes no query or fragment (give a SAS token "
                                   "through AZURE_STORAGE_SAS_TOKEN or a file)");
    if (path[0] != '/') return kvs_bad_url(err, u, "it names no container");
    kvs_kv_hostinfo info;
    unsigned eff_port = u->port ? u->port : (u->https ? 443u : 80u);
    (void)kvs_kv_host_allowed(allowed, u->host, eff_port, &info);
    if (!u->https && !kvs_host_is_loopback(u->host))
        return kvs_bad_url(err, u, "plain http is only used to loopback addresses");
    u->cloud = kvs_account_of_host(u->host, u->account);
    if (info.explicit_allow) {
        u->path_style = u->cloud == KVS_KV_CLOUD_NONE;
    } else if (u->cloud == KVS_KV_CLOUD_NONE || u->port != 0) {
        return kvs_bad_url(err, u,
                           "the host is neither {account}.blob.core.windows.net (or a "
                           "sovereign cloud's blob host) nor listed in KVSEAL_ALLOWED_HOSTS");
    }
    kvs_status st = kvs_split_path(path + 1, u, err);
    if (st != KVS_OK) return st;
    return kvs_build_base(u, err);
}

kvs_status kvs_blob_url_parse(const char *url, const kvs_kv_allowlist *allowed,
                              kvs_blob_url *out, kvs_error *err)
{
    return kvs_url_parse_any(url, allowed, out, 0, err);
}

kvs_status kvs_blob_url_parse_prefix(const char *url, const kvs_kv_allowlist *allowed,
                                     kvs_blob_url *out, kvs_error *err)
{
    return kvs_url_parse_any(url, allowed, out, 1, err);
}
