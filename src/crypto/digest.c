/* MD5 in base64 (the Content-MD5 the blob service checks) and standard,
 * padded base64 for storage headers and Shared Key signatures. */
#include <openssl/evp.h>

#include "core/error.h"
#include "crypto/crypto.h"

int kvs_b64_std_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    if (n > ((size_t)1 << 28) || cap < 4 * ((n + 2) / 3) + 1) return -1;
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return 0;
}

kvs_status kvs_md5_b64(const uint8_t *data, size_t len, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    /* Not for security: MD5 only detects corruption in transit, as the
     * service's Content-MD5 check defines it. */
    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return kvs_fail_ossl(NULL, KVS_ERR_CRYPTO, "MD5");
    (void)EVP_EncodeBlock((unsigned char *)out, md, 16);
    return KVS_OK;
}
