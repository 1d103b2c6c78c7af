/* A small strict XML reader for the Blob service's answers (List Blobs, Get
 * Block List): untrusted input, so it is bounded (depth, names, text,
 * attributes) and knows only elements, attributes (skipped), text, the five
 * predefined and numeric character references, an XML declaration and a
 * BOM. DOCTYPE, entity declarations, comments, CDATA and processing
 * instructions are refused, so nothing can expand. It allocates nothing:
 * what a document means is up to the handler. */
#ifndef KVS_BLOB_XML_READER_H
#define KVS_BLOB_XML_READER_H

#include <stddef.h>

#define KVS_XML_DEPTH_MAX 8    /* elements open at once, the root included */
#define KVS_XML_NAME_MAX 64    /* bytes of an element or attribute name */
#define KVS_XML_TEXT_MAX 4096  /* decoded bytes of one element's text */

typedef struct kvs_xml_ev {
    const char *const *path; /* the open elements' names, path[0] the root */
    int depth;               /* this element is path[depth] */
    const char *text;        /* end of an element without children: its decoded
                                text (NUL-terminated, possibly whitespace); else "" */
    size_t text_len;
    int has_children;
} kvs_xml_ev;

typedef struct kvs_xml_handler {
    /* Each returns NULL to go on, or a short reason that ends the reading. */
    const char *(*start)(void *ctx, const kvs_xml_ev *ev);
    const char *(*end)(void *ctx, const kvs_xml_ev *ev);
} kvs_xml_handler;

/* Read the document xml[0, len): exactly one root element, with nothing but
 * whitespace after it. Returns NULL, or why the document was refused (the
 * reader's reason or a handler's). */
const char *kvs_xml_read(const char *xml, size_t len, const kvs_xml_handler *h, void *ctx);

/* Whether s is nothing but XML whitespace. */
int kvs_xml_blank(const char *s, size_t len);

#endif
