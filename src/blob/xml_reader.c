/* The strict XML reader (see xml_reader.h). */
#include "blob/xml_reader.h"

#include <stdint.h>
#include <string.h>

typedef struct kvs_lx {
    const char *p, *e;
    const kvs_xml_handler *h;
    void *ctx;
    const char *path[KVS_XML_DEPTH_MAX];
    char names[KVS_XML_DEPTH_MAX][KVS_XML_NAME_MAX + 1];
    char text[KVS_XML_TEXT_MAX + 1];
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
    if (x->text_len + n > KVS_XML_TEXT_MAX) return lx_bad(x, "a text too long");
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
        if (end == NULL || end - x->p > KVS_XML_TEXT_MAX) return lx_bad(x, "a malformed attribute");
        if (memchr(x->p, '<', (size_t)(end - x->p)) != NULL) return lx_bad(x, "'<' in an attribute");
        x->p = end + 1;
    }
}

int kvs_xml_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!lx_ws(s[i])) return 0;
    return 1;
}

/* One element, x->p just after its '<'. */
static int lx_element(kvs_lx *x, int depth)
{
    char end[KVS_XML_NAME_MAX + 1];
    int empty = 0, children = 0;
    if (depth >= KVS_XML_DEPTH_MAX) return lx_bad(x, "elements nested too deep");
    char *name = x->names[depth];
    if (lx_name(x, name) != 0 || lx_attrs(x, &empty) != 0) return -1;
    x->path[depth] = name;
    kvs_xml_ev ev = {x->path, depth, "", 0, 0};
    const char *why = x->h->start ? x->h->start(x->ctx, &ev) : NULL;
    if (why) return lx_bad(x, why);
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
            } else if (x->text_len == KVS_XML_TEXT_MAX) {
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
        if (!kvs_xml_blank(x->text, x->text_len)) return lx_bad(x, "text mixed with elements");
        children = 1;
        if (lx_element(x, depth + 1) != 0) return -1;
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
    x->text[x->text_len] = '\0';
    ev.text = children ? "" : x->text;
    ev.text_len = children ? 0 : x->text_len;
    ev.has_children = children;
    why = x->h->end ? x->h->end(x->ctx, &ev) : NULL;
    x->text_len = 0;
    return why ? lx_bad(x, why) : 0;
}

const char *kvs_xml_read(const char *xml, size_t len, const kvs_xml_handler *h, void *ctx)
{
    kvs_lx x;
    memset(&x, 0, sizeof(x));
    x.p = xml;
    x.e = xml + len;
    x.h = h;
    x.ctx = ctx;
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0) x.p += 3; /* not secret */
    lx_skip_ws(&x);
    if (x.e - x.p >= 5 && memcmp(x.p, "<?xml", 5) == 0) { /* not secret */
        const char *q = memchr(x.p, '>', (size_t)(x.e - x.p));
        if (q == NULL || q[-1] != '?' || memchr(x.p + 1, '<', (size_t)(q - x.p - 1)) != NULL)
            return "a bad XML declaration";
        x.p = q + 1;
    }
    lx_skip_ws(&x);
    if (x.p >= x.e || *x.p != '<') return "no root element";
    if (x.e - x.p >= 2 && (x.p[1] == '!' || x.p[1] == '?'))
        return "a DOCTYPE, comment, CDATA or processing instruction";
    x.p++;
    if (lx_element(&x, 0) != 0) return x.why;
    lx_skip_ws(&x);
    if (x.p != x.e) return "bytes after the root element";
    return NULL;
}
