/* Internal: a committed block blob as the engine's source (stream/io.h).
 * Its size and ETag are read once when it is opened; every ranged read
 * carries If-Match on that ETag, so a blob replaced while it is read fails
 * cleanly (KVS_ERR_IO, as for a local file that changed while read) instead of mixing two files.
 *
 * Positional (read_at: one ranged Get) for the engine's direct mode and
 * range decryption. Sequential reads (ring mode, and the header) go through
 * a read-ahead buffer that starts small (the header costs little) and
 * doubles up to readahead bytes, each refill fetched as up to `parallel`
 * ranged Gets at once. read_at from several threads keeps at most
 * `parallel` Gets in flight (the others wait). Memory: readahead bytes. */
#ifndef KVS_BLOB_SOURCE_H
#define KVS_BLOB_SOURCE_H

#include <pthread.h>

#include "blob/store.h"
#include "stream/io.h"

#define KVS_BLOB_READAHEAD_DEFAULT (8u * 1024 * 1024)

typedef struct kvs_blob_source {
    kvs_source base;
    kvs_blob_store *store;
    char etag[KVS_BLOB_ETAG_MAX];
    unsigned parallel;
    uint64_t pos;       /* read()'s place */
    uint8_t *ra;        /* read-ahead: bytes [ra_off, ra_off + ra_len) */
    size_t ra_cap, ra_len, ra_used, ra_next, ra_max;
    uint64_t ra_off;
    pthread_mutex_t mu; /* the gate of read_at: in_flight < parallel */
    pthread_cond_t cv;
    unsigned in_flight;
} kvs_blob_source;

/* Read the blob's properties (KVS_ERR_IO if it does not exist). readahead:
 * most bytes one sequential refill fetches; 0: none (each read() is one
 * ranged Get of exactly what is asked, for callers that read only the
 * header). parallel: ranged Gets at once per refill (0: 4). Free with
 * kvs_blob_source_close, also after a failure. */
kvs_status kvs_blob_source_open(kvs_blob_source *s, kvs_blob_store *store, size_t readahead,
                                unsigned parallel, kvs_error *err);
void kvs_blob_source_close(kvs_blob_source *s);

#endif
