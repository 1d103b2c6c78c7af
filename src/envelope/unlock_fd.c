/* kvs_unlock_fd: open a file's header only (restore prefetching). */
#include "keys/dek_cache.h"
#include "kvseal/envelope.h"
#include "stream/chunk.h"

kvs_status kvs_unlock_fd(int fd, const kvs_decrypt_options *opts, kvs_provider *const *keys,
                         size_t n_keys, kvs_header **header_out, kvs_error *err)
{
    kvs_opened_header oh;
    if (header_out) *header_out = NULL;
    kvs_dek_set_prefetching(1); /* the keys it caches are for a later decryption */
    kvs_status st = kvs_open_header_fd(fd, opts, keys, n_keys, &oh, err);
    kvs_dek_set_prefetching(0);
    if (st != KVS_OK) return st;
    if (header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return KVS_OK;
}
