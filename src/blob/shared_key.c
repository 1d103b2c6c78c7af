/* Shared Key string-to-sign and signature (see shared_key.h). */
#include "blob/shared_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "crypto/crypto.h"

#define KVS_SK_MAX_ITEMS 64

typedef struct kvs_sk_item {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kvs_sk_item;

static char kvs_sk_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The service's collation of header names (as the Storage SDKs emulate it):
 * '-' sorts before '_', which sorts before digits and letters. */
static int kvs_sk_weight(char c)
{
    static const char order[] = "-!#$%&*.^_|~+\"'(),/`0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "[]abcdefghijklmnopqrstuvwxyz{}";
    const char *p = c ? strchr(order, c) : NULL;
    return p ? (int)(p - order) : 200 + (unsigned char)c;
}

static int kvs_sk_cmp_names(const void *a, const void *b)
{
    const kvs_sk_item *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    for (size_t i = 0; i < n; i++) {
        int d = kvs_sk_weight(kvs_sk_lower(x->name[i])) - kvs_sk_weight(kvs_sk_lower(y->name[i]));
        if (d != 0) return d;
    }
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Split "Name: value" (value trimmed). Returns 0 or -1. */
static int kvs_sk_split(const char *line, kvs_sk_item *it)
{
    const char *colon = strchr(line, ':');
    if (colon == NULL || colon == line) return -1;
    it->name = line;
    it->name_len = (size_t)(colon - line);
    const char *v = colon + 1, *e = v + strlen(v);
    while (*v == ' ' || *v == '\t') v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    it->value = v;
    it->value_len = (size_t)(e - v);
    return 0;
}

static int kvs_sk_name_is(const kvs_sk_item *it, const char *name)
{
    return it->name_len == strlen(name) && strncasecmp(it->name, name, it->name_len) == 0;
}

static int kvs_sk_put_n(kvs_sbuf *b, const char *s, size_t n)
{
    return kvs_sbuf_append(b, s, n);
}

static int kvs_sk_put_lower(kvs_sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = kvs_sk_lower(s[i]);
        if (kvs_sbuf_append(b, &c, 1) != 0) return -1;
    }
    return 0;
}

static int kvs_sk_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = kvs_sk_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Percent-decode [s, s + n) ('+' stays '+', as the SDKs' unquote does). */
static int kvs_sk_put_decoded(kvs_sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int h = kvs_sk_hexval(s[i + 1]), l = kvs_sk_hexval(s[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (kvs_sbuf_append(b, &c, 1) != 0) return -1;
    }
    return 0;
}

/* The standard headers, each value or "" (Content-Length 0 counts as ""). */
static int kvs_sk_standard(kvs_sbuf *b, const kvs_sk_item *items, size_t n)
{
    static const char *const names[] = {"Content-Encoding", "Content-Language", "Content-Length",
                                        "Content-MD5", "Content-Type", "Date",
                                        "If-Modified-Since", "If-Match", "If-None-Match",
                                        "If-Unmodified-Since", "Range"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        for (size_t i = 0; i < n; i++) {
            if (!kvs_sk_name_is(&items[i], names[k])) continue;
            if (k == 2 && items[i].value_len == 1 && items[i].value[0] == '0') break;
            if (kvs_sk_put_n(b, items[i].value, items[i].value_len) != 0) return -1;
            break;
        }
        if (kvs_sbuf_puts(b, "\n") != 0) return -1;
    }
    return 0;
}

static int kvs_sk_ms_headers(kvs_sbuf *b, const kvs_sk_item *items, size_t n)
{
    kvs_sk_item ms[KVS_SK_MAX_ITEMS];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].name_len > 5 && strncasecmp(items[i].name, "x-ms-", 5) == 0) ms[m++] = items[i];
    qsort(ms, m, sizeof(ms[0]), kvs_sk_cmp_names);
    for (size_t i = 0; i < m; i++) {
        if (kvs_sk_put_lower(b, ms[i].name, ms[i].name_len) != 0 || kvs_sbuf_puts(b, ":") != 0 ||
            kvs_sk_put_n(b, ms[i].value, ms[i].value_len) != 0 || kvs_sbuf_puts(b, "\n") != 0)
            return -1;
    }
    return 0;
}

static int kvs_sk_cmp_query(const void *a, const void *b)
{
    const kvs_sk_item *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int d = memcmp(x->name, y->name, n); /* not secret */
    if (d != 0) return d;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* "\nname:value" per query parameter, sorted by name. kvseal never sends a
 * parameter twice, so repeated names are refused rather than merged. */
static int kvs_sk_query(kvs_sbuf *b, const char *q)
{
    kvs_sk_item it[KVS_SK_MAX_ITEMS];
    size_t n = 0;
    while (q != NULL && *q != '\0') {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        if (n >= KVS_SK_MAX_ITEMS || eq == NULL || eq == q) return -1;
        it[n].name = q;
        it[n].name_len = (size_t)(eq - q);
        it[n].value = eq + 1;
        it[n].value_len = len - it[n].name_len - 1;
        n++;
        q += len;
        if (*q == '&') q++;
    }
    qsort(it, n, sizeof(it[0]), kvs_sk_cmp_query);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && kvs_sk_cmp_query(&it[i - 1], &it[i]) == 0) return -1;
        if (kvs_sbuf_puts(b, "\n") != 0 || kvs_sk_put_lower(b, it[i].name, it[i].name_len) != 0 ||
            kvs_sbuf_puts(b, ":") != 0 || kvs_sk_put_decoded(b, it[i].value, it[i].value_len) != 0)
            return -1;
    }
    return 0;
}

int kvs_blob_sk_string_to_sign(const char *account, const char *method,
                               const char *const *headers, const char *wire_path,
                               const char *query, kvs_sbuf *out)
{
    kvs_sk_item items[KVS_SK_MAX_ITEMS];
    size_t n = 0;
    for (; headers != NULL && headers[n] != NULL; n++)
        if (n >= KVS_SK_MAX_ITEMS || kvs_sk_split(headers[n], &items[n]) != 0) return -1;
    if (kvs_sbuf_puts(out, method) != 0 || kvs_sbuf_puts(out, "\n") != 0) return -1;
    if (kvs_sk_standard(out, items, n) != 0 || kvs_sk_ms_headers(out, items, n) != 0) return -1;
    if (kvs_sbuf_puts(out, "/") != 0 || kvs_sbuf_puts(out, account) != 0 ||
        kvs_sbuf_puts(out, wire_path) != 0)
        return -1;
    return kvs_sk_query(out, query);
}

kvs_status kvs_blob_sk_header(const uint8_t *key, size_t key_len, const char *account,
                              const kvs_sbuf *string_to_sign, char *line, size_t cap,
                              kvs_error *err)
{
    uint8_t mac[32];
    char sig[45];
    kvs_status st = kvs_hmac_sha256(key, key_len, (const uint8_t *)string_to_sign->p,
                                    string_to_sign->len, mac);
    if (st != KVS_OK) return kvs_fail(err, st, "cannot compute the Shared Key signature");
    (void)kvs_b64_std_encode(mac, sizeof(mac), sig, sizeof(sig));
    int w = snprintf(line, cap, "Authorization: SharedKey %s:%s", account, sig);
    if (w < 0 || (size_t)w >= cap) return kvs_fail(err, KVS_ERR_INTERNAL, "header too long");
    return KVS_OK;
}
