/* Internal: caller memory as the engine's source and sink (stream/io.h). */
#ifndef KVS_STREAM_IO_MEM_H
#define KVS_STREAM_IO_MEM_H

#include "stream/io.h"

/* Caller memory as a source: positional and mapped; bytes may be NULL when
 * len is 0. */
typedef struct kvs_mem_source {
    kvs_source base;
    const uint8_t *bytes;
    uint64_t pos; /* read()'s place */
} kvs_mem_source;

void kvs_mem_source_init(kvs_mem_source *s, const void *bytes, size_t len);

/* Caller memory as a sink of at most cap bytes: start refuses a larger
 * output (KVS_ERR_USAGE, with the size needed). secret: abort wipes every
 * byte the output could have reached (all or nothing for plaintext). */
typedef struct kvs_mem_sink {
    kvs_sink base;
    uint8_t *bytes;
    size_t cap;
    uint64_t pos;    /* write()'s place */
    uint64_t extent; /* bytes the output may reach: wiped by abort */
    int secret;
} kvs_mem_sink;

void kvs_mem_sink_init(kvs_mem_sink *s, void *bytes, size_t cap, int secret);

#endif
