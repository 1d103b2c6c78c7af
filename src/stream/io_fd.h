/* Internal: file descriptors as the engine's source and sink (stream/io.h). */
#ifndef KVS_STREAM_IO_FD_H
#define KVS_STREAM_IO_FD_H

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

/* A file descriptor as a sink: positional (pwrite) for a regular file not
 * opened O_APPEND, else in order. commit leaves the position at the end;
 * abort cuts a regular file back to the kept prefix. */
typedef struct kvs_fd_sink {
    kvs_sink base;
    int fd;
    uint64_t origin;
} kvs_fd_sink;

void kvs_fd_sink_init(kvs_fd_sink *s, int fd);

/* A sink that keeps nothing: decryption that only verifies. */
void kvs_discard_sink_init(kvs_sink *s);

#endif
