/* Internal helpers of the provider layer (src/keys/provider.c). */
#ifndef KVS_KEYS_PROVIDER_H
#define KVS_KEYS_PROVIDER_H

#include "kvseal/keys.h"

/* The rule kvs_provider_unwrap applies to every provider's result, for
 * callers that unwrap by another route (Key Vault under a file's deadline):
 * the len bytes in buf are copied to dek only if they are a 32-byte data
 * key; anything else is KVS_ERR_AUTH naming p. */
kvs_status kvs_provider_take_dek(const kvs_provider *p, const uint8_t *buf, size_t len,
                                 uint8_t dek[KVS_DEK_LEN], kvs_error *err);

#endif
