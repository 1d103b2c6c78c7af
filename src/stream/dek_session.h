/* Internal side of kvs_dek_session (include/kvseal/stream.h). */
#ifndef KVS_STREAM_DEK_SESSION_H
#define KVS_STREAM_DEK_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "kvseal/stream.h"

/* The DEK for one more file, replacing it first if a limit is reached:
 * copies it into dek (caller's secure memory) and the wrapped recipients
 * into a new calloc() array. *generation names the DEK for
 * kvs_dek_session_add_bytes. */
kvs_status kvs_dek_session_issue(kvs_dek_session *s, uint8_t dek[32], kvs_recipient **recips,
                                 size_t *n, uint64_t *generation, kvs_error *err);

/* A file encrypted under DEK `generation` ended after `bytes` of plaintext. */
void kvs_dek_session_add_bytes(kvs_dek_session *s, uint64_t generation, uint64_t bytes);

#endif
