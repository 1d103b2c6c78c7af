/* Internal: the blob operations of include/kvseal/blob.h on an open
 * kvs_blob_store (src/blob/store.h). Each public function opens the store
 * from its URL and calls one of these; unit tests call them with the
 * in-memory fake store. */
#ifndef KVS_ENVELOPE_BLOB_OPS_H
#define KVS_ENVELOPE_BLOB_OPS_H

#include "blob/layout.h"
#include "blob/store.h"
#include "kvseal/blob.h"

/* What the public functions take from kvs_blob_config, and what tests
 * lower (NULL: the defaults). */
typedef struct kvs_blob_tuning {
    unsigned parallel;                    /* 0: 4 */
    const kvs_blob_layout_params *layout; /* NULL: the service's limits */
} kvs_blob_tuning;

kvs_status kvs_blob_encrypt_store(kvs_blob_store *store, const kvs_blob_tuning *t, int in_fd,
                                  int overwrite, const kvs_encrypt_options *opts,
                                  kvs_provider *const *recipients, size_t n_recipients,
                                  kvs_error *err);

kvs_status kvs_blob_decrypt_store(kvs_blob_store *store, const kvs_blob_tuning *t, int out_fd,
                                  const kvs_decrypt_options *opts, kvs_provider *const *keys,
                                  size_t n_keys, kvs_header **header_out, kvs_error *err);

kvs_status kvs_blob_decrypt_range_store(kvs_blob_store *store, uint64_t offset, uint64_t length,
                                        int out_fd, const kvs_decrypt_options *opts,
                                        kvs_provider *const *keys, size_t n_keys,
                                        kvs_error *err);

kvs_status kvs_blob_unlock_store(kvs_blob_store *store, const kvs_decrypt_options *opts,
                                 kvs_provider *const *keys, size_t n_keys,
                                 kvs_header **header_out, kvs_error *err);

kvs_status kvs_blob_header_read_store(kvs_blob_store *store, kvs_header **out,
                                      uint64_t *size_out, kvs_error *err);

/* Signer info and key-less verification (blob_signature.c). t may be NULL. */
kvs_status kvs_blob_signature_info_store(kvs_blob_store *store, kvs_signature_info *out,
                                         kvs_error *err);

kvs_status kvs_blob_verify_signer_store(kvs_blob_store *store, const kvs_blob_tuning *t,
                                        const kvs_signer_check *required, kvs_header **header_out,
                                        kvs_error *err);

kvs_status kvs_blob_rewrap_store(kvs_blob_store *store, const kvs_rewrap_options *opts,
                                 kvs_provider *const *keys, size_t n_keys,
                                 kvs_provider *const *add, size_t n_add,
                                 kvs_rewrap_result *result, kvs_error *err);

/* The tuning a public call's cfg (may be NULL) asks for. */
kvs_blob_tuning kvs_blob_tuning_of(const kvs_blob_config *cfg);

#endif
