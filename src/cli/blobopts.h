/* Blob Storage options of the command-line tool (src/cli/blobopts.c): how
 * a blob URL given as input or output is reached. */
#ifndef KVS_CLI_BLOBOPTS_H
#define KVS_CLI_BLOBOPTS_H

#include "cli/cli.h"

enum {
    CLI_OPT_BLOB_CREDENTIAL = 0x4200, /* clear of the commands' own option values */
    CLI_OPT_BLOB_SAS_FILE,
    CLI_OPT_BLOB_PARALLEL
};

#define CLI_BLOB_ROWS                                                                      \
    {"blob-credential", CLI_OPT_BLOB_CREDENTIAL, "NAME",                                   \
     "Blob Storage credential: auto (default), entra, sas,\nshared-key"},                  \
        {"sas-file", CLI_OPT_BLOB_SAS_FILE, "F",                                           \
         "Blob Storage: the SAS token, from owner-only file F"},                           \
        {"blob-parallel", CLI_OPT_BLOB_PARALLEL, "N",                                      \
         "Blob Storage: requests in flight per blob (1-32,\ndefault 4)"}

/* Handle one Blob Storage option. Returns -1 if c is not one, else 0 or an
 * exit code after printing. */
int cli_blob_option(const char *cmd, int c, const char *arg);

/* Refuse a blob URL with a query or user info (a SAS token or a password
 * there would sit in argv and in every message naming the blob); other text
 * passes. Returns 0 or CLI_EXIT_USAGE after printing, without echoing the
 * URL. */
int cli_blob_url_check(const char *cmd, const char *text);

/* Whether text is a container or prefix URL: a blob URL ending in '/'. */
int cli_is_blob_prefix(const char *text);

/* PREFIX (a blob prefix URL, ending in '/') + NAME percent-encoded (every
 * byte but A-Z a-z 0-9 - . _ ~) + SUFFIX into buf: the blob URL of a local
 * file named NAME. Returns 0, or -1 if it does not fit. */
int cli_blob_join(const char *prefix, const char *name, const char *suffix, char *buf,
                  size_t cap);

/* Inputs with every container or prefix URL replaced by the blobs under it
 * (kvs_blob_list, in name order). rel[i] is the blob's name below the
 * prefix for those, NULL for inputs given as they are. */
typedef struct cli_blob_inputs {
    char **inputs;
    char **rel;
    size_t n;
} cli_blob_inputs;

/* Expand inputs into out. Returns 0, or an exit code after printing (a
 * listing that failed; a prefix with no blob under it is CLI_EXIT_IO). */
int cli_blob_expand(const char *cmd, char *const *inputs, size_t n, cli_blob_inputs *out);
void cli_blob_inputs_free(cli_blob_inputs *b);

/* The configuration the options set. */
const kvs_blob_config *cli_blob_config(void);

#endif
