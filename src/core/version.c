/* The library version string (kvseal/version.h). */
#include "kvseal/version.h"

const char *kvs_version(void)
{
    return KVSEAL_VERSION_STRING;
}
