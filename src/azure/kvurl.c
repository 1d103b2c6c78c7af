/* Key Vault key identifiers, https URL pieces, and the host allow-list. */
#include "azure/kvurl.h"

#include <stdio.h>
#include <string.h>

static char kvs_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int kvs_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int kvs_is_alnum(char c)
{
    return kvs_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int kvs_is_hex(char c)
{
    return kvs_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Case-insensitive prefix test. */
static int kvs_has_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++)
        if (kvs_lower(*s) != *prefix) return 0;
    return 1;
}

static int kvs_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0; /* not secret */
}

static int kvs_dns_name_valid(const char *host)
{
    size_t len = strlen(host), label = 0;
    if (len == 0 || len > 253) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        if (!(kvs_is_digit(c) || (c >= 'a' && c <= 'z') || c == '-')) return 0;
        if (label == 0 && c == '-') return 0;
        if (++label > 63) return 0;
    }
    return label > 0 && host[len - 1] != '-';
}

static int kvs_ipv6_literal_valid(const char *host)
{
    size_t len = strlen(host);
    if (len < 4 || len > 47 || host[0] != '[' || host[len - 1] != ']') return 0;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = host[i];
        if (!(kvs_is_hex(c) || c == ':' || c == '.')) return 0;
    }
    return 1;
}

int kvs_host_valid(const char *host)
{
    if (host == NULL) return 0;
    if (host[0] == '[') return kvs_ipv6_literal_valid(host);
    return kvs_dns_name_valid(host);
}

/* Port digits in [s, e): 1..65535 without sign, spaces or leading zero (one
 * spelling per port, as FORMAT.md §5 asks of a kid). */
static int kvs_parse_port(const char *s, const char *e, unsigned *port)
{
    unsigned v = 0;
    if (e <= s || e - s > 5 || *s == '0') return -1;
    for (; s < e; s++) {
        if (!kvs_is_digit(*s)) return -1;
        v = v * 10u + (unsigned)(*s - '0');
    }
    if (v == 0 || v > 65535u) return -1;
    *port = v;
    return 0;
}

/* Split "host[:port]" in [s, e) into a lowercase host and a port. */
static int kvs_parse_authority(const char *s, const char *e, char *host, size_t cap,
                               unsigned *port)
{
    const char *host_end;
    *port = 0;
    if (s >= e) return -1;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        if (close == NULL) return -1;
        host_end = close + 1;
    } else {
        const char *colon = memchr(s, ':', (size_t)(e - s));
        host_end = colon ? colon : e;
    }
    size_t hlen = (size_t)(host_end - s);
    if (hlen == 0 || hlen >= cap) return -1;
    for (size_t i = 0; i < hlen; i++) host[i] = kvs_lower(s[i]);
    host[hlen] = '\0';
    if (!kvs_host_valid(host)) return -1;
    if (host_end == e) return 0;
    if (*host_end != ':') return -1;
    if (kvs_parse_port(host_end + 1, e, port) != 0) return -1;
    return 0;
}

int kvs_url_split(const char *url, int *https, char *host, size_t host_cap, unsigned *port,
                  const char **path)
{
    const char *a;
    if (url == NULL) return -1;
    if (kvs_has_prefix_ci(url, "https://")) {
        *https = 1;
        a = url + 8;
    } else if (kvs_has_prefix_ci(url, "http://")) {
        *https = 0;
        a = url + 7;
    } else {
        return -1;
    }
    size_t alen = strcspn(a, "/?#");
    if (memchr(a, '@', alen) != NULL) return -1;
    if (kvs_parse_authority(a, a + alen, host, host_cap, port) != 0) return -1;
    if (*port == (*https ? 443u : 80u)) *port = 0;
    if (path) *path = a + alen;
    return 0;
}

int kvs_https_url_split(const char *url, char *host, size_t host_cap, unsigned *port,
                        const char **path)
{
    int https = 0;
    if (kvs_url_split(url, &https, host, host_cap, port, path) != 0 || !https) return -1;
    return 0;
}

/* Copy a path segment [s, e) when every character passes ok(). */
static int kvs_copy_segment(const char *s, const char *e, char *out, size_t cap,
                            int (*ok)(char))
{
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= cap) return -1;
    for (size_t i = 0; i < n; i++)
        if (!ok(s[i])) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int kvs_name_char(char c)
{
    return kvs_is_alnum(c) || c == '-';
}

static int kvs_version_char(char c)
{
    return kvs_is_alnum(c);
}

/* The one key URL parser. as_kid: the FORMAT.md §5 kid, exactly (lowercase
 * scheme, a DNS host, a version, no trailing slash); else a user's key URL,
 * which may also use an IPv6 literal, omit the version and end in '/'. */
static int kvs_parse_key_url_as(const char *url, int as_kid, kvs_kv_keyref *out)
{
    const char *path;
    memset(out, 0, sizeof(*out));
    if (url == NULL || (as_kid && strncmp(url, "https://", 8) != 0)) return -1;
    if (kvs_https_url_split(url, out->host, sizeof(out->host), &out->port, &path) != 0)
        return -1;
    if (as_kid && out->host[0] == '[') return -1;
    if (strncmp(path, "/keys/", 6) != 0) return -1;
    const char *name = path + 6;
    if (strpbrk(name, "?#") != NULL) return -1;
    const char *slash = strchr(name, '/');
    const char *name_end = slash ? slash : name + strlen(name);
    if (kvs_copy_segment(name, name_end, out->name, sizeof(out->name), kvs_name_char) != 0)
        return -1;
    if (slash == NULL || slash[1] == '\0') return as_kid ? -1 : 0; /* versionless */
    const char *ver = slash + 1;
    const char *ver_end = strchr(ver, '/');
    if (ver_end == NULL) ver_end = ver + strlen(ver);
    else if (as_kid || ver_end[1] != '\0') return -1; /* nothing after name/version/ */
    return kvs_copy_segment(ver, ver_end, out->version, sizeof(out->version),
                            kvs_version_char);
}

int kvs_kv_parse_key_url(const char *url, kvs_kv_keyref *out)
{
    return kvs_parse_key_url_as(url, 0, out);
}

int kvs_kv_parse_kid(const char *kid, kvs_kv_keyref *out)
{
    return kvs_parse_key_url_as(kid, 1, out);
}

int kvs_kv_hostport(const kvs_kv_keyref *k, char *buf, size_t cap)
{
    int n = k->port ? snprintf(buf, cap, "%s:%u", k->host, k->port)
                    : snprintf(buf, cap, "%s", k->host);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int kvs_kv_format_key_url(const kvs_kv_keyref *k, char *buf, size_t cap)
{
    char hp[KVS_KV_HOSTPORT_MAX];
    if (kvs_kv_hostport(k, hp, sizeof(hp)) != 0) return -1;
    int n = k->version[0] ? snprintf(buf, cap, "https://%s/keys/%s/%s", hp, k->name, k->version)
                          : snprintf(buf, cap, "https://%s/keys/%s", hp, k->name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* ---- known clouds ------------------------------------------------------ */

static const struct {
    const char *suffix;
    kvs_kv_cloud cloud;
    int managed_hsm;
} kvs_kv_suffixes[] = {
    {".vault.azure.net", KVS_KV_CLOUD_PUBLIC, 0},
    {".managedhsm.azure.net", KVS_KV_CLOUD_PUBLIC, 1},
    {".vault.azure.cn", KVS_KV_CLOUD_CHINA, 0},
    {".managedhsm.azure.cn", KVS_KV_CLOUD_CHINA, 1},
    {".vault.usgovcloudapi.net", KVS_KV_CLOUD_USGOV, 0},
    {".managedhsm.usgovcloudapi.net", KVS_KV_CLOUD_USGOV, 1},
};

kvs_kv_cloud kvs_kv_cloud_of_host(const char *host, int *managed_hsm)
{
    if (managed_hsm) *managed_hsm = 0;
    if (host == NULL || !kvs_dns_name_valid(host)) return KVS_KV_CLOUD_NONE;
    for (size_t i = 0; i < sizeof(kvs_kv_suffixes) / sizeof(kvs_kv_suffixes[0]); i++) {
        const char *suffix = kvs_kv_suffixes[i].suffix;
        if (!kvs_ends_with(host, suffix)) continue;
        size_t label = strlen(host) - strlen(suffix);
        /* Exactly one label (the vault name) before the suffix. */
        if (label == 0 || memchr(host, '.', label) != NULL) return KVS_KV_CLOUD_NONE;
        if (managed_hsm) *managed_hsm = kvs_kv_suffixes[i].managed_hsm;
        return kvs_kv_suffixes[i].cloud;
    }
    return KVS_KV_CLOUD_NONE;
}

const char *kvs_kv_cloud_authority(kvs_kv_cloud cloud)
{
    switch (cloud) {
    case KVS_KV_CLOUD_CHINA:
        return "https://login.chinacloudapi.cn";
    case KVS_KV_CLOUD_USGOV:
        return "https://login.microsoftonline.us";
    case KVS_KV_CLOUD_PUBLIC:
    case KVS_KV_CLOUD_NONE:
    default:
        return "https://login.microsoftonline.com";
    }
}

const char *kvs_kv_cloud_name(kvs_kv_cloud cloud)
{
    switch (cloud) {
    case KVS_KV_CLOUD_CHINA:
        return "China";
    case KVS_KV_CLOUD_USGOV:
        return "US Government";
    case KVS_KV_CLOUD_PUBLIC:
        return "public";
    case KVS_KV_CLOUD_NONE:
    default:
        return "(unknown)";
    }
}

/* ---- allow-list -------------------------------------------------------- */

static int kvs_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int kvs_allow_add(kvs_kv_allowlist *al, const char *s, const char *e)
{
    while (s < e && kvs_is_space(*s)) s++;
    while (e > s && kvs_is_space(e[-1])) e--;
    if (s == e) return 0; /* empty entry */
    if (al->n >= KVS_KV_ALLOW_MAX) return -1;
    unsigned port = 0;
    if (kvs_parse_authority(s, e, al->e[al->n].host, sizeof(al->e[0].host), &port) != 0)
        return -1;
    /* A bare host means its https port only: allowing every port would let a
     * file send tokens to whatever else listens on that host. */
    al->e[al->n].port = port ? port : 443u;
    al->n++;
    return 0;
}

int kvs_kv_allowlist_parse(const char *spec, kvs_kv_allowlist *out)
{
    memset(out, 0, sizeof(*out));
    if (spec == NULL) return 0;
    const char *s = spec;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        if (kvs_allow_add(out, s, e) != 0) return -1;
        if (comma == NULL) return 0;
        s = comma + 1;
    }
}

static int kvs_allow_lookup(const kvs_kv_allowlist *al, const char *host, unsigned port)
{
    unsigned eff = port ? port : 443u;
    for (size_t i = 0; al && i < al->n; i++) {
        if (strcmp(al->e[i].host, host) == 0 && al->e[i].port == eff) return 1;
    }
    return 0;
}

int kvs_kv_host_allowed(const kvs_kv_allowlist *al, const char *host, unsigned port,
                        kvs_kv_hostinfo *info)
{
    kvs_kv_hostinfo tmp;
    if (info == NULL) info = &tmp;
    memset(info, 0, sizeof(*info));
    if (host == NULL || !kvs_host_valid(host)) return 0;
    info->cloud = kvs_kv_cloud_of_host(host, &info->managed_hsm);
    info->explicit_allow = kvs_allow_lookup(al, host, port);
    if (info->explicit_allow) return 1;
    return info->cloud != KVS_KV_CLOUD_NONE && (port == 0 || port == 443u);
}

/* prefix followed by the rest of a dotted-quad literal (decimal octets). */
static int kvs_ipv4_with_prefix(const char *host, const char *prefix, int dots_left)
{
    size_t n = strlen(prefix);
    if (strncmp(host, prefix, n) != 0) return 0;
    int dots = 0, digits = 0;
    for (const char *p = host + n; *p; p++) {
        if (*p == '.') {
            if (digits == 0) return 0;
            dots++;
            digits = 0;
        } else if (!kvs_is_digit(*p) || ++digits > 3) {
            return 0;
        }
    }
    return dots == dots_left && digits > 0;
}

int kvs_host_is_loopback(const char *host)
{
    if (host == NULL) return 0;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0) return 1;
    return kvs_ipv4_with_prefix(host, "127.", 2);
}

int kvs_host_is_link_local(const char *host)
{
    return host != NULL && kvs_ipv4_with_prefix(host, "169.254.", 1);
}
