/* Library and file format versions. */
#ifndef KVSEAL_VERSION_H
#define KVSEAL_VERSION_H

#include "kvseal/export.h"

#define KVSEAL_VERSION_STRING "0.1.0"
#define KVSEAL_FORMAT_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "0.1.0" (static string). May differ from
 * KVSEAL_VERSION_STRING when a program runs against another build. */
KVS_API const char *kvs_version(void);

#ifdef __cplusplus
}
#endif
#endif
