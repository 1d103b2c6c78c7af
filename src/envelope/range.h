/* Internal: range decryption over any source (envelope/range.c), shared by
 * files and blobs. */
#ifndef KVS_ENVELOPE_RANGE_H
#define KVS_ENVELOPE_RANGE_H

#include "kvseal/stream.h"
#include "stream/io.h"

/* kvs_decrypt_range_fd's work on in, whose sequential reads start at the
 * header: in must be positional with a known size (else KVS_ERR_USAGE). */
kvs_status kvs_decrypt_range_source(kvs_source *in, uint64_t offset, uint64_t length, int out_fd,
                                    const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                    size_t n_keys, kvs_error *err);

#endif
