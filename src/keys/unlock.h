/* Internal: find a recipient the caller's keys can unwrap and verify the
 * header tag with the derived key (FORMAT.md §7 steps 3-4). */
#ifndef KVS_KEYS_UNLOCK_H
#define KVS_KEYS_UNLOCK_H

#include "format/format.h"
#include "kvseal/keys.h"

/* Providers are tried in the order given; for each, the recipients it matches
 * in header order. On success fills *keys, copies the DEK into dek_out when it
 * is not NULL (32 secure bytes) and sets *used to the recipient index.
 * KVS_ERR_AUTH if a data key unwrapped but no header tag verified;
 * KVS_ERR_NO_RECIPIENT if no key matches; the first transient failure
 * (KVS_ERR_NETWORK, KVS_ERR_UNAVAILABLE) if any, naming its host; otherwise
 * the first unwrap failure. Every failure is listed in err. */
kvs_status kvs_unlock_header(const kvs_header *h, const uint8_t *prefix_and_json, size_t len,
                             const uint8_t tag[KVS_TAG_LEN], kvs_provider *const *providers,
                             size_t n_providers, kvs_file_keys *keys, uint8_t *dek_out,
                             int *used, kvs_error *err);

/* Why a header is unlocked: to decrypt the file now, or ahead of a later
 * decryption (kvs_unlock_fd, restore prefetching), whose Key Vault data keys
 * stay marked in the DEK cache for that decryption and are not counted as
 * cache savings. */
typedef enum kvs_unlock_when { KVS_UNLOCK_NOW = 0, KVS_UNLOCK_AHEAD = 1 } kvs_unlock_when;

/* kvs_unlock_header that, on success, also writes into notes (may be NULL)
 * the failures of recipients tried before the one that worked ("" if none),
 * with status KVS_OK. */
kvs_status kvs_unlock_header_ex(const kvs_header *h, const uint8_t *prefix_and_json, size_t len,
                                const uint8_t tag[KVS_TAG_LEN], kvs_provider *const *providers,
                                size_t n_providers, kvs_file_keys *keys, uint8_t *dek_out,
                                int *used, kvs_unlock_when when, kvs_error *err,
                                kvs_error *notes);

#endif
