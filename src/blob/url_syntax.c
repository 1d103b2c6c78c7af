/* kvs_is_blob_url: a URL argument names a blob, anything else a local path. */
#include <strings.h>

#include "kvseal/blob.h"

int kvs_is_blob_url(const char *text)
{
    return strncasecmp(text, "https://", 8) == 0 || strncasecmp(text, "http://", 7) == 0;
}
