/* Internal: whole kvseal files between any source and sink (stream/io.h):
 * what the public fd and memory helpers are, and what a new kind of input
 * or output (a blob) plugs into. */
#ifndef KVS_STREAM_PIPELINE_H
#define KVS_STREAM_PIPELINE_H

#include "kvseal/stream.h"
#include "stream/engine.h"

/* Seal a new file: header, then every chunk of in. res->consumed counts
 * against opts->dek_session whether or not the transfer succeeded. */
kvs_status kvs_encrypt_source(kvs_source *in, kvs_sink *out, const kvs_encrypt_options *opts,
                              kvs_provider *const *recipients, size_t n_recipients,
                              kvs_engine_result *res, kvs_error *err);

/* Open the file read from in: its header through in's sequential reads,
 * then its chunks. header_out (may be NULL) as kvs_decrypt_fd's. */
kvs_status kvs_decrypt_source(kvs_source *in, kvs_sink *out, const kvs_decrypt_options *opts,
                              kvs_provider *const *keys, size_t n_keys, kvs_header **header_out,
                              kvs_engine_result *res, kvs_error *err);

#endif
