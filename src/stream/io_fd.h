/* Internal: file descriptors as the engine's source and sink (stream/io.h). */
#ifndef KVS_STREAM_IO_FD_H
#define KVS_STREAM_IO_FD_H

#include <pthread.h>

#include "stream/io.h"

/* A file descriptor as a source: positional (pread) when it is a regular
 * file with bytes past its position, else read in order (pipes, terminals,
 * and files reporting size 0, as /proc files do). stable: finish fails if
 * a regular file's size changed or was not read to its end. */
typedef struct kvs_fd_source {
    kvs_source base;
    int fd;
    int stable;
    int regular;     /* a regular file whose position was known */
    uint64_t origin; /* the fd's position when made */
    uint64_t size_then; /* its st_size then */
} kvs_fd_source;

void kvs_fd_source_init(kvs_fd_source *s, int fd, int stable);

/* Chunks a positional file sink has written out of order, at most this far
 * ahead of its complete prefix: one per direct worker, or the ring's
 * 2 * 64 + 2 slots. A chunk further ahead only delays the prefix. */
#define KVS_FD_SINK_WINDOW 256

/* A file descriptor as a sink: positional (pwrite) for a regular file not
 * opened O_APPEND, else in order. commit leaves the position at the end;
 * abort cuts a regular file back to the kept prefix. A positional sink
 * also keeps a signal handler informed of its complete prefix
 * (kvs_output_cut_on_signal, stream/outguard.h) from start to commit or
 * abort. */
typedef struct kvs_fd_sink {
    kvs_sink base;
    int fd;
    uint64_t origin;
    struct kvs_outguard *guard;      /* NULL: not registered */
    pthread_mutex_t mu;              /* guards the prefix tracking below */
    uint64_t header_len, unit;       /* the shape: where chunk i's output starts */
    uint64_t done_chunks;            /* chunks written contiguously from chunk 0 */
    uint8_t done_flag[KVS_FD_SINK_WINDOW]; /* chunk i written, for i ahead of it */
    uint64_t done_end[KVS_FD_SINK_WINDOW]; /* ... and where its output ends */
    uint64_t complete_end;           /* the complete prefix's end */
    uint64_t released_end;           /* a gated shape: what may be kept (else UINT64_MAX) */
} kvs_fd_sink;

void kvs_fd_sink_init(kvs_fd_sink *s, int fd);

/* A sink that keeps nothing: decryption that only verifies. */
void kvs_discard_sink_init(kvs_sink *s);

#endif
