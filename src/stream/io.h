/* Internal: the engine's input (a source) and output (a sink). The engine
 * knows only these operations and capabilities; a file, a pipe, caller
 * memory or an Azure block blob (BLOB.md) is one implementation each. The
 * engine picks its mode from the capabilities: positional workers when the
 * source's size is known and both ends are positional, else a ring that
 * reads in order.
 *
 * Offsets are the object's own: offset 0 is where a file descriptor was
 * when the object was made, the first byte of a buffer or of a blob. */
#ifndef KVS_STREAM_IO_H
#define KVS_STREAM_IO_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/status.h"

#define KVS_IO_SIZE_UNKNOWN UINT64_MAX

enum {
    /* read_at / write_at work, and may be called from several threads at
     * once for distinct ranges. */
    KVS_IO_POSITIONAL = 1u << 0,
    /* map works: the bytes are memory the engine may use in place. */
    KVS_IO_MAPPED = 1u << 1,
};

typedef struct kvs_source kvs_source;

typedef struct kvs_source_ops {
    /* Sequential, from where the previous read ended (one thread at a
     * time): up to len bytes; *got < len only at the end of the source. */
    kvs_status (*read)(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err);
    /* KVS_IO_POSITIONAL: exactly len bytes at off, or KVS_ERR_TRUNCATED if
     * the source ends first. Does not move read()'s place. */
    kvs_status (*read_at)(kvs_source *s, uint64_t off, uint8_t *buf, size_t len, kvs_error *err);
    /* KVS_IO_MAPPED: the len bytes at off, in place (off + len <= size). */
    const uint8_t *(*map)(kvs_source *s, uint64_t off, size_t len);
    /* Optional hint: chunks of unit bytes are read from now on. */
    void (*expect)(kvs_source *s, size_t unit);
    /* Optional, after a successful pass: the engine used exactly [0, end).
     * Leaves read()'s place at end; KVS_ERR_IO if the source changed while
     * it was read (a file that grew or shrank), so no torn copy is kept. */
    kvs_status (*finish)(kvs_source *s, uint64_t end, kvs_error *err);
} kvs_source_ops;

struct kvs_source {
    const kvs_source_ops *ops;
    unsigned caps;  /* KVS_IO_* */
    uint64_t size;  /* bytes from offset 0, or KVS_IO_SIZE_UNKNOWN */
};

/* What the engine will write, told to the sink before the first write. */
typedef struct kvs_sink_shape {
    uint64_t header_len; /* bytes written first, at offset 0 (0: none) */
    size_t chunk_size;   /* plaintext bytes of a full chunk */
    size_t unit;         /* output bytes of a full chunk: chunk i's output
                            starts at header_len + i * unit */
    uint64_t total;      /* bytes on success, or KVS_IO_SIZE_UNKNOWN */
    /* Output counts as released only up to what the engine says through
     * `released` (a required signer: segments whose roots matched); until
     * then nothing past header_len. */
    int gated;
} kvs_sink_shape;

typedef struct kvs_sink kvs_sink;

typedef struct kvs_sink_ops {
    /* Optional, once before any write; may refuse (a buffer too small). */
    kvs_status (*start)(kvs_sink *s, const kvs_sink_shape *shape, kvs_error *err);
    /* Sequential: len bytes after the previous ones (one thread). */
    kvs_status (*write)(kvs_sink *s, const uint8_t *buf, size_t len, kvs_error *err);
    /* KVS_IO_POSITIONAL: len bytes at off. The engine writes the header
     * once at offset 0, then each chunk's whole output once at its offset
     * (shape), from several threads, in any order: a block blob can stage
     * blocks of whole chunks as they complete. */
    kvs_status (*write_at)(kvs_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                           kvs_error *err);
    /* Optional: the bytes after the final chunk (a signed file's trailer),
     * once, after every chunk, at off = the end of the chunks. Without it
     * the engine writes them as any other bytes (map, write_at or write). */
    kvs_status (*write_tail)(kvs_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                             kvs_error *err);
    /* KVS_IO_MAPPED: where the len bytes at off go (off + len <= the
     * shape's total); the engine writes there instead of calling write_at. */
    uint8_t *(*map)(kvs_sink *s, uint64_t off, size_t len);
    /* Optional, after success: [0, end) is the whole output. Where an
     * atomic sink makes it visible (a blob's block list), so it may fail. */
    kvs_status (*commit)(kvs_sink *s, uint64_t end, kvs_error *err);
    /* Optional, for a gated shape: [0, end) is released (only grows); a
     * sink that keeps a prefix on a signal keeps no more than that. */
    void (*released)(kvs_sink *s, uint64_t end);
    /* Optional, after a failure once start succeeded: [0, keep) is complete
     * and, for decryption, verified; the sink keeps at most that (a file is
     * cut back to it, memory is wiped, a blob commits nothing). */
    void (*abort)(kvs_sink *s, uint64_t keep);
} kvs_sink_ops;

struct kvs_sink {
    const kvs_sink_ops *ops;
    unsigned caps; /* KVS_IO_*; without KVS_IO_POSITIONAL, only write works */
};

#endif
