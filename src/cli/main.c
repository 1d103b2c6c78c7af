/* kvseal command-line tool: process hardening, global flags, dispatch. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli/cli.h"

cli_globals g_cli;

static const cli_command commands[] = {
    {"encrypt", cli_cmd_encrypt, "encrypt files or a stream for one or more recipients",
     &cli_spec_encrypt},
    {"decrypt", cli_cmd_decrypt, "decrypt (all of a file, or a byte range)", &cli_spec_decrypt},
    {"inspect", cli_cmd_inspect, "show a file's header (no key needed)", &cli_spec_inspect},
    {"verify", cli_cmd_verify, "authenticate a whole file without writing plaintext",
     &cli_spec_verify},
    {"rewrap", cli_cmd_rewrap, "change recipients (rotate keys) without re-encrypting",
     &cli_spec_rewrap},
    {"audit", cli_cmd_audit, "report which key versions protect files, and their state",
     &cli_spec_audit},
    {"keygen", cli_cmd_keygen, "generate a local RSA private key", &cli_spec_keygen},
    {"bench", cli_cmd_bench, "measure AES-GCM, the engine and RSA on this machine",
     &cli_spec_bench},
    {NULL, NULL, NULL, NULL},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0] - 1)

enum { OPT_LIST_OPTIONS = CLI_OPT_LONG_ONLY, OPT_MAN };

static const cli_opt options[] = {
    {"version", 'V', NULL, "print the versions of kvseal, its file format and OpenSSL"},
    {"list-options", OPT_LIST_OPTIONS, NULL, NULL}, /* hidden: every table, for tests */
    {"man", OPT_MAN, NULL, NULL},                   /* hidden: the kvseal(1) page, for the build */
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_kvseal = {
    .name = NULL,
    .synopsis = "kvseal [-q|-v] COMMAND [options] [args]\n"
                "kvseal --help | --version",
    .about = "Client-side envelope encryption of files with keys in Azure Key Vault\n"
             "or local RSA keys.",
    .opts = options,
    .notes = "Run 'kvseal COMMAND --help' for a command's options.\n"
             "Exit codes: 0 ok, 1 usage/config, 2 invalid or unauthentic file,\n"
             "3 no recipient could be unwrapped, 4 local I/O, 5 internal,\n"
             "7 transient (key service unreachable or unavailable: retry later).",
};

static void print_usage(FILE *f)
{
    fputs("Usage: kvseal [-q|-v] COMMAND [options] [args]\n"
          "       kvseal --help | --version\n\nCommands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nOptions (before COMMAND; -h, -q and -v also after it):\n", f);
    cli_print_opts(f, cli_common_opts);
    cli_print_opts(f, options);
    fprintf(f, "\n%s\n", cli_spec_kvseal.notes);
}

/* The rows of every table: the top level's, the common ones (which every
 * command accepts too) and each command's own. */
static void list_options(FILE *f)
{
    cli_list_opts(f, "kvseal", options);
    cli_list_opts(f, "common", cli_common_opts);
    for (size_t i = 0; i < N_COMMANDS; i++)
        cli_list_opts(f, commands[i].name, commands[i].spec->opts);
}

static void print_version(void)
{
    printf("kvseal %s (library %s, file format v%d, %s)\n", KVSEAL_VERSION_STRING,
           kvs_version(), KVSEAL_FORMAT_VERSION, OpenSSL_version(OPENSSL_VERSION));
}

/* Secrets live in this process: no core dumps, no ptrace by same-uid
 * processes; a closed pipe or a file size limit is an I/O error (EPIPE,
 * EFBIG), not a silent death. */
static void harden_process(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGPIPE, &sa, NULL);
    (void)sigaction(SIGXFSZ, &sa, NULL); /* a file size limit is EFBIG: exit 4 */
    cli_install_signal_handlers();
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

/* Text printed with stdio (inspect, verify, help) must reach its reader. */
static int flush_stdout(const char *cmd, int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        if (rc == CLI_EXIT_OK)
            rc = cli_error(cmd, CLI_EXIT_IO, "writing standard output: %s", strerror(e));
    }
    return rc;
}

/* Global flags before the command name. Returns the index of the command
 * word, or -1 with *rc set when the process should exit. */
static int parse_globals(int argc, char **argv, int *rc)
{
    int c;
    while ((c = cli_next_opt(&cli_spec_kvseal, argc, argv, 1)) != -1) {
        *rc = CLI_EXIT_OK;
        switch (c) {
        case 'h':
            print_usage(stdout);
            return -1;
        case 'V':
            print_version();
            return -1;
        case OPT_LIST_OPTIONS:
            list_options(stdout);
            return -1;
        case OPT_MAN:
            cli_man_page(stdout, &cli_spec_kvseal, commands);
            return -1;
        default: /* '?': the error is printed */
            *rc = CLI_EXIT_USAGE;
            return -1;
        }
    }
    if (optind >= argc) {
        *rc = cli_error(NULL, CLI_EXIT_USAGE, "no command given (see 'kvseal --help')");
        return -1;
    }
    return optind;
}

int main(int argc, char **argv)
{
    harden_process();
    int rc = CLI_EXIT_OK;
    int at = parse_globals(argc, argv, &rc);
    if (at < 0)
        return flush_stdout(NULL, rc);
    const cli_command *cmd = find_command(argv[at]);
    if (!cmd)
        return cli_error(NULL, CLI_EXIT_USAGE, "unknown command '%s' (see 'kvseal --help')",
                         argv[at]);
    rc = cmd->run(argc - at, argv + at);
    return flush_stdout(cmd->name, rc);
}
