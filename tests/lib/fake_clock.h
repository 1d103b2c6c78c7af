/* A virtual clock for unit tests: kvs_mono_ms / kvs_wall_s read it and
 * kvs_sleep_ms advances it at once, so back-off, Retry-After, pacing, the
 * breaker and token expiry take no real time. Thread-safe. */
#ifndef KVS_FAKE_CLOCK_H
#define KVS_FAKE_CLOCK_H

#include <stdint.h>

/* Install virtual time: monotonic starts at 1,000,000 ms, wall at wall_s. */
void fake_clock_install(int64_t wall_s);
/* Back to the real clocks. */
void fake_clock_uninstall(void);
void fake_clock_advance(int64_t ms);
int64_t fake_clock_mono_ms(void);
/* Total virtual time spent in kvs_sleep_ms since install. */
int64_t fake_clock_slept_ms(void);

#endif
