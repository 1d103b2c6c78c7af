/* The chunk planner (FORMAT.md §6) and the engine's two modes over it: the
 * limit of 2^32 chunks is checked at the boundary without sealing 2^32
 * chunks, through the planner directly and through the engine with a
 * lowered limit, where input of known size (direct mode) and of unknown
 * size (ring mode) must give the same answer and the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "kvseal/header.h"
#include "stream/chunk_plan.h"
#include "stream/engine.h"
#include "stream/io_mem.h"
#include "testutil.h"

#define C 4096u
#define S (C + 16u)
#define MAX KVS_MAX_CHUNKS

static kvs_chunk_plan plan(int sealing)
{
    kvs_chunk_plan p;
    kvs_chunk_plan_init(&p, C, sealing);
    return p;
}

START_TEST(sized_plan_allows_exactly_2_32_chunks)
{
    kvs_error err = {0};
    kvs_chunk_plan p = plan(1);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, MAX * C, &err), KVS_OK);
    ck_assert_uint_eq(p.total, MAX);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, MAX * C + 1, &err), KVS_ERR_LIMIT);
    ck_assert_str_eq(err.detail, "more than 2^32 chunks");
    p = plan(0);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, MAX * S, &err), KVS_OK);
    ck_assert_uint_eq(p.total, MAX);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, MAX * S + 17, &err), KVS_ERR_FORMAT);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, (MAX - 1) * S + 17, &err), KVS_OK);
}
END_TEST

/* Input of unknown length: chunk 2^32 - 1 read full may be the last (the
 * next read is empty), but not be followed by more. */
START_TEST(streaming_plan_allows_exactly_2_32_chunks)
{
    kvs_error err = {0};
    int final = -1;
    for (int sealing = 0; sealing <= 1; sealing++) {
        kvs_chunk_plan p = plan(sealing);
        ck_assert_int_eq(kvs_chunk_plan_after_full(&p, MAX - 1, 0, &final, &err), KVS_OK);
        ck_assert_int_eq(final, 1);
        ck_assert_int_eq(kvs_chunk_plan_after_full(&p, MAX - 2, 1, &final, &err), KVS_OK);
        ck_assert_int_eq(final, 0);
        ck_assert_int_eq(kvs_chunk_plan_after_full(&p, MAX - 1, 1, &final, &err),
                         sealing ? KVS_ERR_LIMIT : KVS_ERR_FORMAT);
    }
}
END_TEST

/* Replay what a reader of unknown-length input decides, chunk by chunk (a
 * chunk counter), for every length around a lowered limit: it accepts
 * exactly the lengths the sized plan accepts, with the same chunk count. */
START_TEST(streaming_and_sized_plans_agree)
{
    for (int sealing = 0; sealing <= 1; sealing++) {
        for (uint64_t max = 1; max <= 4; max++) {
            kvs_chunk_plan p = plan(sealing);
            p.max_chunks = max;
            size_t unit = kvs_chunk_plan_in_unit(&p);
            for (uint64_t len = 0; len <= (max + 1) * unit + 1; len++) {
                kvs_error err = {0};
                kvs_chunk_plan sized = p;
                kvs_status want = kvs_chunk_plan_sized(&sized, len, &err);
                kvs_status got = KVS_OK;
                uint64_t chunks = 0, i = 0;
                for (uint64_t left = len;; i++) {
                    if (left < unit) { /* a short read: the final chunk */
                        chunks = i + 1;
                        break;
                    }
                    int final = 0;
                    left -= unit;
                    got = kvs_chunk_plan_after_full(&p, i, left < unit ? (size_t)left : unit,
                                                    &final, &err);
                    if (got != KVS_OK || final) {
                        chunks = i + 1;
                        break;
                    }
                }
                ck_assert_msg(got == want, "sealing %d, max %llu, len %llu: %d vs %d", sealing,
                              (unsigned long long)max, (unsigned long long)len, got, want);
                if (want == KVS_OK) ck_assert_uint_eq(chunks, sized.total);
            }
        }
    }
}
END_TEST

START_TEST(geometry)
{
    kvs_error err = {0};
    kvs_chunk_plan p = plan(1);
    size_t len = 0;
    int final = 0;
    p.in_base = 7;
    p.out_base = 100;
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, 2 * C + 5, &err), KVS_OK);
    ck_assert_uint_eq(p.total, 3);
    kvs_chunk_plan_chunk(&p, 1, &len, &final);
    ck_assert_uint_eq(len, C);
    ck_assert_int_eq(final, 0);
    kvs_chunk_plan_chunk(&p, 2, &len, &final);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(final, 1);
    ck_assert_uint_eq(kvs_chunk_plan_in_offset(&p, 2), 7 + 2 * C);
    ck_assert_uint_eq(kvs_chunk_plan_out_offset(&p, 2), 100 + 2 * S);
    ck_assert_uint_eq(kvs_chunk_plan_out_len(&p, 5), 21);
    ck_assert_uint_eq(kvs_chunk_plan_out_total(&p), 2 * C + 5 + 3 * 16);
    ck_assert_uint_eq(kvs_chunk_plan_prefix_end(&p, 2), 100 + 2 * S);
    /* an empty input still has its empty final chunk */
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, 0, &err), KVS_OK);
    ck_assert_uint_eq(p.total, 1);
    kvs_chunk_plan_chunk(&p, 0, &len, &final);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(final, 1);
    /* a payload that is a multiple of the chunk size ends with a full chunk */
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, 2 * C, &err), KVS_OK);
    ck_assert_uint_eq(p.total, 2);
    p = plan(0);
    ck_assert_uint_eq(kvs_chunk_plan_out_len(&p, S), C);
    ck_assert_int_eq(kvs_chunk_plan_sized(&p, 2 * S + 16 + 3, &err), KVS_OK);
    ck_assert_uint_eq(kvs_chunk_plan_out_total(&p), 2 * C + 3);
    ck_assert_uint_eq(kvs_chunk_plaintext_span(2 * S + 15, C), 2 * C); /* a cut tag gives nothing */
    ck_assert_uint_eq(kvs_chunk_plaintext_span(0, C), 0);
}
END_TEST

START_TEST(last_chunk_rules)
{
    kvs_error err = {0};
    ck_assert_int_eq(kvs_chunk_check_last(0, 0, &err), KVS_ERR_TRUNCATED);
    ck_assert_str_eq(err.detail, "truncated file: it ends before its first chunk");
    ck_assert_int_eq(kvs_chunk_check_last(15, 3, &err), KVS_ERR_TRUNCATED);
    ck_assert_str_eq(err.detail, "truncated file: chunk 3 is shorter than its 16-byte tag");
    ck_assert_int_eq(kvs_chunk_check_last(16, 2, &err), KVS_ERR_FORMAT);
    ck_assert_str_eq(err.detail, "malformed payload: empty final chunk after 2 chunks");
    ck_assert_int_eq(kvs_chunk_check_last(16, 0, &err), KVS_OK);
    ck_assert_int_eq(kvs_chunk_check_last(17, 5, &err), KVS_OK);
}
END_TEST

/* ---- the engine at a lowered limit -------------------------------------- */

/* A source that only reads in order and does not know its size, as a pipe:
 * the engine must run its ring over it. */
typedef struct stream_source {
    kvs_source base;
    const uint8_t *bytes;
    size_t len, pos;
} stream_source;

static kvs_status stream_read(kvs_source *s, uint8_t *buf, size_t len, size_t *got, kvs_error *err)
{
    stream_source *m = (stream_source *)s;
    (void)err;
    *got = m->len - m->pos < len ? m->len - m->pos : len;
    if (*got) memcpy(buf, m->bytes + m->pos, *got);
    m->pos += *got;
    return KVS_OK;
}

static const kvs_source_ops stream_ops = {.read = stream_read};

static const uint8_t payload_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

/* Seal (or open) len bytes of in with the engine, limited to max chunks,
 * from a sized source (ring = 0) or a streaming one; out gets the output. */
static kvs_status transfer(int sealing, int ring, const uint8_t *in, size_t len, uint64_t max,
                           uint8_t *out, size_t cap, uint64_t *out_len, kvs_error *err)
{
    kvs_mem_source sized;
    stream_source streamed = {{&stream_ops, 0, KVS_IO_SIZE_UNKNOWN}, in, len, 0};
    kvs_mem_sink sink;
    kvs_engine_result res;
    kvs_mem_source_init(&sized, in, len);
    kvs_mem_sink_init(&sink, out, cap, !sealing);
    kvs_engine_job job = {.key = payload_key, .in = ring ? &streamed.base : &sized.base,
                          .out = &sink.base, .threads = 2};
    kvs_chunk_plan_init(&job.plan, C, sealing);
    job.plan.max_chunks = max;
    kvs_status st = kvs_engine_transfer(&job, &res, err);
    *out_len = res.out_len;
    return st;
}

START_TEST(engine_modes_agree_at_the_limit)
{
    size_t n = 4 * C + 1;
    uint8_t *pt = malloc(n), *ct[2], *back = malloc(n + 1);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 5);
    ct[0] = malloc(5 * S);
    ct[1] = malloc(5 * S);
    for (size_t len = 3 * C - 1; len <= 3 * C + 1; len++) {
        uint64_t got[2] = {0, 0}, m = 0;
        kvs_status want = len <= 3 * C ? KVS_OK : KVS_ERR_LIMIT;
        for (int ring = 0; ring <= 1; ring++) {
            kvs_error err = {0};
            kvs_status st = transfer(1, ring, pt, len, 3, ct[ring], 5 * S, &got[ring], &err);
            ck_assert_msg(st == want, "seal %zu bytes, ring %d: %d (%s)", len, ring, st, err.detail);
            if (st != KVS_OK) ck_assert_str_eq(err.detail, "more than 2^32 chunks");
        }
        if (want != KVS_OK) continue;
        /* one code path: the same nonces, flags and bytes either way */
        ck_assert_uint_eq(got[0], got[1]);
        ck_assert_mem_eq(ct[0], ct[1], got[0]);
        for (int ring = 0; ring <= 1; ring++) {
            kvs_error err = {0};
            ck_assert_int_eq(transfer(0, ring, ct[0], got[0], 3, back, n, &m, &err), KVS_OK);
            ck_assert_uint_eq(m, len);
            ck_assert_mem_eq(back, pt, len);
        }
    }
    /* a payload of 4 chunks opened under a limit of 3: malformed either way */
    uint64_t four = 0, m = 0;
    kvs_error err = {0};
    ck_assert_int_eq(transfer(1, 0, pt, 3 * C + 1, 4, ct[0], 5 * S, &four, &err), KVS_OK);
    for (int ring = 0; ring <= 1; ring++) {
        ck_assert_int_eq(transfer(0, ring, ct[0], four, 3, back, n, &m, &err), KVS_ERR_FORMAT);
        ck_assert_str_eq(err.detail, "more than 2^32 chunks");
    }
    free(ct[0]);
    free(ct[1]);
    free(back);
    free(pt);
}
END_TEST

static Suite *chunk_plan_suite(void)
{
    Suite *s = suite_create("chunk_plan");
    TCase *tc = tcase_create("chunk_plan");
    tcase_add_test(tc, sized_plan_allows_exactly_2_32_chunks);
    tcase_add_test(tc, streaming_plan_allows_exactly_2_32_chunks);
    tcase_add_test(tc, streaming_and_sized_plans_agree);
    tcase_add_test(tc, geometry);
    tcase_add_test(tc, last_chunk_rules);
    tcase_add_test(tc, engine_modes_agree_at_the_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(chunk_plan_suite());
}
