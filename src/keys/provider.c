/* Key provider objects: construction from a versioned ops table, and
 * dispatch with the argument and result checks every provider gets, built-in
 * or not (a third-party provider cannot bypass them). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/secmem.h"
#include "keys/provider.h"

struct kvs_provider {
    const kvs_provider_ops *origin; /* the caller's table: the provider's identity */
    kvs_provider_ops ops;           /* copy; members the caller's version lacks are NULL */
    void *impl;
};

/* Size of the first version of the table: every member up to destroy. */
#define KVS_PROVIDER_OPS_V1_SIZE (offsetof(kvs_provider_ops, destroy) + sizeof(void (*)(void *)))

kvs_status kvs_provider_new(const kvs_provider_ops *ops, size_t ops_size, void *impl,
                            kvs_provider **out, kvs_error *err)
{
    if (out) *out = NULL;
    if (!ops || !out) return kvs_fail(err, KVS_ERR_USAGE, "provider: missing argument");
    if (ops_size < KVS_PROVIDER_OPS_V1_SIZE)
        return kvs_fail(err, KVS_ERR_USAGE, "provider: ops table of %zu bytes is too small",
                        ops_size);
    /* A newer table is fine as long as it uses nothing this library lacks. */
    const unsigned char *extra = (const unsigned char *)ops;
    for (size_t i = sizeof(kvs_provider_ops); i < ops_size; i++)
        if (extra[i] != 0)
            return kvs_fail(err, KVS_ERR_USAGE,
                            "provider: the ops table sets members this kvseal does not know");
    kvs_provider_ops copy;
    memset(&copy, 0, sizeof copy);
    memcpy(&copy, ops, ops_size < sizeof copy ? ops_size : sizeof copy);
    if (!copy.name || !copy.matches || (!copy.wrap && !copy.unwrap))
        return kvs_fail(err, KVS_ERR_USAGE,
                        "provider: name, matches and wrap or unwrap are required");
    kvs_provider *p = calloc(1, sizeof *p);
    if (!p) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    p->origin = ops;
    p->ops = copy;
    p->impl = impl;
    *out = p;
    return KVS_OK;
}

void *kvs_provider_impl(const kvs_provider *p, const kvs_provider_ops *ops)
{
    return p && ops && p->origin == ops ? p->impl : NULL;
}

/* A recipient record a provider filled: terminated strings, a sane length. */
static int recipient_ok(const kvs_recipient *r)
{
    return memchr(r->type, '\0', sizeof r->type) && r->type[0] != '\0' &&
           memchr(r->alg, '\0', sizeof r->alg) && memchr(r->key_id, '\0', sizeof r->key_id) &&
           r->wrapped_len >= 1 && r->wrapped_len <= KVS_MAX_WRAPPED_LEN;
}

kvs_status kvs_provider_wrap(kvs_provider *p, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                             kvs_error *err)
{
    if (!p || !dek || !out) return kvs_fail(err, KVS_ERR_USAGE, "wrap: missing argument");
    if (!p->ops.wrap)
        return kvs_fail(err, KVS_ERR_USAGE, "%s cannot wrap a data key", kvs_provider_identify(p));
    memset(out, 0, sizeof *out);
    kvs_status st = p->ops.wrap(p->impl, dek, out, err);
    if (st == KVS_OK && !recipient_ok(out))
        st = kvs_fail(err, KVS_ERR_INTERNAL, "%s produced a malformed recipient",
                      kvs_provider_identify(p));
    if (st != KVS_OK) OPENSSL_cleanse(out, sizeof *out);
    return st;
}

int kvs_provider_matches(const kvs_provider *p, const kvs_recipient *r)
{
    return p && r && p->ops.matches(p->impl, r);
}

/* FORMAT.md section 5: only an unwrapped value of exactly 32 bytes is a data
 * key; anything else counts as a failed header tag (KVS_ERR_AUTH), whichever
 * provider returned it. */
kvs_status kvs_provider_unwrap(kvs_provider *p, const kvs_recipient *r,
                               uint8_t dek[KVS_DEK_LEN], kvs_error *err)
{
    if (!p || !r || !dek) return kvs_fail(err, KVS_ERR_USAGE, "unwrap: missing argument");
    if (!p->ops.unwrap)
        return kvs_fail(err, KVS_ERR_KEY, "%s cannot unwrap a data key",
                        kvs_provider_identify(p));
    uint8_t *buf = kvs_secure_alloc(KVS_MAX_WRAPPED_LEN);
    if (!buf) return kvs_fail(err, KVS_ERR_NOMEM, "out of secure memory");
    size_t len = 0;
    kvs_status st = p->ops.unwrap(p->impl, r, buf, KVS_MAX_WRAPPED_LEN, &len, err);
    if (st == KVS_OK) st = kvs_provider_take_dek(p, buf, len, dek, err);
    kvs_secure_free(buf, KVS_MAX_WRAPPED_LEN);
    return st;
}

kvs_status kvs_provider_take_dek(const kvs_provider *p, const uint8_t *buf, size_t len,
                                 uint8_t dek[KVS_DEK_LEN], kvs_error *err)
{
    if (len != KVS_DEK_LEN)
        return kvs_fail(err, KVS_ERR_AUTH, "%s unwrapped a %zu-byte value, not a %d-byte data key",
                        kvs_provider_identify(p), len, KVS_DEK_LEN);
    memcpy(dek, buf, KVS_DEK_LEN);
    return KVS_OK;
}

const char *kvs_provider_identify(const kvs_provider *p)
{
    if (!p) return "(none)";
    const char *id = p->ops.identify ? p->ops.identify(p->impl) : NULL;
    return id ? id : p->ops.name;
}

void kvs_provider_free(kvs_provider *p)
{
    if (!p) return;
    if (p->ops.destroy) p->ops.destroy(p->impl);
    free(p);
}
