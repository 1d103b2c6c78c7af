/* Client-side pacing of requests to throttled vaults (see pacer.h). */
#define _POSIX_C_SOURCE 200809L
#include "azure/pacer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/retry.h"
#include "crypto/crypto.h"

#define KVS_PACER_HOSTS 8
#define KVS_PACER_HOST_MAX 300

enum { SENT_FREE = 0, SENT_PENDING, SENT_ADMITTED, SENT_REJECTED };

typedef struct kvs_sent {
    int64_t t;    /* when it was sent */
    uint64_t seq; /* ticket; 0 = unused */
    uint8_t state;
} kvs_sent;

typedef struct kvs_pace_host {
    char host[KVS_PACER_HOST_MAX];
    int64_t last_use;
    kvs_sent *ring;        /* KVS_PACER_RING entries, by seq modulo */
    uint64_t next_seq;
    unsigned limit;        /* learned requests per window, 0 = not pacing */
    int64_t limit_at;      /* last time the limit was (re)learned */
    int64_t closed_until;  /* from Retry-After */
} kvs_pace_host;

struct kvs_pacer {
    pthread_mutex_t mu;
    kvs_pace_host hosts[KVS_PACER_HOSTS];
};

kvs_pacer *kvs_pacer_new(void)
{
    kvs_pacer *p = calloc(1, sizeof(*p));
    if (p != NULL) pthread_mutex_init(&p->mu, NULL);
    return p;
}

void kvs_pacer_free(kvs_pacer *p)
{
    if (p == NULL) return;
    for (size_t i = 0; i < KVS_PACER_HOSTS; i++) free(p->hosts[i].ring);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static kvs_pace_host *kvs_pace_find(kvs_pacer *p, const char *host)
{
    for (size_t i = 0; i < KVS_PACER_HOSTS; i++)
        if (p->hosts[i].ring != NULL && strcmp(p->hosts[i].host, host) == 0) return &p->hosts[i];
    return NULL;
}

/* The host's state, taking over the least recently used slot; NULL when
 * out of memory (then requests simply go unpaced). */
static kvs_pace_host *kvs_pace_host_get(kvs_pacer *p, const char *host, int64_t now)
{
    kvs_pace_host *h = kvs_pace_find(p, host);
    if (h == NULL) {
        h = &p->hosts[0];
        for (size_t i = 1; i < KVS_PACER_HOSTS; i++)
            if (p->hosts[i].last_use < h->last_use) h = &p->hosts[i];
        kvs_sent *ring = h->ring ? h->ring : calloc(KVS_PACER_RING, sizeof(kvs_sent));
        if (ring == NULL) return NULL;
        memset(h, 0, sizeof(*h));
        memset(ring, 0, KVS_PACER_RING * sizeof(kvs_sent));
        h->ring = ring;
        h->next_seq = 1;
        snprintf(h->host, sizeof(h->host), "%s", host);
    }
    h->last_use = now;
    return h;
}

/* Requests in the window ending at now whose state passes want (pending and
 * admitted for pacing, admitted only for learning); *oldest gets the
 * earliest send time among them. */
static unsigned kvs_pace_count(const kvs_pace_host *h, int64_t now, int admitted_only,
                               int64_t *oldest)
{
    unsigned n = 0;
    *oldest = now;
    for (size_t i = 0; i < KVS_PACER_RING; i++) {
        const kvs_sent *s = &h->ring[i];
        if (s->seq == 0 || s->t <= now - KVS_PACER_WINDOW_MS) continue;
        if (s->state == SENT_ADMITTED || (!admitted_only && s->state == SENT_PENDING)) {
            n++;
            if (s->t < *oldest) *oldest = s->t;
        }
    }
    return n;
}

/* Milliseconds until h admits another request under what was learned. */
static int64_t kvs_pace_wait(kvs_pace_host *h, int64_t now)
{
    if (h->limit && now - h->limit_at > KVS_PACER_FORGET_MS) h->limit = 0;
    if (h->closed_until > now) return h->closed_until - now;
    if (h->limit == 0) return 0;
    int64_t oldest;
    if (kvs_pace_count(h, now, 0, &oldest) < h->limit) return 0;
    int64_t w = oldest + KVS_PACER_WINDOW_MS + KVS_PACER_MARGIN_MS - now;
    return w > 0 ? w : 1;
}

static uint64_t kvs_pace_note(kvs_pace_host *h, int64_t now)
{
    uint64_t seq = h->next_seq++;
    kvs_sent *s = &h->ring[seq % KVS_PACER_RING];
    s->t = now;
    s->seq = seq;
    s->state = SENT_PENDING;
    return seq;
}

int64_t kvs_pacer_try(kvs_pacer *p, const char *host, int64_t now_ms, uint64_t *ticket)
{
    *ticket = 0;
    if (p == NULL) return 0;
    pthread_mutex_lock(&p->mu);
    kvs_pace_host *h = kvs_pace_host_get(p, host, now_ms);
    int64_t wait = h ? kvs_pace_wait(h, now_ms) : 0;
    if (h != NULL && wait == 0) *ticket = kvs_pace_note(h, now_ms);
    pthread_mutex_unlock(&p->mu);
    return wait;
}

uint64_t kvs_pacer_acquire(kvs_pacer *p, const char *host, int64_t deadline_ms)
{
    uint64_t ticket = 0;
    for (;;) {
        int64_t now = kvs_mono_ms();
        int64_t wait = kvs_pacer_try(p, host, now, &ticket);
        if (wait == 0) return ticket;
        if (now >= deadline_ms) return 0; /* out of time: go unpaced, fail on its own */
        kvs_sleep_ms(now + wait > deadline_ms ? deadline_ms - now : wait);
    }
}

static uint32_t kvs_pace_jitter(void)
{
    uint8_t b[4] = {0, 0, 0, 0};
    (void)kvs_random_public(b, sizeof(b));
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A 429: close the host for Retry-After, else learn the window's limit. */
static int64_t kvs_pace_throttled(kvs_pace_host *h, int64_t retry_after_ms, unsigned attempt,
                                  int64_t now)
{
    if (retry_after_ms >= 0) {
        if (now + retry_after_ms > h->closed_until) h->closed_until = now + retry_after_ms;
        return retry_after_ms;
    }
    int64_t oldest;
    unsigned admitted = kvs_pace_count(h, now, 1, &oldest);
    if (admitted == 0 || attempt >= KVS_PACER_LEARN_TRIES)
        return kvs_backoff_ms(attempt, kvs_pace_jitter()); /* nothing to learn from */
    if (h->limit == 0 || admitted < h->limit) h->limit = admitted;
    h->limit_at = now;
    return 0;
}

int64_t kvs_pacer_done_at(kvs_pacer *p, const char *host, uint64_t ticket, int throttled,
                          int64_t retry_after_ms, unsigned attempt, int64_t now_ms)
{
    if (p == NULL) return throttled ? kvs_backoff_ms(attempt, kvs_pace_jitter()) : 0;
    int64_t delay = 0;
    pthread_mutex_lock(&p->mu);
    kvs_pace_host *h = kvs_pace_find(p, host);
    kvs_sent *s = h && ticket ? &h->ring[ticket % KVS_PACER_RING] : NULL;
    if (s != NULL && s->seq == ticket) s->state = throttled ? SENT_REJECTED : SENT_ADMITTED;
    if (throttled)
        delay = h ? kvs_pace_throttled(h, retry_after_ms, attempt, now_ms)
                  : (retry_after_ms >= 0 ? retry_after_ms
                                         : kvs_backoff_ms(attempt, kvs_pace_jitter()));
    pthread_mutex_unlock(&p->mu);
    return delay;
}

int64_t kvs_pacer_done(kvs_pacer *p, const char *host, uint64_t ticket, int throttled,
                       int64_t retry_after_ms, unsigned attempt)
{
    return kvs_pacer_done_at(p, host, ticket, throttled, retry_after_ms, attempt, kvs_mono_ms());
}

unsigned kvs_pacer_limit(kvs_pacer *p, const char *host)
{
    pthread_mutex_lock(&p->mu);
    kvs_pace_host *h = kvs_pace_find(p, host);
    unsigned n = h ? h->limit : 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}
