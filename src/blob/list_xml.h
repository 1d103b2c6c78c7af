/* A strict reader for List Blobs answers (EnumerationResults), over
 * blob/xml_reader.h: the service's XML is untrusted input, so names, depth,
 * counts and sizes are bounded, and anything XML could do beyond plain
 * elements, attributes, text and the five predefined or numeric character
 * references (DOCTYPE, entities, comments, CDATA, processing instructions)
 * is refused. */
#ifndef KVS_BLOB_LIST_XML_H
#define KVS_BLOB_LIST_XML_H

#include <stddef.h>
#include <stdint.h>

#include "blob/blob_url.h"
#include "kvseal/status.h"

#define KVS_BLOB_LIST_PAGE_MAX 5000 /* the service's largest page */

typedef struct kvs_blob_listed {
    char name[KVS_BLOB_PATH_MAX + 1]; /* decoded; no control characters */
    uint64_t size;                    /* Properties/Content-Length */
} kvs_blob_listed;

typedef struct kvs_blob_page {
    kvs_blob_listed *blobs; /* malloc'd, in the answer's order */
    size_t n;
    char next_marker[KVS_BLOB_PATH_MAX + 1]; /* "" on the last page */
} kvs_blob_page;

/* Parse one page: <EnumerationResults ...>...<Blobs><Blob><Name>n</Name>
 * ...<Properties>...<Content-Length>size</Content-Length>...</Properties>
 * ...</Blob>...</Blobs><NextMarker>m</NextMarker></EnumerationResults>.
 * Other elements are read (with the same rules) and ignored. Every Blob has
 * exactly one Name and one Content-Length. KVS_ERR_FORMAT names what was
 * wrong; on failure page holds nothing. */
kvs_status kvs_blob_list_parse(const char *xml, size_t len, kvs_blob_page *page,
                               kvs_error *err);

void kvs_blob_page_free(kvs_blob_page *page);

#endif
