/* Internal: a block blob as the engine's sink (stream/io.h). The engine
 * writes the header, then whole chunks, from any thread in any order
 * (write_at) or in order (write), then a signed file's trailer
 * (write_tail), which becomes a block of its own; the sink gathers them into the blocks of
 * blob/layout.h and stages each block as soon as it is complete, through a
 * pool of uploader threads. commit puts the block list (nothing is visible
 * before); abort commits nothing, so no blob appears.
 *
 * Memory, whatever the size: at most threads + 2 + parallel blocks, for
 * the engine's threads workers. The blocks being filled, or complete and
 * waiting for the queue, are at most one per worker plus one (a block stays
 * incomplete only while a worker holds one of its chunks, and chunks are
 * handed out in order); one block is queued; parallel are uploading. A
 * writer that completes a block waits while the queue is full
 * (back-pressure); uploads always end, so that wait does too. Blocks are
 * 8 MiB at first and grow with the index (blob/layout.h): ~128 MiB at
 * 2 TiB, never past ~200 MiB plus a chunk. */
#ifndef KVS_BLOB_SINK_H
#define KVS_BLOB_SINK_H

#include <pthread.h>

#include "blob/layout.h"
#include "blob/store.h"
#include "stream/io.h"

#define KVS_BLOB_MAX_PARALLEL 32

typedef struct kvs_blob_sink_config {
    unsigned parallel; /* uploads at once; 0: 4 */
    int overwrite;     /* 0: the commit refuses an existing blob (KVS_ERR_EXISTS) */
    const kvs_blob_layout_params *layout; /* NULL: the service's numbers */
} kvs_blob_sink_config;

struct kvs_blob_pending;

typedef struct kvs_blob_sink {
    kvs_sink base;
    kvs_blob_store *store;
    kvs_blob_sink_config cfg;
    kvs_blob_layout layout;
    uint8_t prefix[KVS_BLOB_ID_PREFIX_LEN];
    uint64_t total;                 /* from the shape, or KVS_IO_SIZE_UNKNOWN */
    uint64_t pos;                   /* write()'s place */
    uint8_t *header;                /* a copy of block 0, for the metadata */
    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t cv;
    struct kvs_blob_pending *filling; /* blocks being filled */
    struct kvs_blob_pending *queue, *queue_tail; /* complete, not yet uploading */
    struct kvs_blob_pending *spare; /* buffers of blocks that left memory */
    unsigned queued, uploading;
    unsigned buffered, peak;        /* blocks held in memory: now, at most */
    uint64_t staged;                /* blocks staged successfully */
    uint64_t last_block;            /* highest block index written */
    uint64_t tail_block;            /* the trailer's own block, once written; else 0 */
    uint64_t tail_len;
    int stopping;                   /* uploaders exit once the queue is empty */
    int failed;
    kvs_error err;                  /* the first failure */
    pthread_t threads[KVS_BLOB_MAX_PARALLEL];
    unsigned n_threads;
    int started;
} kvs_blob_sink;

/* A sink over store (borrowed; it must outlive the sink). Call
 * kvs_blob_sink_close after the transfer, whatever happened. */
void kvs_blob_sink_init(kvs_blob_sink *s, kvs_blob_store *store, const kvs_blob_sink_config *cfg);

/* Stop the uploaders (an upload in progress ends first) and free what the
 * sink holds; commits nothing. Safe after commit or abort. */
void kvs_blob_sink_close(kvs_blob_sink *s);

#endif
