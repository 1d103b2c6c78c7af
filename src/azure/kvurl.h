/* Key Vault key identifiers, https URL pieces, and the host allow-list. */
#ifndef KVS_AZURE_KVURL_H
#define KVS_AZURE_KVURL_H

#include <stddef.h>

#define KVS_KV_HOST_MAX 256    /* buffer for a host name, NUL included */
#define KVS_KV_HOSTPORT_MAX 264
#define KVS_KV_NAME_MAX 127    /* Key Vault key names are at most 127 characters */
#define KVS_KV_VERSION_MAX 64
#define KVS_KV_ALLOW_MAX 32

/* A parsed key URL / kid. host is lowercase; IPv6 literals keep their brackets. */
typedef struct kvs_kv_keyref {
    char host[KVS_KV_HOST_MAX];
    unsigned port; /* 0: the https default (an explicit :443 is folded to 0) */
    char name[KVS_KV_NAME_MAX + 1];
    char version[KVS_KV_VERSION_MAX + 1]; /* "" means the current version */
} kvs_kv_keyref;

/* Parse a key URL a user gave: https://host[:port]/keys/name[/version][/].
 * No user info, query, fragment or escape; host as kvs_host_valid; port 1 to
 * 65535 without leading zero; name 1 to 127 of [0-9a-zA-Z-], version 1 to 64
 * of [0-9a-zA-Z]. The scheme is matched without regard to case. Returns 0, or
 * -1 with nothing promised. */
int kvs_kv_parse_key_url(const char *url, kvs_kv_keyref *out);

/* Parse a recipient's kid exactly as FORMAT.md §5 defines it (the same parser,
 * stricter): https://host[:port]/keys/name/version with "https://" in lowercase,
 * a DNS host (no IP literal in brackets) and a version, nothing after it. Every
 * kid kvseal writes or reads passes this. Returns 0, or -1. */
int kvs_kv_parse_kid(const char *kid, kvs_kv_keyref *out);

/* "host" or "host:port". Returns 0, or -1 if cap is too small. */
int kvs_kv_hostport(const kvs_kv_keyref *k, char *buf, size_t cap);
/* https://host[:port]/keys/name[/version]. Returns 0, or -1 if too small. */
int kvs_kv_format_key_url(const kvs_kv_keyref *k, char *buf, size_t cap);

/* Split an https:// URL (scheme case-insensitive) into its lowercase host,
 * port (0 when absent) and the rest starting at '/' ("" when absent). Refuses
 * user info, bad host characters and bad ports. Returns 0 or -1. */
int kvs_https_url_split(const char *url, char *host, size_t host_cap, unsigned *port,
                        const char **path);

/* kvs_https_url_split for http:// or https:// (*https says which); the
 * scheme's default port (80 or 443) is folded to 0. Whether plain http may
 * be used is the caller's decision. Returns 0 or -1. */
int kvs_url_split(const char *url, int *https, char *host, size_t host_cap, unsigned *port,
                  const char **path);

/* Host name syntax check: at most 253 characters of dot-separated DNS labels,
 * each 1 to 63 of [a-z0-9-] (as given, lowercase) not starting or ending with
 * '-'; or a bracketed IPv6 literal. */
int kvs_host_valid(const char *host);

typedef enum kvs_kv_cloud {
    KVS_KV_CLOUD_NONE = 0, /* not a known cloud host */
    KVS_KV_CLOUD_PUBLIC,
    KVS_KV_CLOUD_CHINA,
    KVS_KV_CLOUD_USGOV
} kvs_kv_cloud;

typedef struct kvs_kv_allowlist {
    size_t n;
    struct {
        char host[KVS_KV_HOST_MAX];
        unsigned port; /* 443 when the entry names no port */
    } e[KVS_KV_ALLOW_MAX];
} kvs_kv_allowlist;

/* What the allow-list says about a host. */
typedef struct kvs_kv_hostinfo {
    kvs_kv_cloud cloud; /* known cloud of the host, or NONE */
    int managed_hsm;    /* a Managed HSM host of a known cloud */
    int explicit_allow; /* listed in the allow-list */
} kvs_kv_hostinfo;

/* Parse "host, host:port, [::1]:8443" (empty entries ignored). An entry
 * without a port allows port 443 only; other ports must be listed. NULL or ""
 * gives an empty list. Returns 0, or -1 on a malformed entry or too many. */
int kvs_kv_allowlist_parse(const char *spec, kvs_kv_allowlist *out);

/* The known cloud a host belongs to: a single-label vault or Managed HSM name
 * followed by one of the documented suffixes. Sets *managed_hsm. */
kvs_kv_cloud kvs_kv_cloud_of_host(const char *host, int *managed_hsm);

/* 1 if tokens may go to host:port (port 0 = default), filling *info; else 0.
 * Known cloud hosts are allowed on the default port only. */
int kvs_kv_host_allowed(const kvs_kv_allowlist *al, const char *host, unsigned port,
                        kvs_kv_hostinfo *info);

/* Default Entra ID authority of a cloud ("https://login.microsoftonline.com"). */
const char *kvs_kv_cloud_authority(kvs_kv_cloud cloud);
/* "public", "China", "US Government" for messages. */
const char *kvs_kv_cloud_name(kvs_kv_cloud cloud);

/* Loopback host names and literals (localhost, 127.0.0.0/8, [::1]). */
int kvs_host_is_loopback(const char *host);
/* IPv4 link-local literals (169.254.0.0/16: IMDS, App Service identity). */
int kvs_host_is_link_local(const char *host);

#endif
