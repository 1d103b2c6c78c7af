/* Get Block List XML reader (see blocklist_xml.h). */
#include "blob/blocklist_xml.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct kvs_xr {
    const char *p, *e;
} kvs_xr;

static void kvs_xr_ws(kvs_xr *x)
{
    while (x->p < x->e && (*x->p == ' ' || *x->p == '\t' || *x->p == '\r' || *x->p == '\n'))
        x->p++;
}

/* Consume lit (after whitespace) if it is next. */
static int kvs_xr_eat(kvs_xr *x, const char *lit)
{
    size_t n = strlen(lit);
    kvs_xr_ws(x);
    if ((size_t)(x->e - x->p) < n || memcmp(x->p, lit, n) != 0) return 0; /* not secret */
    x->p += n;
    return 1;
}

/* Text up to the next '<' (no entities are expected in ids or sizes). */
static size_t kvs_xr_text(kvs_xr *x, const char **s)
{
    *s = x->p;
    while (x->p < x->e && *x->p != '<') x->p++;
    return (size_t)(x->p - *s);
}

static int kvs_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

static int kvs_xr_block(kvs_xr *x, kvs_blob_block *b)
{
    const char *s;
    size_t n;
    if (!kvs_xr_eat(x, "<Name>")) return -1;
    n = kvs_xr_text(x, &s);
    if (n == 0 || n >= KVS_BLOB_ID_TEXT_MAX) return -1;
    for (size_t i = 0; i < n; i++)
        if (!kvs_b64_char(s[i])) return -1;
    memcpy(b->id, s, n);
    b->id[n] = '\0';
    if (!kvs_xr_eat(x, "</Name>") || !kvs_xr_eat(x, "<Size>")) return -1;
    n = kvs_xr_text(x, &s);
    if (n == 0 || n > 12) return -1; /* a block is at most 4000 MiB */
    b->size = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        b->size = b->size * 10 + (uint64_t)(s[i] - '0');
    }
    b->committed = 1;
    return kvs_xr_eat(x, "</Size>") && kvs_xr_eat(x, "</Block>") ? 0 : -1;
}

static kvs_status kvs_xml_bad(kvs_error *err, const char *what)
{
    return kvs_fail(err, KVS_ERR_FORMAT, "unexpected Get Block List answer: %s", what);
}

kvs_status kvs_blob_blocklist_parse(const char *xml, size_t len, kvs_blob_block **blocks,
                                    size_t *n, kvs_error *err)
{
    kvs_xr x = {xml, xml + len};
    kvs_blob_block *out = NULL;
    size_t cnt = 0, cap = 0;
    *blocks = NULL;
    *n = 0;
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0) x.p += 3; /* not secret */
    if (kvs_xr_eat(&x, "<?xml")) {
        const char *q = memchr(x.p, '>', (size_t)(x.e - x.p));
        if (q == NULL || q == x.p || q[-1] != '?') return kvs_xml_bad(err, "bad XML declaration");
        x.p = q + 1;
    }
    if (!kvs_xr_eat(&x, "<BlockList>")) return kvs_xml_bad(err, "no <BlockList>");
    int empty = kvs_xr_eat(&x, "<CommittedBlocks/>") || kvs_xr_eat(&x, "<CommittedBlocks />");
    if (!empty) {
        if (!kvs_xr_eat(&x, "<CommittedBlocks>")) return kvs_xml_bad(err, "no <CommittedBlocks>");
        while (kvs_xr_eat(&x, "<Block>")) {
            if (cnt == KVS_BLOB_MAX_BLOCKS) {
                free(out);
                return kvs_xml_bad(err, "more than 50000 blocks");
            }
            if (cnt == cap) {
                size_t nc = cap ? cap * 2 : 64;
                if (nc > KVS_BLOB_MAX_BLOCKS) nc = KVS_BLOB_MAX_BLOCKS;
                kvs_blob_block *t = realloc(out, nc * sizeof(*out));
                if (t == NULL) {
                    free(out);
                    return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
                }
                out = t;
                cap = nc;
            }
            memset(&out[cnt], 0, sizeof(out[cnt]));
            if (kvs_xr_block(&x, &out[cnt]) != 0) {
                free(out);
                return kvs_xml_bad(err, "a malformed <Block>");
            }
            cnt++;
        }
        if (!kvs_xr_eat(&x, "</CommittedBlocks>")) {
            free(out);
            return kvs_xml_bad(err, "no </CommittedBlocks>");
        }
    }
    /* Asked for committed blocks only: an uncommitted list must be empty. */
    (void)(kvs_xr_eat(&x, "<UncommittedBlocks/>") || kvs_xr_eat(&x, "<UncommittedBlocks />") ||
           (kvs_xr_eat(&x, "<UncommittedBlocks>") && kvs_xr_eat(&x, "</UncommittedBlocks>")));
    if (!kvs_xr_eat(&x, "</BlockList>")) {
        free(out);
        return kvs_xml_bad(err, "no </BlockList>");
    }
    kvs_xr_ws(&x);
    if (x.p != x.e) {
        free(out);
        return kvs_xml_bad(err, "bytes after </BlockList>");
    }
    *blocks = out;
    *n = cnt;
    return KVS_OK;
}
