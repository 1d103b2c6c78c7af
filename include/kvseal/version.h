#ifndef KVSEAL_VERSION_H
#define KVSEAL_VERSION_H

#include "kvseal/status.h"

#define KVSEAL_VERSION_STRING "0.1.0"
#define KVSEAL_FORMAT_VERSION 1

KVS_API const char *kvs_version(void);

#endif
