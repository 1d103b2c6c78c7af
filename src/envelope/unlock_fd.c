/* kvs_unlock_fd: open a file's header only (restore prefetching). */
#include "kvseal/envelope.h"
#include "stream/chunk.h"

kvs_status kvs_unlock_fd(int fd, const kvs_decrypt_options *opts, kvs_provider *const *keys,
                         size_t n_keys, kvs_header **header_out, kvs_error *err)
{
    kvs_opened_header oh;
    if (header_out) *header_out = NULL;
    /* The keys it caches are for a later decryption of the same file. */
    kvs_status st = kvs_open_header_fd(fd, opts, keys, n_keys, KVS_UNLOCK_AHEAD, &oh, err);
    if (st != KVS_OK) return st;
    if (header_out) {
        *header_out = oh.header;
        oh.header = NULL;
    }
    kvs_opened_header_clear(&oh);
    return KVS_OK;
}
