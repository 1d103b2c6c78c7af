/* kvseal encrypt */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"
#include "cli/sharedek.h"
#include "cli/signopts.h"

static const char *const CMD = "encrypt";

enum { OPT_CHUNK = CLI_OPT_LONG_ONLY, OPT_NO_CREATED };

static const cli_opt options[] = {
    {"recipient", 'r', "KEY",
     "recipient key: a PEM file (public key, certificate\n"
     "or private key) or a Key Vault key URL\n"
     "https://VAULT.vault.azure.net/keys/NAME[/VERSION];\n"
     "repeat for more (at most 64)"},
    {"output", 'o', "OUT",
     "output file, '-' for standard output (default), an\n"
     "existing directory: one IN.kvs per input, or a blob URL"},
    {"chunk-size", OPT_CHUNK, "N",
     "plaintext bytes per chunk: a power of two from 4K to\n64M (suffixes K, M; default 1M)"},
    {"context", CLI_OPT_JOB_CONTEXT, "KEY=VALUE", "authenticated, non-secret context; repeatable"},
    {"no-created", OPT_NO_CREATED, NULL, "do not record the creation time in the header"},
    CLI_OPT_ROW_THREADS,
    CLI_PROGRESS_ROWS,
    CLI_OPT_ROW_FORCE,
    {"passphrase-file", CLI_OPT_JOB_PASS_FILE, "F",
     "passphrase for an encrypted private-key PEM given as -r"},
    {"passphrase-env", CLI_OPT_JOB_PASS_ENV, "NAME", "... read from environment variable NAME instead"},
    CLI_SIGN_ROWS,
    CLI_SHARE_DEK_ROWS,
    CLI_KV_ROWS_ENCRYPT,
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_encrypt = {
    .name = "encrypt",
    .synopsis = "kvseal encrypt -r KEY [-r KEY ...] [options] [-o OUT] [IN ...]",
    .about = "Encrypt IN (default: standard input) for one or more recipients.",
    .opts = options,
    .notes = "With --sign, every output (file, standard output, directory, blob) is signed\n"
             "by the same key; a Key Vault key's current version is resolved once per run.\n"
             "A passphrase-protected --sign PEM is read with KVSEAL_PASSPHRASE_FILE.",
};

typedef struct encrypt_args {
    cli_keys keys;
    cli_job_opts job;
    cli_sign_opts sign;
    const char *out;
    uint32_t chunk_size;
    int omit_created;
    int force;
    cli_progress_mode progress;
} encrypt_args;

typedef struct encrypt_job {
    kvs_encrypt_options opts;
    cli_keys *keys;
    cli_progress_mode progress;
} encrypt_job;

static int parse_chunk_size(const char *arg, uint32_t *out)
{
    uint64_t v = 0;
    if (cli_parse_size(CMD, "--chunk-size", arg, &v) != 0)
        return CLI_EXIT_USAGE;
    if (v < KVS_CHUNK_MIN || v > KVS_CHUNK_MAX || (v & (v - 1)) != 0)
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "--chunk-size: %s is not a power of two from 4K to 64M", arg);
    *out = (uint32_t)v;
    return 0;
}

static int parse_option(int c, const char *arg, void *ctx)
{
    encrypt_args *a = ctx;
    switch (c) {
    case 'r':
        return cli_keys_add(CMD, "-r", &a->keys, arg);
    case 'o':
        a->out = arg;
        return 0;
    case 'f':
        a->force = 1;
        return 0;
    case OPT_CHUNK:
        return parse_chunk_size(arg, &a->chunk_size);
    case OPT_NO_CREATED:
        a->omit_created = 1;
        return 0;
    default: {
        if (cli_progress_option(c, &a->progress))
            return 0;
        int rc = cli_job_option(CMD, c, arg, &a->job);
        if (rc < 0)
            rc = cli_sign_option(CMD, c, arg, &a->sign);
        if (rc < 0)
            rc = cli_share_dek_option(CMD, c, arg);
        if (rc < 0)
            rc = cli_kv_option(CMD, c, arg);
        if (rc < 0)
            rc = cli_blob_option(CMD, c, arg);
        return rc >= 0 ? rc : CLI_EXIT_USAGE;
    }
    }
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, encrypt_args *a)
{
    int rc = cli_parse(&cli_spec_encrypt, argc, argv, parse_option, a);
    if (rc >= 0)
        return rc;
    if (a->keys.n == 0)
        return cli_error(CMD, CLI_EXIT_USAGE, "no recipient given (-r KEY)");
    rc = cli_signer_precheck(CMD, &a->sign, &a->keys);
    return rc != 0 ? rc : -1;
}

static kvs_status job_fd(void *ctx, int in_fd, int out_fd, kvs_error *err)
{
    encrypt_job *j = ctx;
    cli_progress meter;
    cli_progress_start(&meter, CMD, j->progress, in_fd, out_fd);
    kvs_encrypt_options opts = j->opts;
    opts.progress = meter.on ? cli_progress_update : NULL;
    opts.progress_arg = &meter;
    kvs_status st = kvs_encrypt_fd(in_fd, out_fd, &opts, j->keys->prov, j->keys->n, err);
    cli_progress_finish(&meter, st == KVS_OK);
    return st;
}

/* One input into the block blob named by -o: nothing appears there unless
 * everything was staged and committed; an existing blob only with --force. */
static int run_to_blob(const encrypt_job *j, char *const *inputs, size_t n, const char *url,
                       int force)
{
    if (n > 1)
        return cli_error(CMD, CLI_EXIT_USAGE, "a blob URL as -o takes one input");
    if (cli_blob_url_check(CMD, url) != 0)
        return CLI_EXIT_USAGE;
    const char *in = n ? inputs[0] : NULL;
    kvs_error err;
    kvs_error_clear(&err);
    int fd = cli_open_input(in, &err);
    if (fd < 0)
        return cli_error_status(CMD, in, &err);
    cli_progress meter;
    cli_progress_start(&meter, CMD, j->progress, fd, -1);
    kvs_encrypt_options opts = j->opts;
    opts.progress = meter.on ? cli_progress_update : NULL;
    opts.progress_arg = &meter;
    kvs_output_options oo = {.overwrite = force};
    kvs_status st = kvs_blob_encrypt(fd, url, cli_blob_config(), &oo, &opts, j->keys->prov,
                                     j->keys->n, &err);
    cli_progress_finish(&meter, st == KVS_OK);
    if (fd != STDIN_FILENO)
        close(fd);
    return st == KVS_OK ? CLI_EXIT_OK : cli_error_status(CMD, cli_is_stdio(in) ? NULL : in, &err);
}

/* Several inputs into a blob prefix (-o URL ending in '/'), as into -o DIR:
 * input .../NAME becomes PREFIX/NAME.kvs. Every input is attempted; the exit
 * code is that of the first failure. */
static int run_to_blob_prefix(const encrypt_job *j, char *const *inputs, size_t n,
                              const char *prefix, int force)
{
    if (n == 0)
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "a blob prefix as -o takes named inputs, not standard input");
    int first = CLI_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(inputs[i], '/');
        const char *name = slash ? slash + 1 : inputs[i];
        char url[4096];
        int rc;
        if (cli_is_stdio(inputs[i]) || *name == '\0')
            rc = cli_error(CMD, CLI_EXIT_USAGE, "%s: no file name to use under a blob prefix",
                           inputs[i]);
        else if (cli_blob_join(prefix, name, ".kvs", url, sizeof url) != 0)
            rc = cli_error(CMD, CLI_EXIT_USAGE, "%s: the blob URL would be too long", inputs[i]);
        else
            rc = run_to_blob(j, &inputs[i], 1, url, force);
        if (first == CLI_EXIT_OK)
            first = rc;
    }
    return first;
}

static int out_name(const char *base, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s.kvs", base);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void report_recipients(const cli_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        cli_info(CMD, "recipient %zu: %s", i, kvs_provider_identify(k->prov[i]));
}

static void report_signer(const kvs_signer *s, int done)
{
    if (!s)
        return;
    if (done)
        cli_info(CMD, "signatures made: %llu", (unsigned long long)kvs_signer_signatures(s));
    else
        cli_info(CMD, "signer: %s %s %s", kvs_signer_type(s), kvs_signer_id(s), kvs_signer_alg(s));
}

static int run(encrypt_args *a, kvs_signer *signer, char *const *inputs, size_t n_inputs)
{
    if (g_cli.verbose) {
        report_recipients(&a->keys);
        report_signer(signer, 0);
    }
    encrypt_job job = {
        .opts = {.chunk_size = a->chunk_size,
                 .context = a->job.context.pairs,
                 .n_context = a->job.context.n,
                 .omit_created = a->omit_created,
                 .threads = a->job.threads,
                 .signer = signer},
        .keys = &a->keys,
        .progress = a->progress,
    };
    cli_io_ops ops = {.run_fd = job_fd, .after = NULL,
                      .ctx = &job, .what = "ciphertext"};
    int shared = cli_share_dek_begin(CMD, &a->keys, &job.opts.dek_session);
    if (shared != 0)
        return shared;
    int rc;
    if (a->out && cli_is_blob_prefix(a->out))
        rc = run_to_blob_prefix(&job, inputs, n_inputs, a->out, a->force);
    else if (a->out && kvs_is_blob_url(a->out))
        rc = run_to_blob(&job, inputs, n_inputs, a->out, a->force);
    else
        rc = cli_run_inputs(CMD, &ops, inputs, n_inputs, a->out, a->force, out_name);
    cli_share_dek_end(CMD, job.opts.dek_session);
    if (g_cli.verbose) {
        report_signer(signer, 1);
        cli_kv_report(CMD);
    }
    return rc;
}

int cli_cmd_encrypt(int argc, char **argv)
{
    encrypt_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        kvs_signer *signer = NULL;
        rc = cli_keys_load_secret(CMD, &a.keys, a.job.pass_file, a.job.pass_env);
        if (rc == 0) /* one signer for every output of the run */
            rc = cli_signer_load(CMD, &a.sign, &a.keys, &signer);
        if (rc == 0)
            rc = run(&a, signer, argv + optind, (size_t)(argc - optind));
        kvs_signer_free(signer); /* after every job that borrowed it */
    }
    cli_keys_free(&a.keys);
    cli_job_opts_free(&a.job);
    return rc;
}
