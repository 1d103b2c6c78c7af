/* Dispatch through the provider vtable, with argument checks in one place. */
#include "core/error.h"
#include "kvseal/keys.h"

kvs_status kvs_provider_wrap(kvs_provider *p, const uint8_t dek[KVS_DEK_LEN], kvs_recipient *out,
                             kvs_error *err)
{
    if (!p || !dek || !out) return kvs_fail(err, KVS_ERR_USAGE, "wrap: missing argument");
    return p->ops->wrap(p, dek, out, err);
}

int kvs_provider_matches(const kvs_provider *p, const kvs_recipient *r)
{
    return p && r && p->ops->matches(p, r);
}

kvs_status kvs_provider_unwrap(kvs_provider *p, const kvs_recipient *r,
                               uint8_t dek[KVS_DEK_LEN], kvs_error *err)
{
    if (!p || !r || !dek) return kvs_fail(err, KVS_ERR_USAGE, "unwrap: missing argument");
    return p->ops->unwrap(p, r, dek, err);
}

const char *kvs_provider_identify(const kvs_provider *p)
{
    return p ? p->ops->identify(p) : "(none)";
}

void kvs_provider_free(kvs_provider *p)
{
    if (p) p->ops->destroy(p);
}
