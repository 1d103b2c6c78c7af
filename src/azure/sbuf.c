/* Growable, capped byte buffers in secure memory. */
#include "azure/sbuf.h"

#include <string.h>

#include <openssl/crypto.h>

#include "core/b64url.h"
#include "core/secmem.h"

void kvs_sbuf_init(kvs_sbuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : KVS_SBUF_DEFAULT_MAX;
}

static int kvs_sbuf_reserve(kvs_sbuf *b, size_t need)
{
    if (need > b->max) return -1;
    if (b->p != NULL && need + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need + 1) cap *= 2;
    char *p = kvs_secure_alloc(cap);
    if (p == NULL) return -1;
    if (b->p != NULL) {
        memcpy(p, b->p, b->len + 1);
        kvs_secure_free(b->p, b->cap);
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int kvs_sbuf_append(kvs_sbuf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n) return -1;
    if (kvs_sbuf_reserve(b, b->len + n) != 0) return -1;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int kvs_sbuf_puts(kvs_sbuf *b, const char *s)
{
    return kvs_sbuf_append(b, s, strlen(s));
}

int kvs_sbuf_put_urlenc(kvs_sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                   (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (kvs_sbuf_append(b, keep ? (const char *)s : enc, keep ? 1 : 3) != 0) return -1;
    }
    return 0;
}

int kvs_sbuf_put_b64url(kvs_sbuf *b, const uint8_t *data, size_t n)
{
    size_t enc = kvs_b64url_encoded_len(n);
    if (enc > b->max || b->len > b->max - enc) return -1;
    if (kvs_sbuf_reserve(b, b->len + enc) != 0) return -1;
    if (kvs_b64url_encode(data, n, b->p + b->len, b->cap - b->len) != 0) return -1;
    b->len += enc;
    return 0;
}

void kvs_sbuf_reset(kvs_sbuf *b)
{
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap);
        b->p[0] = '\0';
    }
    b->len = 0;
}

void kvs_sbuf_free(kvs_sbuf *b)
{
    if (b->p != NULL) kvs_secure_free(b->p, b->cap);
    size_t max = b->max;
    memset(b, 0, sizeof(*b));
    b->max = max;
}
