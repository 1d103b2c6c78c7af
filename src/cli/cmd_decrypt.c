/* kvseal decrypt */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"
#include "cli/restore.h"
#include "cli/signopts.h"

static const char *const CMD = "decrypt";

enum { OPT_OFFSET = CLI_OPT_LONG_ONLY, OPT_LENGTH };

static const cli_opt options[] = {
    {"key", 'k', "KEY",
     "private key PEM file, or a Key Vault key URL (only\n"
     "that key); repeat to try several, in order. Without\n"
     "-k: any Key Vault key the file names on an allowed host"},
    {"output", 'o', "OUT",
     "output file, '-' for standard output (default), or an\n"
     "existing directory: IN without .kvs (else IN.out)"},
    {"context", CLI_OPT_JOB_CONTEXT, "KEY=VALUE", "require this header context pair; repeatable"},
    {"offset", OPT_OFFSET, "N", "decrypt plaintext bytes from N on (seekable IN only)"},
    {"length", OPT_LENGTH, "N", "... at most N bytes (suffixes K, M, G accepted)"},
    CLI_OPT_ROW_THREADS,
    CLI_PROGRESS_ROWS,
    CLI_OPT_ROW_FORCE,
    CLI_OPT_ROWS_PASSPHRASE,
    CLI_REQUIRE_SIGNER_ROW("release nothing unless the file is signed by KEY: a\n"
                           "public (or private) PEM file, or a Key Vault key URL\n"
                           "(versioned: that version only; versionless: any\n"
                           "version of that key). From a pipe: needs -o FILE"),
    CLI_RESTORE_ROWS,
    CLI_KV_ROWS_COMMON,
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_decrypt = {
    .name = "decrypt",
    .synopsis = "kvseal decrypt [-k KEY ...] [options] [-o OUT] [IN ...]",
    .about = "Decrypt IN (default: standard input, or a blob URL) with the first key\n"
             "that unlocks it.",
    .opts = options,
    .notes = "A file OUT appears only after everything verified. On standard output,\n"
             "plaintext is streamed chunk by chunk, each chunk after it verified: a later\n"
             "failure leaves a verified prefix behind and exits non-zero. With\n"
             "--require-signer, a seekable IN has its signature checked before the first\n"
             "byte is written, and each group of 16 chunks before it is released.",
};

typedef struct decrypt_args {
    cli_keys keys;
    cli_job_opts job;
    cli_sign_opts sign;
    kvs_signer_check *require; /* --require-signer, loaded */
    const char *out;
    uint64_t offset, length;
    int has_offset, has_length;
    int force;
    cli_progress_mode progress;
} decrypt_args;

typedef struct decrypt_job {
    kvs_decrypt_options opts;
    cli_keys *keys;
    uint64_t offset, length;
    kvs_header *header; /* from the fd path, for --verbose */
    cli_progress_mode progress;
} decrypt_job;

static int parse_number(const char *opt, const char *arg, uint64_t *v, int *seen)
{
    *seen = 1;
    return cli_parse_size(CMD, opt, arg, v);
}

static int parse_option(int c, const char *arg, void *ctx)
{
    decrypt_args *a = ctx;
    switch (c) {
    case 'k':
        return cli_keys_add(CMD, "-k", &a->keys, arg);
    case 'o':
        a->out = arg;
        return 0;
    case 'f':
        a->force = 1;
        return 0;
    case OPT_OFFSET:
        return parse_number("--offset", arg, &a->offset, &a->has_offset);
    case OPT_LENGTH:
        return parse_number("--length", arg, &a->length, &a->has_length);
    default: {
        if (cli_progress_option(c, &a->progress))
            return 0;
        int rc = cli_job_option(CMD, c, arg, &a->job);
        if (rc < 0)
            rc = cli_sign_option(CMD, c, arg, &a->sign);
        if (rc < 0)
            rc = cli_restore_option(CMD, c, arg);
        if (rc < 0)
            rc = cli_kv_option(CMD, c, arg);
        if (rc < 0)
            rc = cli_blob_option(CMD, c, arg);
        return rc >= 0 ? rc : CLI_EXIT_USAGE;
    }
    }
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, decrypt_args *a)
{
    int rc = cli_parse(&cli_spec_decrypt, argc, argv, parse_option, a);
    if (rc >= 0)
        return rc;
    return -1; /* no -k: any Azure Key Vault recipient (kvopts.c) */
}

static kvs_status job_fd(void *ctx, int in_fd, int out_fd, kvs_error *err)
{
    decrypt_job *j = ctx;
    kvs_header_free(j->header);
    j->header = NULL;
    cli_progress meter;
    cli_progress_start(&meter, CMD, j->progress, in_fd, out_fd);
    kvs_decrypt_options opts = j->opts;
    opts.progress = meter.on ? cli_progress_update : NULL;
    opts.progress_arg = &meter;
    kvs_status st = kvs_decrypt_fd(in_fd, out_fd, &opts, j->keys->prov, j->keys->n,
                                   g_cli.verbose ? &j->header : NULL, err);
    cli_progress_finish(&meter, st == KVS_OK);
    return st;
}

static kvs_status job_range(void *ctx, int in_fd, int out_fd, kvs_error *err)
{
    decrypt_job *j = ctx;
    struct stat st;
    /* Random access needs a real file, not a pipe. */
    if (fstat(in_fd, &st) != 0 || !S_ISREG(st.st_mode) || lseek(in_fd, 0, SEEK_CUR) < 0)
        return cli_fail(err, KVS_ERR_USAGE, "--offset/--length need a seekable input file");
    return kvs_decrypt_range_fd(in_fd, j->offset, j->length, out_fd, &j->opts, j->keys->prov,
                                j->keys->n, err);
}

/* A blob input: the whole blob, or a range of it (fetching only its chunks). */
static kvs_status job_url(void *ctx, const char *url, int out_fd, kvs_error *err)
{
    decrypt_job *j = ctx;
    kvs_header_free(j->header);
    j->header = NULL;
    cli_progress meter;
    cli_progress_start(&meter, CMD, j->progress, -1, out_fd);
    kvs_decrypt_options opts = j->opts;
    opts.progress = meter.on ? cli_progress_update : NULL;
    opts.progress_arg = &meter;
    kvs_status st = kvs_blob_decrypt(url, cli_blob_config(), out_fd, &opts, j->keys->prov,
                                     j->keys->n, g_cli.verbose ? &j->header : NULL, err);
    cli_progress_finish(&meter, st == KVS_OK);
    return st;
}

static kvs_status job_range_url(void *ctx, const char *url, int out_fd, kvs_error *err)
{
    decrypt_job *j = ctx;
    return kvs_blob_decrypt_range(url, cli_blob_config(), j->offset, j->length, out_fd, &j->opts,
                                  j->keys->prov, j->keys->n, err);
}

/* --verbose: which recipient unlocked the file (whole-file decrypts only). */
static void report_recipient(void *ctx, const char *in, const char *out)
{
    decrypt_job *j = ctx;
    const kvs_header *h = j->header;
    (void)in;
    (void)out;
    if (!g_cli.verbose || !h || h->unlocked_recipient < 0)
        return;
    const kvs_recipient *r = &h->recipients[h->unlocked_recipient];
    cli_info(CMD, "unlocked by recipient %d (%s %s)", h->unlocked_recipient, r->type, r->key_id);
    if (j->opts.require_signer && h->signer.type[0])
        cli_info(CMD, "signed by %s %s (%s): signature, segment roots and data key commitment "
                 "verified", h->signer.type, h->signer.id, h->signer.alg);
}

/* "x.kvs" -> "x"; anything else (or ".kvs" alone) -> name + ".out". */
static int out_name(const char *base, char *buf, size_t cap)
{
    size_t len = strlen(base);
    int n;
    if (len > 4 && strcmp(base + len - 4, ".kvs") == 0)
        n = snprintf(buf, cap, "%.*s", (int)(len - 4), base);
    else
        n = snprintf(buf, cap, "%s.out", base);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}


static int run(decrypt_args *a, char *const *argv_inputs, size_t n_argv)
{
    int ranged = a->has_offset || a->has_length, prefixes = 0;
    /* Plaintext is never uploaded; a URL is no local path either (the URL
     * is not echoed: it may carry a SAS token). */
    if (a->out && !cli_is_stdio(a->out) && kvs_is_blob_url(a->out))
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "-o: decrypt writes no blobs: give a file, '-' or a directory");
    for (size_t i = 0; i < n_argv; i++) {
        if (cli_blob_url_check(CMD, argv_inputs[i]) != 0)
            return CLI_EXIT_USAGE;
        prefixes |= cli_is_blob_prefix(argv_inputs[i]);
    }
    if (prefixes && ranged)
        return cli_error(CMD, CLI_EXIT_USAGE, "--offset/--length take one blob, not a prefix");
    if (prefixes && cli_target_classify(a->out) != CLI_TARGET_DIR)
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "a container or prefix URL needs -o naming an existing directory");
    /* Container and prefix URLs: the blobs under them, listed first. */
    cli_blob_inputs listed = {NULL, NULL, 0};
    if (prefixes) {
        int lrc = cli_blob_expand(CMD, argv_inputs, n_argv, &listed);
        if (lrc != 0)
            return lrc;
    }
    char *const *inputs = prefixes ? listed.inputs : argv_inputs;
    size_t n_inputs = prefixes ? listed.n : n_argv;
    if (a->require && cli_require_signer_io_check(CMD, inputs, n_inputs, a->out) != 0) {
        cli_blob_inputs_free(&listed);
        return CLI_EXIT_USAGE;
    }
    decrypt_job job = {
        .opts = {.required_context = a->job.context.pairs,
                 .n_required_context = a->job.context.n,
                 .threads = a->job.threads,
                 .unlock_notes = cli_restore_notes(),
                 .require_signer = a->require},
        .keys = &a->keys,
        .offset = a->offset,
        /* No --length: to the end (the library clips; avoid offset+length overflow). */
        .length = a->has_length ? a->length : UINT64_MAX - a->offset,
        .header = NULL,
        .progress = a->progress,
    };
    cli_io_ops ops = {.run_fd = ranged ? job_range : job_fd,
                      .run_url = ranged ? job_range_url : job_url,
                      .after = report_recipient,
                      .ctx = &job,
                      .what = "plaintext"};
    cli_restore *restore = ranged ? NULL
                                  : cli_restore_start(CMD, &ops, inputs, n_inputs, &a->keys, &job.opts);
    int rc = cli_run_inputs_rel(CMD, &ops, inputs, prefixes ? listed.rel : NULL, n_inputs,
                                a->out, a->force, out_name);
    cli_restore_stop(restore);
    cli_blob_inputs_free(&listed);
    kvs_header_free(job.header);
    if (g_cli.verbose)
        cli_kv_report(CMD);
    return rc;
}

int cli_cmd_decrypt(int argc, char **argv)
{
    decrypt_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        cli_kv_set_decrypting(1);
        rc = cli_signer_check_load(CMD, &a.sign, &a.require);
        if (rc == 0)
            rc = a.keys.n == 0 ? cli_kv_add_any(CMD, &a.keys)
                               : cli_keys_load_secret(CMD, &a.keys, a.job.pass_file,
                                                      a.job.pass_env);
        if (rc == 0)
            rc = run(&a, argv + optind, (size_t)(argc - optind));
    }
    kvs_signer_check_free(a.require);
    cli_keys_free(&a.keys);
    cli_job_opts_free(&a.job);
    return rc;
}
