/* kvseal keygen: a new local RSA private key (PEM, mode 0600). */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *const CMD = "keygen";

enum { OPT_BITS = CLI_OPT_LONG_ONLY, OPT_PUBLIC_OUT, OPT_PASS_FILE, OPT_PASS_ENV };

static const cli_opt options[] = {
    {"output", 'o', "FILE", "the new private key file (required)"},
    {"bits", OPT_BITS, "N", "key size: 2048, 3072 or 4096 (default 4096)"},
    {"public-out", OPT_PUBLIC_OUT, "PUB",
     "also write the public key (a new PEM file, 0644),\nto give to whoever encrypts for you (-r PUB)"},
    {"passphrase-file", OPT_PASS_FILE, "F", "encrypt the key with the passphrase in file F"},
    {"passphrase-env", OPT_PASS_ENV, "NAME", "... in environment variable NAME"},
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_keygen = {
    .name = "keygen",
    .synopsis = "kvseal keygen [--bits 2048|3072|4096] [passphrase option]\n"
                "              [--public-out PUB] -o FILE",
    .about = "Generate an RSA private key into the new PEM file FILE (mode 0600). An\n"
             "existing FILE is never replaced. The key id (as shown by inspect) is printed.",
    .opts = options,
    .notes = NULL,
};

typedef struct keygen_args {
    const char *out;
    const char *public_out;
    const char *pass_file;
    const char *pass_env;
    unsigned bits;
} keygen_args;

static int parse_bits(const char *arg, unsigned *bits)
{
    uint64_t v = 0;
    if (cli_parse_uint(CMD, "--bits", arg, 2048, 4096, &v) != 0)
        return CLI_EXIT_USAGE;
    if (v != 2048 && v != 3072 && v != 4096)
        return cli_error(CMD, CLI_EXIT_USAGE, "--bits: must be 2048, 3072 or 4096");
    *bits = (unsigned)v;
    return 0;
}

static int parse_option(int c, const char *arg, void *ctx)
{
    keygen_args *a = ctx;
    switch (c) {
    case 'o':
        a->out = arg;
        return 0;
    case OPT_BITS:
        return parse_bits(arg, &a->bits);
    case OPT_PUBLIC_OUT:
        a->public_out = arg;
        return 0;
    case OPT_PASS_FILE:
        a->pass_file = arg;
        return 0;
    case OPT_PASS_ENV:
        a->pass_env = arg;
        return 0;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, keygen_args *a)
{
    int rc = cli_parse(&cli_spec_keygen, argc, argv, parse_option, a);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_error(CMD, CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!a->out)
        return cli_error(CMD, CLI_EXIT_USAGE, "no output file given (-o FILE)");
    if (cli_is_stdio(a->out))
        return cli_error(CMD, CLI_EXIT_USAGE, "a private key is never written to standard output");
    if (a->public_out && (cli_is_stdio(a->public_out) || strcmp(a->public_out, a->out) == 0))
        return cli_error(CMD, CLI_EXIT_USAGE, "--public-out needs a file other than -o");
    return -1;
}

/* After generation: print the key id (to match `inspect` output) and write
 * the public key if asked. A failure removes the new private key again, so
 * the command either does everything or leaves nothing. */
static int finish_key(const keygen_args *a, const char *passphrase)
{
    kvs_provider *p = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    kvs_status st = kvs_rsa_provider_from_pem(a->out, passphrase, NULL, &p, &err);
    if (st == KVS_OK && a->public_out)
        st = kvs_rsa_provider_export_public(p, a->public_out, &err);
    if (st == KVS_OK) {
        const char *id = kvs_rsa_provider_key_id(p);
        if (id && !g_cli.quiet)
            printf("%s\n", id);
    }
    kvs_provider_free(p);
    if (st == KVS_OK)
        return CLI_EXIT_OK;
    (void)unlink(a->out);
    return cli_error_status(CMD, NULL, &err);
}

static int generate(const keygen_args *a)
{
    if (cli_check_overwrite(CMD, a->out, 0) != 0)
        return CLI_EXIT_USAGE;
    if (a->public_out && cli_check_overwrite(CMD, a->public_out, 0) != 0)
        return CLI_EXIT_USAGE;
    cli_secret pass;
    int rc = cli_secret_read(CMD, a->pass_file, a->pass_env, &pass);
    if (rc != 0)
        return rc;
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_rsa_keygen(a->bits, a->out, pass.buf, &err) != KVS_OK) {
        rc = cli_error_status(CMD, NULL, &err);
    } else {
        rc = finish_key(a, pass.buf);
        if (rc == CLI_EXIT_OK && g_cli.verbose)
            cli_info(CMD, "wrote RSA-%u private key to %s%s", a->bits, a->out,
                     pass.buf ? " (passphrase-protected)" : "");
    }
    cli_secret_free(&pass);
    return rc;
}

int cli_cmd_keygen(int argc, char **argv)
{
    keygen_args a = {
        .out = NULL, .public_out = NULL, .pass_file = NULL, .pass_env = NULL, .bits = 4096};
    int rc = parse_args(argc, argv, &a);
    return rc < 0 ? generate(&a) : rc;
}
