/* CSPRNG output via OpenSSL's DRBGs; the private DRBG is kept for secrets so
 * public values (salts) never share its state. */
#include "crypto/crypto.h"

#include <limits.h>

#include <openssl/err.h>
#include <openssl/rand.h>

typedef int (*kvs_rand_fn)(unsigned char *buf, int num);

/* RAND_* take int lengths: fill big requests piecewise. */
static kvs_status kvs_random_fill(kvs_rand_fn fn, uint8_t *out, size_t len)
{
    if (out == NULL && len > 0) return KVS_ERR_USAGE;
    while (len > 0) {
        size_t piece = len < (size_t)INT_MAX ? len : (size_t)INT_MAX;
        if (fn(out, (int)piece) != 1) {
            ERR_clear_error();
            return KVS_ERR_CRYPTO;
        }
        out += piece;
        len -= piece;
    }
    return KVS_OK;
}

kvs_status kvs_random_secret(uint8_t *out, size_t len)
{
    return kvs_random_fill(RAND_priv_bytes, out, len);
}

kvs_status kvs_random_public(uint8_t *out, size_t len)
{
    return kvs_random_fill(RAND_bytes, out, len);
}
