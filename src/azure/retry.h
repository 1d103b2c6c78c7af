/* Retry policy pieces: which failures are retried, Retry-After, back-off,
 * and the deadline that bounds one operation. */
#ifndef KVS_AZURE_RETRY_H
#define KVS_AZURE_RETRY_H

#include <stdint.h>

#include "azure/clock.h" /* kvs_mono_ms, kvs_wall_s, kvs_sleep_ms */

/* 1 for 408, 429, 500, 502, 503, 504 (and 404/410 for IMDS when imds is set). */
int kvs_retryable_status(long status, int imds);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 or asctime form) to epoch seconds.
 * Returns 0 or -1. */
int kvs_http_date_parse(const char *s, int64_t *epoch);

/* Retry-After value: delta-seconds or an HTTP-date (relative to now_epoch;
 * a date in the past gives 0). Sets *delay_ms (at most one day). Returns 0, or
 * -1 when the value is not understood. */
int kvs_retry_after_parse(const char *value, int64_t now_epoch, int64_t *delay_ms);

/* "retry-after-ms" / "x-ms-retry-after-ms": milliseconds. Returns 0 or -1. */
int kvs_retry_after_ms_parse(const char *value, int64_t *delay_ms);

/* Exponential back-off for retry number attempt (0-based): about 1, 2, 4, 8,
 * 16 s (capped at 16 s), times a jitter factor in [0.8, 1.2) taken from rnd. */
int64_t kvs_backoff_ms(unsigned attempt, uint32_t rnd);

/* Parse a decimal seconds count ("12"), no sign, at most 10 digits.
 * Returns 0 or -1. */
int kvs_parse_seconds(const char *s, int64_t *out);

#endif
