/* A virtual clock for unit tests (see fake_clock.h). */
#include "fake_clock.h"

#include <pthread.h>

#include "azure/clock.h"

static pthread_mutex_t fc_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t fc_mono, fc_wall0_ms, fc_slept;

static int64_t fc_mono_ms(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&fc_mu);
    int64_t v = fc_mono;
    pthread_mutex_unlock(&fc_mu);
    return v;
}

static int64_t fc_wall_s(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&fc_mu);
    int64_t v = (fc_wall0_ms + fc_mono - 1000000) / 1000;
    pthread_mutex_unlock(&fc_mu);
    return v;
}

static void fc_sleep_ms(void *ctx, int64_t ms)
{
    (void)ctx;
    pthread_mutex_lock(&fc_mu);
    fc_mono += ms;
    fc_slept += ms;
    pthread_mutex_unlock(&fc_mu);
}

static const kvs_clock fc_clock = {fc_mono_ms, fc_wall_s, fc_sleep_ms, 0};

void fake_clock_install(int64_t wall_s)
{
    pthread_mutex_lock(&fc_mu);
    fc_mono = 1000000;
    fc_wall0_ms = wall_s * 1000;
    fc_slept = 0;
    pthread_mutex_unlock(&fc_mu);
    kvs_clock_set(&fc_clock);
}

void fake_clock_uninstall(void)
{
    kvs_clock_set(0);
}

void fake_clock_advance(int64_t ms)
{
    pthread_mutex_lock(&fc_mu);
    fc_mono += ms;
    pthread_mutex_unlock(&fc_mu);
}

int64_t fake_clock_mono_ms(void)
{
    return fc_mono_ms(0);
}

int64_t fake_clock_slept_ms(void)
{
    pthread_mutex_lock(&fc_mu);
    int64_t v = fc_slept;
    pthread_mutex_unlock(&fc_mu);
    return v;
}
