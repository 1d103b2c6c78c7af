/* Fuzz target: Key Vault key URLs, https URL splitting and the host
 * allow-list (src/azure/kvurl.h). A hostile file names the kid kvseal
 * contacts, so these decide where requests (and tokens) may go.
 *
 * Input: "URL" or "URL\nALLOWLIST\nHOST". Properties: a parsed key URL has
 * valid parts and formats to a URL that parses back to the same parts; a
 * kid (FORMAT.md §5) is a versioned key URL with a DNS host, and formats to a
 * kid again; a host is allowed only if it is a known cloud host on the default
 * port or listed in the allow-list with that port (443 for a bare host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/kvurl.h"
#include "fuzz.h"

static int name_ok(const char *s, int dash)
{
    if (!*s) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (dash && c == '-')))
            return 0;
    }
    return 1;
}

static void check_keyref(const char *url)
{
    kvs_kv_keyref k;
    if (kvs_kv_parse_key_url(url, &k) != 0) return;
    FUZZ_CHECK(memchr(k.host, '\0', sizeof k.host) != NULL);
    FUZZ_CHECK(kvs_host_valid(k.host));
    FUZZ_CHECK(k.port != 443 && k.port <= 65535);
    FUZZ_CHECK(name_ok(k.name, 1) && strlen(k.name) <= KVS_KV_NAME_MAX);
    FUZZ_CHECK(k.version[0] == '\0' || name_ok(k.version, 0));
    for (const char *p = k.host; *p; p++) FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));

    char again[2048], hp[KVS_KV_HOSTPORT_MAX];
    FUZZ_CHECK(kvs_kv_format_key_url(&k, again, sizeof again) == 0);
    FUZZ_CHECK(kvs_kv_hostport(&k, hp, sizeof hp) == 0);
    kvs_kv_keyref k2;
    FUZZ_CHECK(kvs_kv_parse_key_url(again, &k2) == 0);
    FUZZ_CHECK(strcmp(k.host, k2.host) == 0 && k.port == k2.port);
    FUZZ_CHECK(strcmp(k.name, k2.name) == 0 && strcmp(k.version, k2.version) == 0);

    char host[KVS_KV_HOST_MAX];
    unsigned port = 0;
    const char *path = NULL;
    FUZZ_CHECK(kvs_https_url_split(again, host, sizeof host, &port, &path) == 0);
    FUZZ_CHECK(strcmp(host, k.host) == 0 && port == k.port && path[0] == '/');
}

static void check_kid(const char *kid)
{
    kvs_kv_keyref k, u;
    if (kvs_kv_parse_kid(kid, &k) != 0) return;
    /* A kid is a user key URL too, read the same way. */
    FUZZ_CHECK(strncmp(kid, "https://", 8) == 0);
    FUZZ_CHECK(kvs_kv_parse_key_url(kid, &u) == 0 && memcmp(&k, &u, sizeof k) == 0);
    FUZZ_CHECK(k.host[0] != '[' && k.version[0] != '\0');
    FUZZ_CHECK(kid[strlen(kid) - 1] != '/');
    char again[2048];
    FUZZ_CHECK(kvs_kv_format_key_url(&k, again, sizeof again) == 0);
    FUZZ_CHECK(kvs_kv_parse_kid(again, &u) == 0 && memcmp(&k, &u, sizeof k) == 0);
}

static void check_split(const char *url)
{
    char host[KVS_KV_HOST_MAX];
    unsigned port = 99999;
    const char *path = NULL;
    if (kvs_https_url_split(url, host, sizeof host, &port, &path) != 0) return;
    FUZZ_CHECK(memchr(host, '\0', sizeof host) != NULL && kvs_host_valid(host));
    FUZZ_CHECK(port <= 65535);
    /* kvurl.h says the rest starts at '/', but a query or fragment right
     * after the authority is returned too ("https://h?x"): accept both. */
    FUZZ_CHECK(path != NULL && (path[0] == '\0' || strchr("/?#", path[0]) != NULL));
    FUZZ_CHECK(path >= url && path <= url + strlen(url));
}

static void check_allow(const char *spec, const char *host_port)
{
    kvs_kv_allowlist al;
    if (kvs_kv_allowlist_parse(spec, &al) != 0) return;
    FUZZ_CHECK(al.n <= KVS_KV_ALLOW_MAX);
    for (size_t i = 0; i < al.n; i++) {
        FUZZ_CHECK(memchr(al.e[i].host, '\0', sizeof al.e[i].host) != NULL);
        FUZZ_CHECK(al.e[i].port >= 1 && al.e[i].port <= 65535);
        /* every listed host is allowed on its port */
        kvs_kv_hostinfo hi;
        FUZZ_CHECK(kvs_kv_host_allowed(&al, al.e[i].host, al.e[i].port, &hi) == 1);
        FUZZ_CHECK(hi.explicit_allow);
    }
    /* A host that is neither listed nor a known cloud host is refused. */
    char url[600];
    snprintf(url, sizeof url, "https://%s/", host_port);
    char host[KVS_KV_HOST_MAX];
    unsigned port = 0;
    const char *path;
    if (kvs_https_url_split(url, host, sizeof host, &port, &path) != 0) return;
    kvs_kv_hostinfo hi;
    int allowed = kvs_kv_host_allowed(&al, host, port, &hi);
    int hsm = 0;
    kvs_kv_cloud cloud = kvs_kv_cloud_of_host(host, &hsm);
    int listed = 0;
    unsigned eff = port ? port : 443u; /* an explicit :443 is the default port */
    for (size_t i = 0; i < al.n; i++)
        if (strcmp(al.e[i].host, host) == 0 && al.e[i].port == eff)
            listed = 1;
    if (allowed) FUZZ_CHECK(listed || (cloud != KVS_KV_CLOUD_NONE && (port == 0 || port == 443)));
    if (!allowed) FUZZ_CHECK(!listed);
    if (cloud != KVS_KV_CLOUD_NONE) FUZZ_CHECK(kvs_kv_cloud_authority(cloud) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    if (memchr(data, '\0', size) != NULL) { /* C strings: stop at the first NUL */
        free(s);
        return 0;
    }
    char *spec = strchr(s, '\n'), *host = NULL;
    if (spec) {
        *spec++ = '\0';
        host = strchr(spec, '\n');
        if (host) *host++ = '\0';
    }
    check_keyref(s);
    check_kid(s);
    check_split(s);
    (void)kvs_host_valid(s);
    (void)kvs_host_is_loopback(s);
    int hsm = 0;
    (void)kvs_kv_cloud_of_host(s, &hsm);
    if (spec) check_allow(spec, host ? host : "myvault.vault.azure.net");
    free(s);
    return 0;
}
