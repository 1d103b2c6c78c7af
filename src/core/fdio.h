/* Internal: descriptor I/O that retries on EINTR and short transfers. */
#ifndef KVS_CORE_FDIO_H
#define KVS_CORE_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kvseal/status.h"

/* Read until len bytes or end of file; *got < len only at end of file. */
kvs_status kvs_read_full(int fd, uint8_t *buf, size_t len, size_t *got, kvs_error *err);
kvs_status kvs_write_full(int fd, const uint8_t *buf, size_t len, kvs_error *err);
/* Positional read of exactly len bytes; KVS_ERR_TRUNCATED if the file is shorter. */
kvs_status kvs_pread_full(int fd, uint8_t *buf, size_t len, uint64_t off, kvs_error *err);

#endif
