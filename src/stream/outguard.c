/* Outputs written out of order, and cutting them back on a signal
 * (stream/outguard.h, kvs_output_cut_on_signal).
 *
 * Protocol, all seq_cst atomics: a writer counts itself in, then checks
 * the cutting flag; the handler sets the flag, then waits until nobody but
 * itself is counted. So every write either finished before the cut or never
 * starts: none can land past the cut and leave a hole. */
#include "stream/outguard.h"

#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kvseal/envelope.h"

#define GUARD_SLOTS 16      /* outputs written concurrently in one process */
#define CUT_WAIT_MS 2000    /* longest a handler waits for writes in progress */

struct kvs_outguard {
    atomic_int fd1;             /* fd + 1; 0: free; -1: being set up */
    atomic_uint_least64_t end;  /* complete up to this file offset */
    atomic_int writers;         /* threads between enter and leave */
};

static kvs_outguard g_guards[GUARD_SLOTS];
static atomic_int g_cutting;
/* The guard this thread is writing through, so that a handler running on
 * a writing thread does not wait for itself. initial-exec: reading it in
 * a handler allocates nothing. */
static __thread kvs_outguard *t_inside __attribute__((tls_model("initial-exec")));

kvs_outguard *kvs_outguard_open(int fd, uint64_t end)
{
    for (int i = 0; fd >= 0 && i < GUARD_SLOTS; i++) {
        kvs_outguard *g = &g_guards[i];
        int free_slot = 0;
        if (!atomic_is_lock_free(&g->end)) return NULL; /* not usable in a handler */
        if (!atomic_compare_exchange_strong(&g->fd1, &free_slot, -1)) continue;
        atomic_store(&g->end, end);
        atomic_store(&g->writers, 0);
        atomic_store(&g->fd1, fd + 1);
        return g;
    }
    return NULL;
}

/* Once cutting has begun this thread only waits for the process to end. */
static void stop_for_good(kvs_outguard *g)
{
    t_inside = NULL;
    atomic_fetch_sub(&g->writers, 1);
    for (;;) pause();
}

void kvs_outguard_enter(kvs_outguard *g)
{
    if (!g) return;
    atomic_fetch_add(&g->writers, 1);
    t_inside = g; /* after counting: a handler in between waits, never misses a writer */
    if (atomic_load(&g_cutting)) stop_for_good(g);
}

void kvs_outguard_leave(kvs_outguard *g)
{
    if (!g) return;
    t_inside = NULL; /* before uncounting, for the same reason */
    atomic_fetch_sub(&g->writers, 1);
}

void kvs_outguard_complete(kvs_outguard *g, uint64_t end)
{
    if (g && end > atomic_load(&g->end)) atomic_store(&g->end, end);
}

/* Counted like a writer, so a handler never truncates an fd that its
 * owner has closed (and perhaps reused) meanwhile. */
void kvs_outguard_close(kvs_outguard *g)
{
    if (!g) return;
    atomic_fetch_add(&g->writers, 1);
    if (atomic_load(&g_cutting)) stop_for_good(g);
    atomic_store(&g->fd1, 0);
    atomic_fetch_sub(&g->writers, 1);
}

void kvs_output_cut_on_signal(void)
{
    static const struct timespec ms = {0, 1000000};
    atomic_store(&g_cutting, 1);
    for (int i = 0; i < GUARD_SLOTS; i++) {
        kvs_outguard *g = &g_guards[i];
        int self = t_inside == g;
        for (int waited = 0; waited < CUT_WAIT_MS && atomic_load(&g->writers) > self; waited++)
            nanosleep(&ms, NULL);
        int fd1 = atomic_load(&g->fd1);
        if (fd1 > 0 && ftruncate(fd1 - 1, (off_t)atomic_load(&g->end)) != 0) {
            /* nothing more a handler can do */
        }
    }
}
