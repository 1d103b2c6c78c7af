/* List Blobs XML reader (see list_xml.h). */
#include "blob/list_xml.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define KVS_XML_NAME_MAX 64

/* Where an element sits, as far as this reader cares. */
enum { AT_OTHER, AT_ROOT, AT_BLOBS, AT_BLOB, AT_NAME, AT_PROPS, AT_LENGTH, AT_NEXT };

typedef struct kvs_lx {
    const char *p, *e;
    kvs_blob_page *page;
    size_t cap;
    int have_name, have_size, have_next;
    kvs_blob_listed cur;
    char text[KVS_BLOB_LIST_TEXT_MAX + 1];
    size_t text_len;
    const char *why;
} kvs_lx;

static int lx_bad(kvs_lx *x, const char *why)
{
    if (x->why == NULL) x->why = why;
    return -1;
}

static int lx_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void lx_skip_ws(kvs_lx *x)
{
    while (x->p < x->e && lx_ws(*x->p)) x->p++;
}

static int lx_name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' ||
           (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

/* An element or attribute name into out. */
static int lx_name(kvs_lx *x, char out[KVS_XML_NAME_MAX + 1])
{
    size_t n = 0;
    while (x->p < x->e && lx_name_char(*x->p, n == 0)) {
        if (n == KVS_XML_NAME_MAX) return lx_bad(x, "a tag name too long");
        out[n++] = *x->p++;
    }
    out[n] = '\0';
    return n ? 0 : lx_bad(x, "a malformed tag");
}

static int lx_put(kvs_lx *x, unsigned long cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        if (cp >= 0xD800 && cp <= 0xDFFF) return lx_bad(x, "a surrogate character reference");
        b[0] = (uint8_t)(0xE0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else if (cp <= 0x10FFFF) {
        b[0] = (uint8_t)(0xF0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    } else {
        return lx_bad(x, "a character reference out of range");
    }
    if (x->text_len + n > KVS_BLOB_LIST_TEXT_MAX) return lx_bad(x, "a text too long");
    memcpy(x->text + x->text_len, b, n);
    x->text_len += n;
    return 0;
}

/* One reference after '&': the five predefined ones or &#N; / &#xN;. */
static int lx_ref(kvs_lx *x)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t n = strlen(named[i].name);
        if ((size_t)(x->e - x->p) >= n && memcmp(x->p, named[i].name, n) == 0) { /* not secret */
            x->p += n;
            return lx_put(x, (unsigned char)named[i].c);
        }
    }
    if (x->p >= x->e || *x->p != '#') return lx_bad(x, "an entity reference");
    x->p++;
    int hex = x->p < x->e && *x->p == 'x';
    if (hex) x->p++;
    unsigned long cp = 0;
    size_t digits = 0;
    for (; x->p < x->e && *x->p != ';'; x->p++, digits++) {
        char c = *x->p;
        int v = c >= '0' && c <= '9'               ? c - '0'
                : hex && c >= 'a' && c <= 'f'     ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F'     ? c - 'A' + 10
                                                  : -1;
        if (v < 0 || digits >= 8) return lx_bad(x, "a malformed character reference");
        cp = cp * (hex ? 16u : 10u) + (unsigned long)v;
    }
    if (x->p >= x->e || digits == 0) return lx_bad(x, "a malformed character reference");
    x->p++;
    if (cp == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r'))
        return lx_bad(x, "a control character reference");
    return lx_put(x, cp);
}

/* Attributes up to '>' or "/>": name="value" or name='value', skipped. */
static int lx_attrs(kvs_lx *x, int *empty)
{
    char name[KVS_XML_NAME_MAX + 1];
    for (size_t n = 0;; n++) {
        int had_ws = x->p < x->e && lx_ws(*x->p);
        lx_skip_ws(x);
        if (x->p >= x->e) return lx_bad(x, "the answer ends inside a tag");
        if (*x->p == '>') {
            x->p++;
            *empty = 0;
            return 0;
        }
        if (*x->p == '/' && x->e - x->p >= 2 && x->p[1] == '>') {
            x->p += 2;
            *empty = 1;
            return 0;
        }
        if (!had_ws || n >= 16) return lx_bad(x, "a malformed tag");
        if (lx_name(x, name) != 0) return -1;
        lx_skip_ws(x);
        if (x->p >= x->e || *x->p != '=') return lx_bad(x, "a malformed attribute");
        x->p++;
        lx_skip_ws(x);
        if (x->p >= x->e || (*x->p != '"' && *x->p != '\'')) return lx_bad(x, "a malformed attribute");
        char q = *x->p++;
        const char *end = memchr(x->p, q, (size_t)(x->e - x->p));
        if (end == NULL || end - x->p > KVS_BLOB_LIST_TEXT_MAX) return lx_bad(x, "a malformed attribute");
        if (memchr(x->p, '<', (size_t)(end - x->p)) != NULL) return lx_bad(x, "'<' in an attribute");
        x->p = end + 1;
    }
}

static int lx_where(int parent, const char *name)
{
    switch (parent) {
    case AT_ROOT:
        return strcmp(name, "Blobs") == 0 ? AT_BLOBS : strcmp(name, "NextMarker") == 0 ? AT_NEXT : AT_OTHER;
    case AT_BLOBS:
        return strcmp(name, "Blob") == 0 ? AT_BLOB : AT_OTHER;
    case AT_BLOB:
        return strcmp(name, "Name") == 0 ? AT_NAME : strcmp(name, "Properties") == 0 ? AT_PROPS : AT_OTHER;
    case AT_PROPS:
        return strcmp(name, "Content-Length") == 0 ? AT_LENGTH : AT_OTHER;
    default:
        return AT_OTHER;
    }
}

static int lx_text_done(kvs_lx *x, int where)
{
    x->text[x->text_len] = '\0';
    if (where == AT_NAME) {
        if (x->have_name++) return lx_bad(x, "a <Blob> with two <Name>s");
        if (x->text_len == 0 || x->text_len > KVS_BLOB_PATH_MAX)
            return lx_bad(x, "a blob name empty or longer than 1024 bytes");
        for (size_t i = 0; i < x->text_len; i++)
            if ((unsigned char)x->text[i] < 0x20 || x->text[i] == 0x7f)
                return lx_bad(x, "a blob name with a control character");
        memcpy(x->cur.name, x->text, x->text_len + 1);
    } else if (where == AT_LENGTH) {
        if (x->have_size++) return lx_bad(x, "a <Blob> with two <Content-Length>s");
        if (x->text_len == 0 || x->text_len > 15) return lx_bad(x, "a malformed <Content-Length>");
        x->cur.size = 0;
        for (size_t i = 0; i < x->text_len; i++) {
            if (x->text[i] < '0' || x->text[i] > '9') return lx_bad(x, "a malformed <Content-Length>");
            x->cur.size = x->cur.size * 10 + (uint64_t)(x->text[i] - '0');
        }
    } else if (where == AT_NEXT) {
        if (x->have_next++) return lx_bad(x, "two <NextMarker>s");
        if (x->text_len > KVS_BLOB_PATH_MAX) return lx_bad(x, "a <NextMarker> too long");
        for (size_t i = 0; i < x->text_len; i++)
            if ((unsigned char)x->text[i] < 0x20) return lx_bad(x, "a control character in <NextMarker>");
        memcpy(x->page->next_marker, x->text, x->text_len + 1);
    }
    return 0;
}

static int lx_blob_done(kvs_lx *x)
{
    kvs_blob_page *pg = x->page;
    if (!x->have_name || !x->have_size) return lx_bad(x, "a <Blob> without <Name> or <Content-Length>");
    if (pg->n == KVS_BLOB_LIST_PAGE_MAX) return lx_bad(x, "more than 5000 blobs in one page");
    if (pg->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 16;
        if (nc > KVS_BLOB_LIST_PAGE_MAX) nc = KVS_BLOB_LIST_PAGE_MAX;
        kvs_blob_listed *t = realloc(pg->blobs, nc * sizeof(*t));
        if (t == NULL) return lx_bad(x, NULL); /* out of memory: why stays NULL */
        pg->blobs = t;
        x->cap = nc;
    }
    pg->blobs[pg->n++] = x->cur;
    return 0;
}

/* One element, x->p just after its '<'. */
static int lx_element(kvs_lx *x, int parent, int depth)
{
    char name[KVS_XML_NAME_MAX + 1], end[KVS_XML_NAME_MAX + 1];
    int empty = 0, children = 0, where;
    if (depth > KVS_BLOB_LIST_DEPTH_MAX) return lx_bad(x, "elements nested too deep");
    if (lx_name(x, name) != 0 || lx_attrs(x, &empty) != 0) return -1;
    where = depth == 0 ? (strcmp(name, "EnumerationResults") == 0 ? AT_ROOT : AT_OTHER)
                       : lx_where(parent, name);
    if (depth == 0 && where != AT_ROOT) return lx_bad(x, "no <EnumerationResults>");
    if (where == AT_BLOB) {
        memset(&x->cur, 0, sizeof(x->cur));
        x->have_name = x->have_size = 0;
    }
    x->text_len = 0;
    while (!empty) {
        const char *lt = x->p;
        while (lt < x->e && *lt != '<') lt++;
        for (; x->p < lt; x->p++) { /* text */
            unsigned char c = (unsigned char)*x->p;
            if (c == '&') {
                x->p++;
                if (lx_ref(x) != 0) return -1;
                x->p--;
            } else if (c == '>' || (c < 0x20 && !lx_ws((char)c))) {
                return lx_bad(x, "a stray '>' or control character in text");
            } else if (children && !lx_ws((char)c)) {
                return lx_bad(x, "text mixed with elements");
            } else if (x->text_len == KVS_BLOB_LIST_TEXT_MAX) {
                return lx_bad(x, "a text too long");
            } else {
                x->text[x->text_len++] = (char)c;
            }
        }
        if (x->e - x->p < 2) return lx_bad(x, "the answer ends inside an element");
        x->p++;
        if (*x->p == '/') break;
        if (*x->p == '!' || *x->p == '?')
            return lx_bad(x, "a DOCTYPE, comment, CDATA or processing instruction");
        for (size_t i = 0; i < x->text_len; i++)
            if (!lx_ws(x->text[i])) return lx_bad(x, "text mixed with elements");
        children = 1;
        if (lx_element(x, where, depth + 1) != 0) return -1;
        x->text_len = 0;
    }
    if (!empty) {
        x->p++;
        if (lx_name(x, end) != 0) return -1;
        lx_skip_ws(x);
        if (strcmp(end, name) != 0 || x->p >= x->e || *x->p != '>')
            return lx_bad(x, "a mismatched end tag");
        x->p++;
    }
    if (children && (where == AT_NAME || where == AT_LENGTH || where == AT_NEXT))
        return lx_bad(x, "elements inside a text element");
    if (!children && (where == AT_NAME || where == AT_LENGTH || where == AT_NEXT) &&
        lx_text_done(x, where) != 0)
        return -1;
    x->text_len = 0;
    if (where == AT_BLOB) return lx_blob_done(x);
    return 0;
}

void kvs_blob_page_free(kvs_blob_page *page)
{
    free(page->blobs);
    memset(page, 0, sizeof(*page));
}

kvs_status kvs_blob_list_parse(const char *xml, size_t len, kvs_blob_page *page, kvs_error *err)
{
    kvs_lx *x = calloc(1, sizeof(*x));
    memset(page, 0, sizeof(*page));
    if (x == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    x->p = xml;
    x->e = xml + len;
    x->page = page;
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0) x->p += 3; /* not secret */
    lx_skip_ws(x);
    int rc = 0;
    if (x->e - x->p >= 5 && memcmp(x->p, "<?xml", 5) == 0) { /* not secret */
        const char *q = memchr(x->p, '>', (size_t)(x->e - x->p));
        if (q == NULL || q[-1] != '?' || memchr(x->p, '<', (size_t)(q - x->p) ) != x->p)
            rc = lx_bad(x, "a bad XML declaration");
        else
            x->p = q + 1;
    }
    lx_skip_ws(x);
    if (rc == 0 && (x->p >= x->e || *x->p != '<')) rc = lx_bad(x, "no <EnumerationResults>");
    if (rc == 0 && x->e - x->p >= 2 && (x->p[1] == '!' || x->p[1] == '?'))
        rc = lx_bad(x, "a DOCTYPE, comment, CDATA or processing instruction");
    if (rc == 0) {
        x->p++;
        rc = lx_element(x, AT_OTHER, 0);
    }
    lx_skip_ws(x);
    if (rc == 0 && x->p != x->e) rc = lx_bad(x, "bytes after </EnumerationResults>");
    kvs_status st = KVS_OK;
    if (rc != 0) {
        st = x->why ? kvs_fail(err, KVS_ERR_FORMAT, "unexpected List Blobs answer: %s", x->why)
                    : kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        kvs_blob_page_free(page);
    }
    free(x);
    return st;
}
