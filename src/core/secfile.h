/* Reading a file that holds a secret (client secret, federated token,
 * certificate with its private key) straight into secure memory: the bytes
 * never pass through stdio buffers or ordinary heap memory. */
#ifndef KVS_CORE_SECFILE_H
#define KVS_CORE_SECFILE_H

#include <stddef.h>

#include "kvseal/status.h"

typedef struct kvs_secret_buf {
    char *p;    /* secure memory, NUL-terminated; NULL when empty */
    size_t len; /* bytes read, NUL excluded */
    size_t cap; /* allocation length */
} kvs_secret_buf;

/* The whole file at path, at most max bytes. KVS_ERR_CONFIG if it cannot be
 * opened, KVS_ERR_IO on a read error, KVS_ERR_RESOURCE_LIMIT if it is larger than
 * max; out is empty then. */
kvs_status kvs_secret_file_read(const char *path, size_t max, kvs_secret_buf *out,
                                kvs_error *err);
/* Drop trailing newlines, spaces and tabs (files written by editors, echo). */
void kvs_secret_buf_rtrim(kvs_secret_buf *b);
/* Wipe and release; an empty buffer is a no-op. */
void kvs_secret_buf_free(kvs_secret_buf *b);

#endif
