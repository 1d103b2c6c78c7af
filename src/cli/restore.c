/* Restores at scale: unlock the inputs' headers concurrently, a bounded
 * window ahead of the (sequential) decryption, so their data keys are in a
 * cache when each file is decrypted: the Key Vault client's (which makes one
 * request per distinct wrapped key and paces itself when the vault
 * throttles), or for local keys a dekcache.c provider put in their place
 * (so RSA private-key operations use the cores). */
#define _DEFAULT_SOURCE
#include "cli/restore.h"

#include "cli/blobopts.h"
#include "cli/dekcache.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned g_concurrency = CLI_RESTORE_DEFAULT_CONCURRENCY;
static kvs_error g_notes;

struct cli_restore {
    const char *cmd;
    char *const *inputs;
    size_t n;
    kvs_provider *const *keys;
    size_t n_keys;
    kvs_decrypt_options opts; /* for unlocking ahead: no notes, no progress */
    cli_io_ops inner;         /* the wrapped job */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;     /* next input to unlock ahead */
    size_t started;  /* inputs the decryption has started */
    size_t ahead;    /* inputs unlocked ahead (--verbose) */
    int stop;
    pthread_t th[CLI_RESTORE_MAX_CONCURRENCY];
    unsigned workers;
};

int cli_restore_option(const char *cmd, int c, const char *arg)
{
    uint64_t v = 0;
    if (c != CLI_OPT_UNWRAP_CONCURRENCY) return -1;
    if (cli_parse_uint(cmd, "--unwrap-concurrency", arg, 1, CLI_RESTORE_MAX_CONCURRENCY, &v) != 0)
        return CLI_EXIT_USAGE;
    g_concurrency = (unsigned)v;
    return 0;
}

kvs_error *cli_restore_notes(void)
{
    return &g_notes;
}

/* Failures are not reported here: decryption meets them again and reports
 * them (unreachable vaults are then skipped quickly). Only regular files:
 * reading ahead from a FIFO or device would take its data. */
static void unlock_ahead(cli_restore *r, const char *path)
{
    kvs_error err;
    struct stat sb;
    if (kvs_is_blob_url(path)) { /* a blob: its header, one or two ranged Gets */
        kvs_status ahead = kvs_blob_unlock(path, cli_blob_config(), &r->opts, r->keys, r->n_keys,
                                           NULL, &err);
        (void)ahead;
        return;
    }
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        /* The result is not needed: decryption meets any failure again. */
        kvs_status ahead = kvs_unlock_fd(fd, &r->opts, r->keys, r->n_keys, NULL, &err);
        (void)ahead;
    }
    close(fd);
}

static void *worker_main(void *arg)
{
    cli_restore *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->next < r->n && r->next >= r->started + CLI_RESTORE_WINDOW)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop || r->next >= r->n) break;
        size_t i = r->next++;
        pthread_mutex_unlock(&r->mu);
        if (!cli_is_stdio(r->inputs[i])) unlock_ahead(r, r->inputs[i]);
        pthread_mutex_lock(&r->mu);
        r->ahead++;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Decryption started another input: the window moves on. */
static void window_moves(cli_restore *r)
{
    pthread_mutex_lock(&r->mu);
    r->started++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    kvs_error_clear(&g_notes);
}

static kvs_status run_fd(void *ctx, int in_fd, int out_fd, kvs_error *err)
{
    cli_restore *r = ctx;
    window_moves(r);
    return r->inner.run_fd(r->inner.ctx, in_fd, out_fd, err);
}

static kvs_status run_url(void *ctx, const char *url, int out_fd, kvs_error *err)
{
    cli_restore *r = ctx;
    window_moves(r);
    return r->inner.run_url(r->inner.ctx, url, out_fd, err);
}

/* Disaster recovery: say which recipients failed before one worked. */
static void after(void *ctx, const char *in, const char *out)
{
    cli_restore *r = ctx;
    if (g_notes.detail[0])
        cli_info(r->cmd, "%s: opened after other recipients failed: %s",
                 cli_is_stdio(in) ? "(stdin)" : in, g_notes.detail);
    kvs_error_clear(&g_notes);
    if (r->inner.after) r->inner.after(r->inner.ctx, in, out);
}

static int any_vault_key(const cli_keys *keys)
{
    for (size_t i = 0; i < keys->n; i++)
        if (kvs_keyvault_is_provider(keys->prov[i])) return 1;
    return 0;
}

/* Local keys unwrap on this machine's cores: no more workers than the
 * decryption's --threads (default: online CPUs). */
static unsigned local_workers(const kvs_decrypt_options *opts)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cap = opts->threads ? opts->threads : cpus > 0 ? (unsigned)cpus : 1;
    return g_concurrency < cap ? g_concurrency : cap;
}

/* Put a cache in front of every local key (it takes the key over). A key
 * left without one (out of memory) is still correct, only slower. */
static void cache_local_keys(cli_keys *keys)
{
    for (size_t i = 0; i < keys->n; i++) {
        if (!kvs_rsa_provider_key_id(keys->prov[i])) continue;
        kvs_provider *c = cli_dek_cache_new(keys->prov[i], CLI_RESTORE_WINDOW + CLI_RESTORE_MAX_CONCURRENCY);
        if (c) keys->prov[i] = c;
    }
}

cli_restore *cli_restore_start(const char *cmd, cli_io_ops *ops, char *const *inputs, size_t n,
                               cli_keys *keys, const kvs_decrypt_options *opts)
{
    unsigned want = n < 2 || g_concurrency < 2 ? 0
                    : any_vault_key(keys)    ? g_concurrency
                                             : local_workers(opts);
    if (want > 0) cache_local_keys(keys);
    cli_restore *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cmd = cmd;
    r->inputs = inputs;
    r->n = n;
    r->keys = keys->prov;
    r->n_keys = keys->n;
    r->opts = *opts;
    r->opts.unlock_notes = NULL;
    r->opts.progress = NULL;
    r->inner = *ops;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    ops->run_fd = run_fd;
    if (ops->run_url) ops->run_url = run_url;
    ops->after = after;
    ops->ctx = r;
    for (; r->workers < want; r->workers++)
        if (pthread_create(&r->th[r->workers], NULL, worker_main, r) != 0) break;
    return r;
}

void cli_restore_stop(cli_restore *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < r->workers; i++) pthread_join(r->th[i], NULL);
    if (g_cli.verbose && r->workers > 0)
        cli_info(r->cmd, "%zu of %zu inputs unlocked ahead of decryption, %u at a time", r->ahead,
                 r->n, r->workers);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
