/* encrypt --share-dek: one data key for the files of one run
 * (src/cli/sharedek.c, kvs_dek_session in include/kvseal/stream.h). */
#ifndef KVS_CLI_SHAREDEK_H
#define KVS_CLI_SHAREDEK_H

#include "cli/cli.h"

enum {
    CLI_OPT_SHARE_DEK = 0x5100, /* clear of the commands' own option values */
    CLI_OPT_SHARE_DEK_MAX_FILES,
    CLI_OPT_SHARE_DEK_MAX_BYTES,
    CLI_OPT_SHARE_DEK_MAX_AGE
};

#define CLI_SHARE_DEK_ROWS                                                                 \
    {"share-dek", CLI_OPT_SHARE_DEK, NULL,                                                 \
     "one data key for all inputs of this run (each file\nstill gets its own salt): a restore of the set needs\n" \
     "one unwrap"},                                        \
        {"share-dek-max-files", CLI_OPT_SHARE_DEK_MAX_FILES, "N",                          \
         "with --share-dek: a new data key after N files\n(default 10000)"},                                                      \
        {"share-dek-max-bytes", CLI_OPT_SHARE_DEK_MAX_BYTES, "SIZE",                       \
         "... after SIZE plaintext bytes (default 64G)"},                                         \
        {"share-dek-max-age", CLI_OPT_SHARE_DEK_MAX_AGE, "T",                              \
         "... after T seconds, or with a suffix s, m, h, d\n(default 1h); each of these turns --share-dek on"}

/* Handle one of these options. Returns -1 if c is not one, else 0 or an
 * exit code after printing. */
int cli_share_dek_option(const char *cmd, int c, const char *arg);

/* With --share-dek: a session over the loaded recipients into *out (else
 * NULL). Returns 0 or an exit code after printing. */
int cli_share_dek_begin(const char *cmd, const cli_keys *keys, kvs_dek_session **out);
/* --verbose: how many data keys were drawn; frees the session. */
void cli_share_dek_end(const char *cmd, kvs_dek_session *s);

#endif
