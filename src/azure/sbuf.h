/* Growable, capped byte buffers in secure memory (responses, request bodies,
 * tokens): every byte that ever held a secret is wiped on growth and free. */
#ifndef KVS_AZURE_SBUF_H
#define KVS_AZURE_SBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct kvs_sbuf {
    char *p;    /* always NUL-terminated when non-NULL */
    size_t len; /* bytes used, NUL excluded */
    size_t cap; /* allocation length */
    size_t max; /* most bytes it may hold (0: 1 MiB) */
} kvs_sbuf;

#define KVS_SBUF_DEFAULT_MAX ((size_t)1 << 20)

void kvs_sbuf_init(kvs_sbuf *b, size_t max);
/* Returns 0, or -1 when out of memory or past max (b unchanged). */
int kvs_sbuf_append(kvs_sbuf *b, const void *data, size_t n);
int kvs_sbuf_puts(kvs_sbuf *b, const char *s);
/* Append s percent-encoded for application/x-www-form-urlencoded and URL
 * query values (unreserved characters kept). */
int kvs_sbuf_put_urlenc(kvs_sbuf *b, const char *s);
/* Append base64url without padding. */
int kvs_sbuf_put_b64url(kvs_sbuf *b, const uint8_t *data, size_t n);
void kvs_sbuf_reset(kvs_sbuf *b); /* wipe content, keep memory */
void kvs_sbuf_free(kvs_sbuf *b);

#endif
