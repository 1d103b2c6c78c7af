/* List Blobs XML reader (see list_xml.h), over the strict XML reader. */
#include "blob/list_xml.h"

#include <stdlib.h>
#include <string.h>

#include "blob/xml_reader.h"
#include "core/error.h"

typedef struct kvs_lp {
    kvs_blob_page *page;
    size_t cap;
    int have_name, have_size, have_next, nomem;
    kvs_blob_listed cur;
} kvs_lp;

/* Whether the element at ev->depth sits at root/a/b/... exactly. */
static int at(const kvs_xml_ev *ev, int depth, const char *const *names)
{
    if (ev->depth != depth) return 0;
    for (int i = 1; i <= depth; i++)
        if (strcmp(ev->path[i], names[i - 1]) != 0) return 0;
    return 1;
}

static const char *const P_BLOB[] = {"Blobs", "Blob"};
static const char *const P_NAME[] = {"Blobs", "Blob", "Name"};
static const char *const P_LEN[] = {"Blobs", "Blob", "Properties", "Content-Length"};
static const char *const P_NEXT[] = {"NextMarker"};

static const char *lp_start(void *ctx, const kvs_xml_ev *ev)
{
    kvs_lp *l = ctx;
    if (ev->depth == 0 && strcmp(ev->path[0], "EnumerationResults") != 0)
        return "no <EnumerationResults>";
    if (at(ev, 2, P_BLOB)) {
        memset(&l->cur, 0, sizeof(l->cur));
        l->have_name = l->have_size = 0;
    }
    return NULL;
}

static const char *lp_blob_done(kvs_lp *l)
{
    kvs_blob_page *pg = l->page;
    if (!l->have_name || !l->have_size) return "a <Blob> without <Name> or <Content-Length>";
    if (pg->n == KVS_BLOB_LIST_PAGE_MAX) return "more than 5000 blobs in one page";
    if (pg->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        if (nc > KVS_BLOB_LIST_PAGE_MAX) nc = KVS_BLOB_LIST_PAGE_MAX;
        kvs_blob_listed *t = realloc(pg->blobs, nc * sizeof(*t));
        if (t == NULL) {
            l->nomem = 1;
            return "out of memory";
        }
        pg->blobs = t;
        l->cap = nc;
    }
    pg->blobs[pg->n++] = l->cur;
    return NULL;
}

static const char *lp_end(void *ctx, const kvs_xml_ev *ev)
{
    kvs_lp *l = ctx;
    const char *t = ev->text;
    size_t n = ev->text_len;
    int name = at(ev, 3, P_NAME), len = at(ev, 4, P_LEN), next = at(ev, 1, P_NEXT);
    if ((name || len || next) && ev->has_children) return "elements inside a text element";
    if (name) {
        if (l->have_name++) return "a <Blob> with two <Name>s";
        if (n == 0 || n > KVS_BLOB_PATH_MAX) return "a blob name empty or longer than 1024 bytes";
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
                return "a blob name with a control character";
        memcpy(l->cur.name, t, n + 1);
    } else if (len) {
        if (l->have_size++) return "a <Blob> with two <Content-Length>s";
        if (n == 0 || n > 15) return "a malformed <Content-Length>";
        l->cur.size = 0;
        for (size_t i = 0; i < n; i++) {
            if (t[i] < '0' || t[i] > '9') return "a malformed <Content-Length>";
            l->cur.size = l->cur.size * 10 + (uint64_t)(t[i] - '0');
        }
    } else if (next) {
        if (l->have_next++) return "two <NextMarker>s";
        if (n > KVS_BLOB_PATH_MAX) return "a <NextMarker> too long";
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)t[i] < 0x20) return "a control character in <NextMarker>";
        memcpy(l->page->next_marker, t, n + 1);
    } else if (at(ev, 2, P_BLOB)) {
        return lp_blob_done(l);
    }
    return NULL;
}

void kvs_blob_page_free(kvs_blob_page *page)
{
    free(page->blobs);
    memset(page, 0, sizeof(*page));
}

kvs_status kvs_blob_list_parse(const char *xml, size_t len, kvs_blob_page *page, kvs_error *err)
{
    static const kvs_xml_handler h = {lp_start, lp_end};
    kvs_lp l;
    memset(&l, 0, sizeof(l));
    memset(page, 0, sizeof(*page));
    l.page = page;
    const char *why = kvs_xml_read(xml, len, &h, &l);
    if (why == NULL) return KVS_OK;
    kvs_blob_page_free(page);
    if (l.nomem) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    return kvs_fail(err, KVS_ERR_FORMAT, "unexpected List Blobs answer: %s", why);
}
