/* Seal and open one chunk (FORMAT.md §6). */
#include <openssl/crypto.h>
#include <string.h>

#include "core/error.h"

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

kvs_status kvs_chunk_open_checked(kvs_gcm *gcm, uint64_t index, int final, const uint8_t *in,
                                  size_t stored_len, uint8_t *pt, kvs_error *err)
{
    unsigned long long i = (unsigned long long)index;
    /* FORMAT.md §6: files holding more than 2^32 chunks are refused. */
    if (index >= KVS_MAX_CHUNKS)
        return kvs_fail(err, KVS_ERR_FORMAT, "malformed payload: more than 2^32 chunks");
    kvs_status st = kvs_chunk_open(gcm, index, final, in, stored_len, pt);
    if (st != KVS_ERR_AUTH) {
        if (st != KVS_OK) return kvs_fail(err, st, "chunk %llu could not be decrypted", i);
        return KVS_OK;
    }
    int other_ok = in != pt && kvs_chunk_open(gcm, index, !final, in, stored_len, pt) == KVS_OK;
    if (other_ok) OPENSSL_cleanse(pt, stored_len - KVS_CHUNK_TAG_LEN);
    if (other_ok && final)
        return kvs_fail(err, KVS_ERR_TRUNCATED,
                        "truncated file: it ends after chunk %llu, which is not final", i);
    if (other_ok)
        return kvs_fail(err, KVS_ERR_TRAILING_DATA, "trailing data after final chunk %llu", i);
    return kvs_fail(err, KVS_ERR_AUTH, "chunk authentication failed: chunk %llu", i);
}
