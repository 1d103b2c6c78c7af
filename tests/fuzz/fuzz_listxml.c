/* Fuzz target: the List Blobs XML reader (src/blob/list_xml.h). The answer
 * to a listing is untrusted: its names become blob URLs and, for a prefix
 * restore, paths below -o DIR.
 *
 * Input: the body of a List Blobs answer. Properties: on success at most
 * 5000 blobs, each name 1 to 1024 bytes without control characters, and a
 * NextMarker without control characters; on failure nothing is returned. */
#include <stdlib.h>
#include <string.h>

#include "blob/list_xml.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_blob_page pg;
    kvs_error e;
    kvs_status st = kvs_blob_list_parse((const char *)data, size, &pg, &e);
    if (st != KVS_OK) {
        FUZZ_CHECK(pg.blobs == NULL && pg.n == 0);
        FUZZ_CHECK(st == KVS_ERR_FORMAT || st == KVS_ERR_NOMEM);
        return 0;
    }
    FUZZ_CHECK(pg.n <= KVS_BLOB_LIST_PAGE_MAX);
    for (size_t i = 0; i < pg.n; i++) {
        const char *n = pg.blobs[i].name;
        size_t len = strnlen(n, sizeof pg.blobs[i].name);
        FUZZ_CHECK(len >= 1 && len <= KVS_BLOB_PATH_MAX);
        for (size_t k = 0; k < len; k++)
            FUZZ_CHECK((unsigned char)n[k] >= 0x20 && n[k] != 0x7f);
    }
    size_t ml = strnlen(pg.next_marker, sizeof pg.next_marker);
    FUZZ_CHECK(ml <= KVS_BLOB_PATH_MAX);
    for (size_t k = 0; k < ml; k++) FUZZ_CHECK((unsigned char)pg.next_marker[k] >= 0x20);
    kvs_blob_page_free(&pg);
    return 0;
}
