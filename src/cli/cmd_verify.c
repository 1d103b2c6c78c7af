/* kvseal verify: authenticate a whole file, write no plaintext. */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"

static const char *const CMD = "verify";

static const cli_opt options[] = {
    {"key", 'k', "KEY",
     "private key PEM file, or a Key Vault key URL;\nrepeat to try several, in order; without -k:\n"
     "any Key Vault key the file names on an allowed host"},
    {"context", CLI_OPT_JOB_CONTEXT, "KEY=VALUE", "require this header context pair; repeatable"},
    CLI_OPT_ROW_THREADS,
    CLI_PROGRESS_ROWS,
    CLI_OPT_ROWS_PASSPHRASE,
    CLI_KV_ROWS_COMMON,
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_verify = {
    .name = "verify",
    .synopsis = "kvseal verify [-k KEY ...] [options] FILE [FILE ...]",
    .about = "Check that FILE ('-' for standard input, or a blob URL) decrypts and\n"
             "authenticates completely, without writing any plaintext. Prints\n"
             "\"OK: FILE\" per file.",
    .opts = options,
    .notes = NULL,
};

typedef struct verify_args {
    cli_keys keys;
    cli_job_opts job;
    cli_progress_mode progress;
} verify_args;

static int parse_option(int c, const char *arg, void *ctx)
{
    verify_args *a = ctx;
    if (c == 'k')
        return cli_keys_add(CMD, "-k", &a->keys, arg);
    if (cli_progress_option(c, &a->progress))
        return 0;
    int rc = cli_job_option(CMD, c, arg, &a->job);
    if (rc < 0)
        rc = cli_kv_option(CMD, c, arg);
    if (rc < 0)
        rc = cli_blob_option(CMD, c, arg);
    return rc >= 0 ? rc : CLI_EXIT_USAGE;
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, verify_args *a)
{
    int rc = cli_parse(&cli_spec_verify, argc, argv, parse_option, a);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_error(CMD, CLI_EXIT_USAGE, "no FILE given (see 'kvseal verify --help')");
    return -1;
}

static int verify_one(const verify_args *a, const char *file)
{
    kvs_decrypt_options opts = {.required_context = a->job.context.pairs,
                                .n_required_context = a->job.context.n,
                                .threads = a->job.threads};
    kvs_error err;
    kvs_error_clear(&err);
    if (cli_blob_url_check(CMD, file) != 0)
        return CLI_EXIT_USAGE;
    int blob = !cli_is_stdio(file) && kvs_is_blob_url(file);
    int fd = blob ? -1 : cli_open_input(file, &err);
    if (fd < 0 && !blob)
        return cli_error_status(CMD, file, &err);
    cli_progress meter;
    cli_progress_start(&meter, CMD, a->progress, fd, -1);
    opts.progress = meter.on ? cli_progress_update : NULL;
    opts.progress_arg = &meter;
    kvs_status st = blob ? kvs_blob_decrypt(file, cli_blob_config(), -1, &opts, a->keys.prov,
                                            a->keys.n, NULL, &err)
                         : kvs_decrypt_fd(fd, -1, &opts, a->keys.prov, a->keys.n, NULL, &err);
    cli_progress_finish(&meter, st == KVS_OK);
    if (fd >= 0 && fd != STDIN_FILENO)
        close(fd);
    if (st != KVS_OK)
        return cli_error_status(CMD, cli_is_stdio(file) ? NULL : file, &err);
    if (!g_cli.quiet) {
        fputs("OK: ", stdout);
        cli_print_escaped(stdout, file);
        fputc('\n', stdout);
    }
    return CLI_EXIT_OK;
}

/* Check every file; the exit code is that of the first failure. */
static int verify_all(const verify_args *a, char *const *files, size_t n)
{
    int first = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        int rc = verify_one(a, files[i]);
        if (first == CLI_EXIT_OK)
            first = rc;
    }
    return first;
}

int cli_cmd_verify(int argc, char **argv)
{
    verify_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        cli_kv_set_decrypting(1);
        /* as decrypt: without -k, any Key Vault recipient on an allowed host */
        rc = a.keys.n == 0 ? cli_kv_add_any(CMD, &a.keys)
                           : cli_keys_load_secret(CMD, &a.keys, a.job.pass_file, a.job.pass_env);
        if (rc == 0)
            rc = verify_all(&a, argv + optind, (size_t)(argc - optind));
    }
    cli_keys_free(&a.keys);
    cli_job_opts_free(&a.job);
    return rc;
}
