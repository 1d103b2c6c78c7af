/* A source seen only up to a limit (stream/io_limit.h). */
#include "core/error.h"
#include "stream/io_limit.h"

static kvs_limit_source *limited(kvs_source *s)
{
    return (kvs_limit_source *)s;
}

static kvs_status limit_read(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_limit_source *l = limited(s);
    uint64_t left = l->pos < s->size ? s->size - l->pos : 0;
    if (len > left) len = (size_t)left;
    *got = 0;
    if (len == 0) return KVS_OK;
    kvs_status st = l->inner->ops->read(l->inner, buf, len, got, err);
    l->pos += *got;
    return st;
}

static kvs_status limit_read_at(kvs_source *s, uint64_t off, uint8_t *buf, size_t len,
                                kvs_error *err)
{
    if (off > s->size || len > s->size - off) return kvs_fail(err, KVS_ERR_TRUNCATED, "read past the payload");
    kvs_source *in = limited(s)->inner;
    return in->ops->read_at(in, off, buf, len, err);
}

static const uint8_t *limit_map(kvs_source *s, uint64_t off, size_t len)
{
    kvs_source *in = limited(s)->inner;
    return in->ops->map(in, off, len);
}

static void limit_expect(kvs_source *s, size_t unit)
{
    kvs_source *in = limited(s)->inner;
    if (in->ops->expect) in->ops->expect(in, unit);
}

/* The payload was used to its end: so was the whole input (the trailer was
 * read by position), which the inner source may check. */
static kvs_status limit_finish(kvs_source *s, uint64_t end, kvs_error *err)
{
    kvs_source *in = limited(s)->inner;
    if (end != s->size) return kvs_fail(err, KVS_ERR_INTERNAL, "the payload was not read to its end");
    return in->ops->finish ? in->ops->finish(in, in->size, err) : KVS_OK;
}

static const kvs_source_ops limit_ops = {
    .read = limit_read, .read_at = limit_read_at, .map = limit_map, .expect = limit_expect,
    .finish = limit_finish,
};

void kvs_limit_source_init(kvs_limit_source *s, kvs_source *inner, uint64_t pos, uint64_t limit)
{
    s->base.ops = &limit_ops;
    s->base.caps = inner->caps;
    s->base.size = limit;
    s->inner = inner;
    s->pos = pos;
}
