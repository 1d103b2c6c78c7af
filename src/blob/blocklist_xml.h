/* A strict reader for Get Block List answers (committed blocks only): the
 * service's XML is untrusted input, so sizes and counts are bounded and
 * anything unexpected is refused. */
#ifndef KVS_BLOB_BLOCKLIST_XML_H
#define KVS_BLOB_BLOCKLIST_XML_H

#include <stddef.h>

#include "blob/store.h"
#include "kvseal/status.h"

#define KVS_BLOB_MAX_BLOCKS 50000 /* committed blocks per blob (service limit) */

/* Parse <BlockList><CommittedBlocks><Block><Name>id</Name><Size>n</Size>
 * </Block>...</CommittedBlocks>[<UncommittedBlocks/>]</BlockList> (an XML
 * declaration, a BOM and whitespace between tags allowed) into a malloc'd
 * array (NULL when empty). KVS_ERR_FORMAT names what was wrong. */
kvs_status kvs_blob_blocklist_parse(const char *xml, size_t len, kvs_blob_block **blocks,
                                    size_t *n, kvs_error *err);

#endif
