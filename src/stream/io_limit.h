/* Internal: a source seen only up to a limit (stream/io.h): a signed
 * file's payload without its trailer, so the engine finds the final chunk
 * where the trailer begins. */
#ifndef KVS_STREAM_IO_LIMIT_H
#define KVS_STREAM_IO_LIMIT_H

#include "stream/io.h"

typedef struct kvs_limit_source {
    kvs_source base;
    kvs_source *inner;
    uint64_t pos; /* where inner's sequential reads are */
} kvs_limit_source;

/* inner must have a known size >= limit; its sequential reads are at pos. */
void kvs_limit_source_init(kvs_limit_source *s, kvs_source *inner, uint64_t pos, uint64_t limit);

#endif
