/* Client-side pacing of requests to throttled vaults.
 *
 * Key Vault admits a fixed number of operations per vault per sliding 10 s
 * window and answers 429 beyond it, often without Retry-After. Backing off
 * exponentially on every 429 overshoots the window by up to 16 s and lets
 * concurrent callers hammer the vault. Instead the pacer remembers when
 * requests to each host were sent; on a 429 without Retry-After it learns the
 * window's limit as the number of its own requests the vault admitted in the
 * last 10 s, and from then on holds a request back until fewer than that many
 * were sent in the last 10 s. A Retry-After closes the host for every caller.
 * What was learned is forgotten 60 s after the last 429, so a lifted limit is
 * found again. A caller whose retries keep being throttled anyway (another
 * client shares the vault) falls back to exponential back-off. Thread-safe. */
#ifndef KVS_AZURE_PACER_H
#define KVS_AZURE_PACER_H

#include <stdint.h>

#define KVS_PACER_WINDOW_MS 10000
#define KVS_PACER_MARGIN_MS 50   /* sent this much after the window frees */
#define KVS_PACER_FORGET_MS 60000
#define KVS_PACER_RING 4096      /* requests remembered per host */
#define KVS_PACER_LEARN_TRIES 3  /* retries of one call paced by learning */

typedef struct kvs_pacer kvs_pacer;

/* NULL when out of memory. */
kvs_pacer *kvs_pacer_new(void);
void kvs_pacer_free(kvs_pacer *p);

/* Wait (at most until deadline_ms, kvs_mono_ms clock) until a request to
 * host may go, and note it as sent. Returns a ticket for kvs_pacer_done. */
uint64_t kvs_pacer_acquire(kvs_pacer *p, const char *host, int64_t deadline_ms);

/* The request's outcome. throttled: it got a 429; retry_after_ms: the delay
 * the service asked for, or -1; attempt: 0-based retry count of the call.
 * Returns how long the caller should wait before retrying a throttled
 * request (0 when kvs_pacer_acquire will hold the retry back). */
int64_t kvs_pacer_done(kvs_pacer *p, const char *host, uint64_t ticket, int throttled,
                       int64_t retry_after_ms, unsigned attempt);

/* The same two steps at an explicit time (unit tests). try returns 0 and
 * sets *ticket when the request may go now, else the milliseconds to wait. */
int64_t kvs_pacer_try(kvs_pacer *p, const char *host, int64_t now_ms, uint64_t *ticket);
int64_t kvs_pacer_done_at(kvs_pacer *p, const char *host, uint64_t ticket, int throttled,
                          int64_t retry_after_ms, unsigned attempt, int64_t now_ms);
/* The learned limit for host (0 = none). */
unsigned kvs_pacer_limit(kvs_pacer *p, const char *host);

#endif
