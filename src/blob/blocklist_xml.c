/* Get Block List XML reader (see blocklist_xml.h), over the strict XML
 * reader: only the elements of a committed block list are accepted. */
#include "blob/blocklist_xml.h"

#include <stdlib.h>
#include <string.h>

#include "blob/xml_reader.h"
#include "core/error.h"

typedef struct kvs_bp {
    kvs_blob_block *out;
    size_t n, cap;
    int committed_seen, uncommitted_seen, have_name, have_size, nomem;
    kvs_blob_block cur;
} kvs_bp;

static int kvs_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

static int is(const kvs_xml_ev *ev, int depth, const char *name)
{
    return ev->depth == depth && strcmp(ev->path[depth], name) == 0;
}

/* <BlockList><CommittedBlocks><Block><Name/><Size/></Block>...
 * </CommittedBlocks>[<UncommittedBlocks/>]</BlockList>, nothing else. */
static const char *bp_start(void *ctx, const kvs_xml_ev *ev)
{
    kvs_bp *b = ctx;
    if (ev->depth == 0) return is(ev, 0, "BlockList") ? NULL : "no <BlockList>";
    if (is(ev, 1, "CommittedBlocks")) {
        return b->committed_seen++ || b->uncommitted_seen ? "a misplaced <CommittedBlocks>"
                                                          : NULL;
    }
    if (is(ev, 1, "UncommittedBlocks")) {
        return !b->committed_seen || b->uncommitted_seen++ ? "a misplaced <UncommittedBlocks>"
                                                           : NULL;
    }
    if (is(ev, 2, "Block")) {
        if (strcmp(ev->path[1], "CommittedBlocks") != 0) return "uncommitted blocks listed";
        if (b->n == KVS_BLOB_MAX_BLOCKS) return "more than 50000 blocks";
        memset(&b->cur, 0, sizeof(b->cur));
        b->have_name = b->have_size = 0;
        return NULL;
    }
    if (ev->depth == 3 && (is(ev, 3, "Name") || is(ev, 3, "Size")))
        return is(ev, 3, "Name") ? (b->have_name ? "a malformed <Block>" : NULL)
                                 : (b->have_name && !b->have_size ? NULL : "a malformed <Block>");
    return "an unexpected element";
}

static const char *bp_push(kvs_bp *b)
{
    if (!b->have_name || !b->have_size) return "a malformed <Block>";
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        if (nc > KVS_BLOB_MAX_BLOCKS) nc = KVS_BLOB_MAX_BLOCKS;
        kvs_blob_block *t = realloc(b->out, nc * sizeof(*t));
        if (t == NULL) {
            b->nomem = 1;
            return "out of memory";
        }
        b->out = t;
        b->cap = nc;
    }
    b->cur.committed = 1;
    b->out[b->n++] = b->cur;
    return NULL;
}

static const char *bp_end(void *ctx, const kvs_xml_ev *ev)
{
    kvs_bp *b = ctx;
    const char *t = ev->text;
    size_t n = ev->text_len;
    if (is(ev, 3, "Name")) {
        if (n == 0 || n >= KVS_BLOB_ID_TEXT_MAX) return "a malformed <Block>";
        for (size_t i = 0; i < n; i++)
            if (!kvs_b64_char(t[i])) return "a malformed <Block>";
        memcpy(b->cur.id, t, n + 1);
        b->have_name = 1;
    } else if (is(ev, 3, "Size")) {
        if (n == 0 || n > 12) return "a malformed <Block>"; /* a block is at most 4000 MiB */
        for (size_t i = 0; i < n; i++) {
            if (t[i] < '0' || t[i] > '9') return "a malformed <Block>";
            b->cur.size = b->cur.size * 10 + (uint64_t)(t[i] - '0');
        }
        b->have_size = 1;
    } else if (is(ev, 2, "Block")) {
        return bp_push(b);
    } else if (!kvs_xml_blank(t, n)) {
        return "text where elements belong";
    }
    if (ev->depth == 0 && !b->committed_seen) return "no <CommittedBlocks>";
    return NULL;
}

kvs_status kvs_blob_blocklist_parse(const char *xml, size_t len, kvs_blob_block **blocks,
                                    size_t *n, kvs_error *err)
{
    static const kvs_xml_handler h = {bp_start, bp_end};
    kvs_bp b;
    memset(&b, 0, sizeof(b));
    *blocks = NULL;
    *n = 0;
    const char *why = kvs_xml_read(xml, len, &h, &b);
    if (why != NULL) {
        free(b.out);
        if (b.nomem) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
        return kvs_fail(err, KVS_ERR_FORMAT, "unexpected Get Block List answer: %s", why);
    }
    *blocks = b.out;
    *n = b.n;
    return KVS_OK;
}
