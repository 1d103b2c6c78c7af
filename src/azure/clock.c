/* The clocks under the Key Vault client (see clock.h). */
#define _POSIX_C_SOURCE 200809L
#include "azure/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

static int64_t kvs_real_mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t kvs_real_wall_s(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

static void kvs_real_sleep_ms(void *ctx, int64_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms % 1000) * 1000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const kvs_clock kvs_real_clock = {kvs_real_mono_ms, kvs_real_wall_s, kvs_real_sleep_ms,
                                         NULL};

/* NULL means the real clock; an atomic pointer keeps readers on other
 * threads from seeing a torn value. */
static _Atomic(const kvs_clock *) kvs_clock_now = NULL;

static const kvs_clock *kvs_clock_get(void)
{
    const kvs_clock *c = atomic_load_explicit(&kvs_clock_now, memory_order_acquire);
    return c != NULL ? c : &kvs_real_clock;
}

void kvs_clock_set(const kvs_clock *clk)
{
    atomic_store_explicit(&kvs_clock_now, clk, memory_order_release);
}

int64_t kvs_mono_ms(void)
{
    const kvs_clock *c = kvs_clock_get();
    return c->mono_ms(c->ctx);
}

int64_t kvs_wall_s(void)
{
    const kvs_clock *c = kvs_clock_get();
    return c->wall_s(c->ctx);
}

void kvs_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    const kvs_clock *c = kvs_clock_get();
    c->sleep_ms(c->ctx, ms);
}
