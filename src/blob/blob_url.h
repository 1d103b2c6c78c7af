/* Blob URLs: parse, validate (host allow-list, plain-HTTP rule, container
 * and path syntax) and build the pieces the REST calls need (BLOB.md). */
#ifndef KVS_BLOB_URL_H
#define KVS_BLOB_URL_H

#include <stddef.h>

#include "azure/kvurl.h"
#include "kvseal/status.h"

#define KVS_BLOB_PATH_MAX 1024   /* the service's limit on a blob name */
#define KVS_BLOB_ACCOUNT_MAX 24
#define KVS_BLOB_CONTAINER_MAX 63
#define KVS_BLOB_SHOWN_MAX 512

typedef struct kvs_blob_url {
    int https;
    int path_style;                          /* http(s)://host:port/account/... */
    kvs_kv_cloud cloud;                      /* a known cloud's blob host, or NONE */
    char host[KVS_KV_HOST_MAX];              /* lowercase */
    unsigned port;                           /* 0: the scheme's default */
    char account[KVS_BLOB_ACCOUNT_MAX + 1];
    char container[KVS_BLOB_CONTAINER_MAX + 1];
    char blob[KVS_BLOB_PATH_MAX + 1];        /* decoded blob path */
    /* scheme://host[:port]/[account/]container/encoded-blob: the request URL
     * before any query. */
    char base[KVS_KV_HOSTPORT_MAX + 16 + KVS_BLOB_ACCOUNT_MAX + KVS_BLOB_CONTAINER_MAX +
              3 * KVS_BLOB_PATH_MAX];
    const char *wire_path;                   /* points into base: "/..." */
    char shown[KVS_BLOB_SHOWN_MAX];          /* for messages: no query, sanitized */
    int is_prefix; /* kvs_blob_url_parse_prefix: blob is "" or "dir/.../", and
                      base names the container (no trailing '/') */
} kvs_blob_url;

/* Parse url for the blob service. Accepted: https://{account}.blob.core.
 * {windows.net, usgovcloudapi.net, chinacloudapi.cn}/{container}/{path}, and
 * path-style http(s)://host[:port]/{account}/{container}/{path} for hosts in
 * allowed only; plain http only to loopback. Refused (KVS_ERR_USAGE, the
 * message shows the URL without its query): user info, query, fragment, bad
 * account or container names, an empty blob path, "." or ".." segments,
 * control characters and bad percent escapes. */
kvs_status kvs_blob_url_parse(const char *url, const kvs_kv_allowlist *allowed,
                              kvs_blob_url *out, kvs_error *err);

/* Parse a container or prefix URL (listing): as kvs_blob_url_parse, but
 * the URL ends with '/' right after the container or after a blob path
 * prefix ("https://a.blob.core.windows.net/con/" or ".../con/dir/sub/").
 * out->blob receives the decoded prefix ("" or "dir/sub/"), out->base the
 * container's request URL (".../con", no trailing '/'). */
kvs_status kvs_blob_url_parse_prefix(const char *url, const kvs_kv_allowlist *allowed,
                                     kvs_blob_url *out, kvs_error *err);

/* Append s percent-encoded for a URL path (unreserved characters and '/'
 * kept) into out. Returns 0, or -1 if cap is too small. */
int kvs_blob_path_encode(const char *s, char *out, size_t cap);

#endif
