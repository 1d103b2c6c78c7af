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

typedef int (*cli_command_fn)(int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_command_fn run;
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"encrypt", cli_cmd_encrypt, "encrypt files or a stream for one or more recipients"},
    {"decrypt", cli_cmd_decrypt, "decrypt (all of a file, or a byte range)"},
    {"inspect", cli_cmd_inspect, "show a file's header (no key needed)"},
    {"verify", cli_cmd_verify, "authenticate a whole file without writing plaintext"},
    {"rewrap", cli_cmd_rewrap, "change recipients (rotate keys) without re-encrypting"},
    {"audit", cli_cmd_audit, "report which key versions protect files, and their state"},
    {"keygen", cli_cmd_keygen, "generate a local RSA private key"},
    {"bench", cli_cmd_bench, "measure AES-GCM, the engine and RSA on this machine"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
    fputs("Usage: kvseal [-q|-v] COMMAND [options] [args]\n"
          "       kvseal --help | --version\n\nCommands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'kvseal COMMAND --help' for a command's options.\n"
          "Exit codes: 0 ok, 1 usage/config, 2 invalid or unauthentic file,\n"
          "3 no recipient could be unwrapped, 4 local I/O, 5 internal,\n"
          "7 transient (key service unreachable or unavailable: retry later).\n",
          f);
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
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(stdout);
            *rc = CLI_EXIT_OK;
            return -1;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            print_version();
            *rc = CLI_EXIT_OK;
            return -1;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            g_cli.quiet = 1;
            g_cli.verbose = 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g_cli.verbose = 1;
            g_cli.quiet = 0;
        } else {
            *rc = cli_error(NULL, CLI_EXIT_USAGE, "unknown option '%s' (see 'kvseal --help')", a);
            return -1;
        }
    }
    if (i >= argc) {
        *rc = cli_error(NULL, CLI_EXIT_USAGE, "no command given (see 'kvseal --help')");
        return -1;
    }
    return i;
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
