/* The clocks under the Key Vault client: monotonic milliseconds for
 * deadlines and pacing, wall seconds for token expiry and Retry-After dates,
 * and sleeping for back-off.
 *
 * Production uses the real clocks. A test installs a clock of its own
 * (typically virtual time whose sleep only advances the time) so retry,
 * pacing, breaker and token expiry run in milliseconds of real time. */
#ifndef KVS_AZURE_CLOCK_H
#define KVS_AZURE_CLOCK_H

#include <stdint.h>

typedef struct kvs_clock {
    int64_t (*mono_ms)(void *ctx);
    int64_t (*wall_s)(void *ctx);
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
} kvs_clock;

/* Milliseconds on a monotonic clock. */
int64_t kvs_mono_ms(void);
/* Seconds since the epoch (wall clock). */
int64_t kvs_wall_s(void);
/* Sleep ms milliseconds (nothing for ms <= 0). */
void kvs_sleep_ms(int64_t ms);

/* Make every kvs_mono_ms / kvs_wall_s / kvs_sleep_ms go to clk (which must
 * outlive its use); NULL restores the real clocks. The switch itself is
 * atomic, but install it before the code under test starts its threads. */
void kvs_clock_set(const kvs_clock *clk);

#endif
