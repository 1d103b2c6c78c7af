/* Caller memory as the engine's source and sink: mapped, so chunks are
 * sealed and opened straight from one buffer to the other, with no copies
 * and no buffers of the engine's own. */
#include <openssl/crypto.h>
#include <string.h>

#include "core/error.h"
#include "stream/io_mem.h"

/* Where an empty source's bytes are: a NULL buffer of length 0 is valid
 * input, and pointer arithmetic on NULL is not. */
static const uint8_t no_bytes[1];

/* ---- source ------------------------------------------------------------- */

static kvs_mem_source *mem_source(kvs_source *s)
{
    return (kvs_mem_source *)s;
}

static const uint8_t *mem_map_in(kvs_source *s, uint64_t off, size_t len)
{
    (void)len;
    return mem_source(s)->bytes ? mem_source(s)->bytes + off : no_bytes;
}

static kvs_status mem_read(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    kvs_mem_source *m = mem_source(s);
    uint64_t left = s->size - m->pos;
    (void)err;
    *got = left < len ? (size_t)left : len;
    if (*got) memcpy(buf, m->bytes + m->pos, *got);
    m->pos += *got;
    return KVS_OK;
}

static kvs_status mem_read_at(kvs_source *s, uint64_t off, uint8_t *buf, size_t len,
                              kvs_error *err)
{
    if (off > s->size || len > s->size - off)
        return kvs_fail(err, KVS_ERR_TRUNCATED, "truncated file: it is shorter than its chunks require");
    if (len) memcpy(buf, mem_map_in(s, off, len), len);
    return KVS_OK;
}

static kvs_status mem_finish(kvs_source *s, uint64_t end, kvs_error *err)
{
    (void)err;
    mem_source(s)->pos = end;
    return KVS_OK;
}

static const kvs_source_ops mem_source_ops = {
    .read = mem_read, .read_at = mem_read_at, .map = mem_map_in, .finish = mem_finish,
};

void kvs_mem_source_init(kvs_mem_source *s, const void *bytes, size_t len)
{
    *s = (kvs_mem_source){.base = {&mem_source_ops, KVS_IO_POSITIONAL | KVS_IO_MAPPED, len},
                          .bytes = bytes};
}

/* ---- sink --------------------------------------------------------------- */

static kvs_mem_sink *mem_sink(kvs_sink *s)
{
    return (kvs_mem_sink *)s;
}

static kvs_status too_small(uint64_t needed, kvs_error *err)
{
    return kvs_fail(err, KVS_ERR_USAGE, "output buffer too small: %llu bytes needed",
                    (unsigned long long)needed);
}

static kvs_status mem_start(kvs_sink *s, const kvs_sink_shape *shape, kvs_error *err)
{
    kvs_mem_sink *m = mem_sink(s);
    if (shape->total != KVS_IO_SIZE_UNKNOWN && shape->total > m->cap)
        return too_small(shape->total, err);
    m->extent = shape->total == KVS_IO_SIZE_UNKNOWN ? m->cap : shape->total;
    return KVS_OK;
}

static kvs_status mem_write_at(kvs_sink *s, uint64_t off, const uint8_t *buf, size_t len,
                               kvs_error *err)
{
    kvs_mem_sink *m = mem_sink(s);
    if (off > m->cap || len > m->cap - off) return too_small(off + len, err);
    if (len) memcpy(m->bytes + off, buf, len);
    return KVS_OK;
}

static kvs_status mem_write(kvs_sink *s, const uint8_t *buf, size_t len, kvs_error *err)
{
    kvs_status st = mem_write_at(s, mem_sink(s)->pos, buf, len, err);
    if (st == KVS_OK) mem_sink(s)->pos += len;
    return st;
}

static uint8_t *mem_map_out(kvs_sink *s, uint64_t off, size_t len)
{
    (void)len;
    return mem_sink(s)->bytes + off;
}

/* All or nothing: no unverified or partial plaintext is left behind. */
static void mem_abort(kvs_sink *s, uint64_t keep)
{
    kvs_mem_sink *m = mem_sink(s);
    (void)keep;
    if (m->secret && m->extent) OPENSSL_cleanse(m->bytes, (size_t)m->extent);
}

static const kvs_sink_ops mem_sink_ops = {
    .start = mem_start, .write = mem_write, .write_at = mem_write_at, .map = mem_map_out,
    .abort = mem_abort,
};

void kvs_mem_sink_init(kvs_mem_sink *s, void *bytes, size_t cap, int secret)
{
    *s = (kvs_mem_sink){.base = {&mem_sink_ops, KVS_IO_POSITIONAL | KVS_IO_MAPPED},
                        .bytes = bytes, .cap = cap, .secret = secret};
}
