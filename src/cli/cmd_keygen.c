/* kvseal keygen: a new local RSA private key (PEM, mode 0600). */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *const CMD = "keygen";

static const char usage_text[] =
    "Usage: kvseal keygen [--bits 2048|3072|4096] [passphrase option]\n"
    "                     [--public-out PUB] -o FILE\n"
    "\n"
    "Generate an RSA private key into the new PEM file FILE (mode 0600). An\n"
    "existing FILE is never replaced. The key id (as shown by inspect) is printed.\n"
    "\n"
    "  -o, --output FILE        the new private key file (required)\n"
    "      --bits N             key size: 2048, 3072 or 4096 (default 4096)\n"
    "      --public-out PUB     also write the public key (a new PEM file, 0644),\n"
    "                           to give to whoever encrypts for you (-r PUB)\n"
    "      --passphrase-file F  encrypt the key with the passphrase in file F\n"
    "      --passphrase-env V   ... in environment variable V\n"
    "  -q, --quiet / -v, --verbose\n"
    "  -h, --help\n";

enum { OPT_BITS = 256, OPT_PUBLIC_OUT, OPT_PASS_FILE, OPT_PASS_ENV };

static const struct option long_options[] = {
    CLI_COMMON_LONGOPTS,
    {"output", required_argument, NULL, 'o'},
    {"bits", required_argument, NULL, OPT_BITS},
    {"public-out", required_argument, NULL, OPT_PUBLIC_OUT},
    {"passphrase-file", required_argument, NULL, OPT_PASS_FILE},
    {"passphrase-env", required_argument, NULL, OPT_PASS_ENV},
    {NULL, 0, NULL, 0},
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

static int parse_option(int c, keygen_args *a)
{
    switch (c) {
    case 'o':
        a->out = optarg;
        return 0;
    case OPT_BITS:
        return parse_bits(optarg, &a->bits);
    case OPT_PUBLIC_OUT:
        a->public_out = optarg;
        return 0;
    case OPT_PASS_FILE:
        a->pass_file = optarg;
        return 0;
    case OPT_PASS_ENV:
        a->pass_env = optarg;
        return 0;
    default:
        return CLI_EXIT_USAGE;
    }
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, keygen_args *a)
{
    optind = 1;
    int c;
    while ((c = cli_getopt(CMD, argc, argv, CLI_COMMON_SHORTOPTS "o:", long_options)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        }
        if (c == '?' || parse_option(c, a) != 0)
            return CLI_EXIT_USAGE;
    }
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
