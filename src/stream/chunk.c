/* Seal and open one chunk (FORMAT.md §6). */
#include <string.h>

#include "stream/chunk.h"

void kvs_chunk_nonce(uint64_t index, int final, uint8_t nonce[KVS_NONCE_LEN])
{
    memset(nonce, 0, KVS_NONCE_LEN);
    for (int i = 0; i < 8; i++) nonce[10 - i] = (uint8_t)(index >> (8 * i));
    nonce[11] = final ? 0x01 : 0x00;
}

kvs_status kvs_chunk_seal(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *pt,
                          size_t len, uint8_t *out)
{
    uint8_t nonce[KVS_NONCE_LEN];
    kvs_chunk_nonce(index, final, nonce);
    return kvs_gcm_seal(gcm, nonce, sizeof nonce, NULL, 0, pt, len, out, out + len,
                        KVS_CHUNK_TAG_LEN);
}

kvs_status kvs_chunk_open(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                          size_t stored_len, uint8_t *pt)
{
    uint8_t nonce[KVS_NONCE_LEN];
    if (stored_len < KVS_CHUNK_TAG_LEN) return KVS_ERR_TRUNCATED;
    size_t len = stored_len - KVS_CHUNK_TAG_LEN;
    kvs_chunk_nonce(index, final, nonce);
    return kvs_gcm_open(gcm, nonce, sizeof nonce, NULL, 0, in, len, in + len,
                        KVS_CHUNK_TAG_LEN, pt);
}
