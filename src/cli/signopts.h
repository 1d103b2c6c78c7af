/* Signing options of the command-line tool (src/cli/signopts.c): --sign and
 * --sign-alg (encrypt), --require-signer (decrypt, verify, audit). */
#ifndef KVS_CLI_SIGNOPTS_H
#define KVS_CLI_SIGNOPTS_H

#include "cli/cli.h"

enum {
    CLI_OPT_SIGN = 0x5400, /* clear of the commands' own option values */
    CLI_OPT_SIGN_ALG,
    CLI_OPT_REQUIRE_SIGNER
};

#define CLI_SIGN_ROWS                                                                      \
    {"sign", CLI_OPT_SIGN, "KEY",                                                          \
     "sign the output with KEY: a private key PEM file (EC\n"                              \
     "P-256/P-384, or RSA of 3072 bits or more) or a Key\n"                                \
     "Vault key URL allowing sign; never a recipient's key"},                              \
        {"sign-alg", CLI_OPT_SIGN_ALG, "ALG",                                              \
         "... with ALG: ES256, ES384, PS256, PS384 or PS512\n(default: ES256 for P-256, "  \
         "ES384 for P-384,\nPS256 for RSA)"}

/* help differs per command: each passes its own text */
#define CLI_REQUIRE_SIGNER_ROW(help) {"require-signer", CLI_OPT_REQUIRE_SIGNER, "KEY", help}

typedef struct cli_sign_opts {
    const char *sign;     /* --sign */
    const char *sign_alg; /* --sign-alg */
    const char *require;  /* --require-signer */
} cli_sign_opts;

/* Handle one signing option. Returns -1 if c is not one, else 0 or an exit
 * code after printing. */
int cli_sign_option(const char *cmd, int c, const char *arg, cli_sign_opts *o);

/* encrypt, before any key is loaded: --sign-alg needs --sign, and a Key
 * Vault key named both by --sign and by a recipient's URL (any version) is
 * refused (exit 1, key separation). Returns 0 or an exit code after
 * printing. */
int cli_signer_precheck(const char *cmd, const cli_sign_opts *o, const cli_keys *recipients);

/* encrypt: the one signer of the run (NULL in *out without --sign), made
 * after the recipients are loaded: a key that is also a recipient is
 * refused (exit 1, key separation). Returns 0 or an exit code after
 * printing. */
int cli_signer_load(const char *cmd, const cli_sign_opts *o, const cli_keys *recipients,
                    kvs_signer **out);

/* decrypt, verify, audit: the required signer (NULL in *out without
 * --require-signer). Returns 0 or an exit code after printing. */
int cli_signer_check_load(const char *cmd, const cli_sign_opts *o, kvs_signer_check **out);

/* decrypt under --require-signer: plaintext from an input that cannot be
 * read twice (a pipe, a FIFO, a terminal) may only go to a file, which
 * appears once the trailer verified. Refuses (exit 1, before anything is
 * read) such an input with standard output, a device or a FIFO as output.
 * n == 0: standard input. */
int cli_require_signer_io_check(const char *cmd, char *const *inputs, size_t n,
                                const char *out);

#endif
