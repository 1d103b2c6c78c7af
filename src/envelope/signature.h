/* Internal: a signed file's signer info and key-less verification over any
 * positional source of known size (envelope/signature.c), shared by files
 * and blobs. h is the file's header, read from the source's start. */
#ifndef KVS_ENVELOPE_SIGNATURE_H
#define KVS_ENVELOPE_SIGNATURE_H

#include "kvseal/sign.h"
#include "stream/io.h"

kvs_status kvs_signature_info_source(kvs_source *in, const kvs_header *h, kvs_signature_info *out,
                                     kvs_error *err);

/* kvs_verify_signer_fd's checks on in. */
kvs_status kvs_verify_signer_source(kvs_source *in, const kvs_header *h,
                                    const kvs_signer_check *required, kvs_error *err);

#endif
