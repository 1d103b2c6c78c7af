/* kvseal verify: authenticate a whole file, write no plaintext. */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"
#include "cli/signopts.h"

static const char *const CMD = "verify";

static const cli_opt options[] = {
    {"key", 'k', "KEY",
     "private key PEM file, or a Key Vault key URL;\nrepeat to try several, in order; without -k:\n"
     "any Key Vault key the file names on an allowed host"},
    {"context", CLI_OPT_JOB_CONTEXT, "KEY=VALUE", "require this header context pair; repeatable"},
    CLI_OPT_ROW_THREADS,
    CLI_PROGRESS_ROWS,
    CLI_OPT_ROWS_PASSPHRASE,
    CLI_REQUIRE_SIGNER_ROW("fail unless the file is signed by KEY (a PEM file or\n"
                           "a Key Vault key URL, as for decrypt). Without -k:\n"
                           "no data key is needed; everything but the data key\n"
                           "commitment is checked (files and blob URLs)"),
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
    .notes = "--require-signer KEY without -k proves authorship without any decryption\n"
             "key: the signature, the signer and every chunk's place in the signed segment\n"
             "roots are verified; nothing is decrypted, so the data key commitment is not.",
};

typedef struct verify_args {
    cli_keys keys;
    cli_job_opts job;
    cli_sign_opts sign;
    kvs_signer_check *require; /* --require-signer, loaded */
    int keyless;               /* --require-signer without -k */
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
        rc = cli_sign_option(CMD, c, arg, &a->sign);
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
    a->keyless = a->sign.require && a->keys.n == 0;
    return -1;
}

/* Key-less: the context is part of the signed statement, so once the
 * signature verified the header's pairs are authentic. NULL if every
 * required pair is there, else the key of the first that is not. */
static const char *context_missing(const verify_args *a, const kvs_header *h)
{
    for (size_t i = 0; i < a->job.context.n; i++) {
        const kvs_context_pair *want = &a->job.context.pairs[i];
        size_t j = 0;
        while (j < h->n_context && (strcmp(h->context[j].key, want->key) != 0 ||
                                    strcmp(h->context[j].value, want->value) != 0))
            j++;
        if (j == h->n_context)
            return want->key;
    }
    return NULL;
}

static void print_ok(const char *file, const char *note)
{
    if (g_cli.quiet)
        return;
    fputs("OK: ", stdout);
    cli_print_escaped(stdout, file);
    if (note)
        fputs(note, stdout);
    fputc('\n', stdout);
}

/* The key-less check of a file (kvs_verify_signer_fd) or a blob
 * (kvs_blob_verify_signer); *h its header on success. */
static kvs_status keyless_check(const verify_args *a, const char *file, kvs_header **h,
                                kvs_error *err)
{
    if (!cli_is_stdio(file) && kvs_is_blob_url(file))
        return kvs_blob_verify_signer(file, cli_blob_config(), a->require, h, err);
    int fd = cli_open_input(file, err);
    if (fd < 0)
        return err->status;
    kvs_status st = kvs_verify_signer_fd(fd, a->require, h, err);
    if (fd != STDIN_FILENO)
        close(fd);
    return st;
}

/* --require-signer without -k: the signature, the signer and the segment
 * roots, with no data key. */
static int verify_keyless(const verify_args *a, const char *file)
{
    kvs_error err;
    kvs_error_clear(&err);
    if (cli_blob_url_check(CMD, file) != 0)
        return CLI_EXIT_USAGE;
    kvs_header *h = NULL;
    kvs_status st = keyless_check(a, file, &h, &err);
    if (st != KVS_OK) {
        kvs_header_free(h);
        return cli_error_status(CMD, cli_is_stdio(file) ? NULL : file, &err);
    }
    const char *missing = !a->job.context.n ? NULL : h ? context_missing(a, h) : "context";
    if (missing) {
        kvs_header_free(h);
        return cli_error(CMD, cli_exit_code(KVS_ERR_CONTEXT_MISMATCH),
                         "%s: the signed context does not have the required %s",
                         cli_is_stdio(file) ? "(stdin)" : file, missing);
    }
    print_ok(file, " (signature, segment roots and signer verified; data key commitment not "
                   "checked: no decryption key)");
    if (g_cli.verbose && h)
        cli_info(CMD, "signed by %s %s (%s)", h->signer.type, h->signer.id, h->signer.alg);
    kvs_header_free(h);
    return CLI_EXIT_OK;
}

static int verify_one(const verify_args *a, const char *file)
{
    if (a->keyless)
        return verify_keyless(a, file);
    kvs_decrypt_options opts = {.required_context = a->job.context.pairs,
                                .n_required_context = a->job.context.n,
                                .threads = a->job.threads,
                                .require_signer = a->require};
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
    print_ok(file, a->require ? " (signature, segment roots, signer and data key commitment "
                                "verified)"
                              : NULL);
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
        rc = cli_signer_check_load(CMD, &a.sign, &a.require);
        /* as decrypt: without -k, any Key Vault recipient on an allowed host
         * (unless only the signer is checked) */
        if (rc == 0 && !a.keyless)
            rc = a.keys.n == 0 ? cli_kv_add_any(CMD, &a.keys)
                               : cli_keys_load_secret(CMD, &a.keys, a.job.pass_file,
                                                      a.job.pass_env);
        if (rc == 0)
            rc = verify_all(&a, argv + optind, (size_t)(argc - optind));
    }
    kvs_signer_check_free(a.require);
    cli_keys_free(&a.keys);
    cli_job_opts_free(&a.job);
    return rc;
}
