/* Keys derived for one file and the header tag (FORMAT.md §3). */
#include <openssl/crypto.h>

#include "core/secmem.h"
#include "crypto/crypto.h"
#include "format/format.h"
#include "format/signed.h"

static const char info_header[] = "kvseal/v1/header";
static const char info_payload[] = "kvseal/v1/payload";

kvs_file_keys *kvs_file_keys_new(void)
{
    return kvs_secure_alloc(sizeof(kvs_file_keys));
}

void kvs_file_keys_free(kvs_file_keys *k)
{
    kvs_secure_free(k, sizeof(kvs_file_keys));
}

kvs_status kvs_derive_file_keys(const uint8_t dek[32], const uint8_t salt[KVS_SALT_LEN],
                                kvs_file_keys *out)
{
    /* info strings are the ASCII bytes without a terminator */
    kvs_status st = kvs_hkdf_sha256(dek, 32, salt, KVS_SALT_LEN, (const uint8_t *)info_header,
                                    sizeof info_header - 1, out->header_key, 32);
    if (st != KVS_OK) return st;
    st = kvs_hkdf_sha256(dek, 32, salt, KVS_SALT_LEN, (const uint8_t *)info_payload,
                         sizeof info_payload - 1, out->payload_key, 32);
    if (st != KVS_OK) return st;
    return kvs_commit_derive(dek, salt, out->commit);
}

kvs_status kvs_header_tag(const kvs_file_keys *k, const uint8_t *prefix_and_json, size_t len,
                          uint8_t tag[KVS_TAG_LEN])
{
    return kvs_hmac_sha256(k->header_key, 32, prefix_and_json, len, tag);
}

kvs_status kvs_header_tag_verify(const kvs_file_keys *k, const uint8_t *prefix_and_json,
                                 size_t len, const uint8_t tag[KVS_TAG_LEN])
{
    uint8_t expect[KVS_TAG_LEN];
    kvs_status st = kvs_header_tag(k, prefix_and_json, len, expect);
    if (st == KVS_OK && CRYPTO_memcmp(expect, tag, KVS_TAG_LEN) != 0) st = KVS_ERR_AUTH;
    OPENSSL_cleanse(expect, sizeof expect);
    return st;
}
