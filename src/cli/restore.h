/* decrypt of many files: concurrent unwraps ahead of the decryption
 * (--unwrap-concurrency), and reporting of recipients that failed before
 * one worked (src/cli/restore.c). */
#ifndef KVS_CLI_RESTORE_H
#define KVS_CLI_RESTORE_H

#include "cli/cli.h"

enum { CLI_OPT_UNWRAP_CONCURRENCY = 0x5200 }; /* clear of other option values */

#define CLI_RESTORE_DEFAULT_CONCURRENCY 4
#define CLI_RESTORE_MAX_CONCURRENCY 16 /* the Key Vault client's connections */
#define CLI_RESTORE_WINDOW 256         /* files unlocked ahead of decryption */

#define CLI_RESTORE_ROWS                                                                   \
    {"unwrap-concurrency", CLI_OPT_UNWRAP_CONCURRENCY, "N",                                \
     "with several inputs, unwrap up to N data keys at\nonce ahead of decryption (1 to 16, default 4; 1 = one\n" \
     "at a time, as each file is decrypted; local keys: at\nmost --threads or the online CPUs)"}

/* Returns -1 if c is not this option, else 0 or an exit code after printing. */
int cli_restore_option(const char *cmd, int c, const char *arg);

/* Where decryption options put the failures of recipients tried before
 * the one that opened a file (kvs_decrypt_options.unlock_notes). */
kvs_error *cli_restore_notes(void);

typedef struct cli_restore cli_restore;

/* Wrap ops (in place) for a run over inputs: the inputs' data keys are
 * unwrapped concurrently ahead of the run when that can help (several
 * inputs, concurrency > 1; with only local keys, at most opts->threads or
 * the online CPUs at once), and after each file a line names the
 * recipients that failed before one worked. Local keys in keys are then
 * replaced by caching providers (dekcache.h) that own them. NULL only when
 * out of memory (ops then stay as they were). */
cli_restore *cli_restore_start(const char *cmd, cli_io_ops *ops, char *const *inputs, size_t n,
                               cli_keys *keys, const kvs_decrypt_options *opts);
/* Stop the workers; NULL is a no-op. */
void cli_restore_stop(cli_restore *r);

#endif
