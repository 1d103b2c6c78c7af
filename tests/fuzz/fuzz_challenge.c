/* Fuzz target: the WWW-Authenticate challenge parser and what kvseal derives
 * from it (src/azure/challenge.h) - the check that decides whether a bearer
 * token may be sent to a vault host.
 *
 * Input: the header value, optionally followed by "\n" and a vault host name.
 * Properties: a parsed challenge has printable, bounded parameters and
 * survives re-serialisation; a derived audience never lets a token go to a
 * host outside it. */
#include <stdlib.h>
#include <string.h>

#include "azure/challenge.h"
#include "fuzz.h"

static void check_printable(const char *s, size_t cap)
{
    const char *end = memchr(s, '\0', cap);
    FUZZ_CHECK(end != NULL);
    for (; s < end; s++) FUZZ_CHECK(*s >= 0x20 && *s < 0x7f);
}

/* Append s as a quoted-string. */
static size_t put_quoted(char *out, size_t at, const char *s)
{
    out[at++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') out[at++] = '\\';
        out[at++] = *s;
    }
    out[at++] = '"';
    return at;
}

static void check_reparse(const kvs_challenge *c)
{
    /* 3 values of at most 1023 bytes, each doubled by escaping, plus names. */
    static char text[3 * 2 * KVS_CHAL_VALUE_MAX + 128];
    size_t n = 0;
    memcpy(text, "Bearer authorization=", 21);
    n = put_quoted(text, 21, c->authorization);
    if (c->resource[0]) {
        memcpy(text + n, ", resource=", 11);
        n = put_quoted(text, n + 11, c->resource);
    }
    if (c->scope[0]) {
        memcpy(text + n, ",scope=", 7);
        n = put_quoted(text, n + 7, c->scope);
    }
    kvs_challenge c2;
    FUZZ_CHECK(kvs_challenge_parse(text, n, &c2) == 0);
    FUZZ_CHECK(strcmp(c->authorization, c2.authorization) == 0);
    FUZZ_CHECK(strcmp(c->resource, c2.resource) == 0);
    FUZZ_CHECK(strcmp(c->scope, c2.scope) == 0);
}

static int ends_with_dot_suffix(const char *host, const char *aud)
{
    size_t h = strlen(host), a = strlen(aud);
    return h > a + 1 && host[h - a - 1] == '.' && strcmp(host + h - a, aud) == 0;
}

static void check_hosts(const kvs_challenge_info *ci, const char *vault)
{
    int ok = kvs_challenge_resource_ok(ci, vault, 0);
    if (ok) {
        FUZZ_CHECK(strchr(ci->audience_host, '.') != NULL);
        FUZZ_CHECK(ends_with_dot_suffix(vault, ci->audience_host));
    }
    int ok_explicit = kvs_challenge_resource_ok(ci, vault, 1);
    FUZZ_CHECK(ok_explicit == (ok || strcmp(vault, ci->audience_host) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *hdr = (const char *)data;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *vault = NULL;
    if (nl) {
        size_t vlen = size - hlen - 1;
        vault = malloc(vlen + 1);
        FUZZ_CHECK(vault != NULL);
        memcpy(vault, nl + 1, vlen);
        vault[vlen] = '\0';
    }

    kvs_challenge c;
    if (kvs_challenge_parse(hdr, hlen, &c) == 0) {
        check_printable(c.authorization, sizeof c.authorization);
        check_printable(c.resource, sizeof c.resource);
        check_printable(c.scope, sizeof c.scope);
        FUZZ_CHECK(c.authorization[0] != '\0');
        FUZZ_CHECK(c.resource[0] != '\0' || c.scope[0] != '\0');
        check_reparse(&c);

        kvs_challenge_info ci;
        if (kvs_challenge_derive(&c, &ci) == 0) {
            FUZZ_CHECK(ci.tenant[0] != '\0' && strlen(ci.tenant) <= KVS_TENANT_MAX);
            FUZZ_CHECK(memchr(ci.scope, '\0', sizeof ci.scope) != NULL);
            FUZZ_CHECK(memchr(ci.resource, '\0', sizeof ci.resource) != NULL);
            FUZZ_CHECK(ci.audience_host[0] != '\0');
            FUZZ_CHECK(kvs_host_valid(ci.audience_host));
            check_hosts(&ci, ci.audience_host);
            check_hosts(&ci, "myvault.vault.azure.net");
            check_hosts(&ci, "evil-vault.azure.net");
            if (vault && memchr(vault, '\0', size - hlen - 1) == NULL) check_hosts(&ci, vault);
        }
    }
    free(vault);
    return 0;
}
