/* One data key shared by several files, within limits (kvs_dek_session). */
#define _POSIX_C_SOURCE 200809L
#include "stream/dek_session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/secmem.h"
#include "crypto/crypto.h"

struct kvs_dek_session {
    pthread_mutex_t mu;
    kvs_provider **providers; /* not owned */
    size_t n;
    kvs_dek_session_limits lim;
    uint8_t *dek;             /* secure, KVS_DEK_LEN */
    kvs_recipient *recips;    /* the DEK wrapped for each provider */
    uint64_t generation;      /* DEKs drawn so far */
    uint64_t files, bytes;    /* under the current DEK */
    int64_t drawn_ms;         /* when the current DEK was drawn */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t or_default(uint64_t v, uint64_t dflt)
{
    return v ? v : dflt;
}

/* Draw a new DEK and wrap it for every provider. */
static kvs_status draw(kvs_dek_session *s, kvs_error *err)
{
    kvs_status st = kvs_random_secret(s->dek, KVS_DEK_LEN);
    if (st != KVS_OK) return kvs_fail(err, st, "the random generator failed");
    for (size_t i = 0; i < s->n && st == KVS_OK; i++) {
        memset(&s->recips[i], 0, sizeof s->recips[i]);
        st = kvs_provider_wrap(s->providers[i], s->dek, &s->recips[i], err);
    }
    if (st != KVS_OK) {
        kvs_random_secret(s->dek, KVS_DEK_LEN); /* never reuse a half-wrapped DEK */
        s->files = UINT64_MAX;                  /* forces a new draw next time */
        return st;
    }
    s->generation++;
    s->files = s->bytes = 0;
    s->drawn_ms = now_ms();
    return KVS_OK;
}

static int exhausted(const kvs_dek_session *s)
{
    return s->files >= s->lim.max_files || s->bytes >= s->lim.max_bytes ||
           (uint64_t)(now_ms() - s->drawn_ms) / 1000u >= s->lim.max_age_s;
}

kvs_status kvs_dek_session_new(kvs_provider *const *recipients, size_t n_recipients,
                               const kvs_dek_session_limits *limits, kvs_dek_session **out,
                               kvs_error *err)
{
    *out = NULL;
    if (n_recipients < 1 || n_recipients > KVS_MAX_RECIPIENTS)
        return kvs_fail(err, KVS_ERR_USAGE, "between 1 and %d recipients are required",
                        KVS_MAX_RECIPIENTS);
    kvs_dek_session *s = calloc(1, sizeof *s);
    if (!s) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    s->n = n_recipients;
    s->lim.max_files = or_default(limits ? limits->max_files : 0, KVS_SHARE_DEK_MAX_FILES);
    s->lim.max_bytes = or_default(limits ? limits->max_bytes : 0, KVS_SHARE_DEK_MAX_BYTES);
    s->lim.max_age_s = or_default(limits ? limits->max_age_s : 0, KVS_SHARE_DEK_MAX_AGE_S);
    s->providers = calloc(n_recipients, sizeof *s->providers);
    s->recips = calloc(n_recipients, sizeof *s->recips);
    s->dek = kvs_secure_alloc(KVS_DEK_LEN);
    kvs_status st = s->providers && s->recips && s->dek
                        ? KVS_OK : kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) {
        memcpy(s->providers, recipients, n_recipients * sizeof *s->providers);
        st = draw(s, err);
    }
    if (st != KVS_OK) {
        kvs_dek_session_free(s);
        return st;
    }
    *out = s;
    return KVS_OK;
}

kvs_status kvs_dek_session_issue(kvs_dek_session *s, uint8_t dek[32], kvs_recipient **recips,
                                 size_t *n, uint64_t *generation, kvs_error *err)
{
    *recips = calloc(s->n, sizeof **recips);
    if (!*recips) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    kvs_status st = exhausted(s) ? draw(s, err) : KVS_OK;
    if (st == KVS_OK) {
        s->files++;
        memcpy(dek, s->dek, KVS_DEK_LEN);
        memcpy(*recips, s->recips, s->n * sizeof **recips);
        *n = s->n;
        *generation = s->generation;
    }
    pthread_mutex_unlock(&s->mu);
    if (st != KVS_OK) {
        free(*recips);
        *recips = NULL;
    }
    return st;
}

void kvs_dek_session_add_bytes(kvs_dek_session *s, uint64_t generation, uint64_t bytes)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    if (generation == s->generation)
        s->bytes = bytes > UINT64_MAX - s->bytes ? UINT64_MAX : s->bytes + bytes;
    pthread_mutex_unlock(&s->mu);
}

unsigned long kvs_dek_session_deks(const kvs_dek_session *s)
{
    return s ? (unsigned long)s->generation : 0;
}

void kvs_dek_session_free(kvs_dek_session *s)
{
    if (!s) return;
    kvs_secure_free(s->dek, KVS_DEK_LEN);
    free(s->recips);
    free(s->providers);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
