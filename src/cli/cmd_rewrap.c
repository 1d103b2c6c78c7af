/* kvseal rewrap: change recipients without re-encrypting (kvs_rewrap_path;
 * a blob URL in place, kvs_blob_rewrap). */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"

static const char *const CMD = "rewrap";

enum { OPT_REMOVE = CLI_OPT_LONG_ONLY, OPT_KEEP_OLD };

static const cli_opt options[] = {
    {"recipient", 'r', "KEY",
     "add a recipient: a PEM file or a Key Vault key URL.\n"
     "A versionless URL (https://VAULT/keys/NAME) of a key\n"
     "the file already has replaces the file's recipients\n"
     "of older versions of it with the current version"},
    {"keep-old", OPT_KEEP_OLD, NULL, "... but keep those older versions too"},
    {"remove", OPT_REMOVE, "KEYID",
     "drop recipients: a key id (sha256:...), a versioned\n"
     "kid, a key URL (every version of that key) or a PEM\n"
     "file (its key id); repeatable. Removing the last\n"
     "recipient of a file is refused"},
    {"key", 'k', "KEY",
     "key to unwrap the data key with, as for decrypt (default:\n"
     "any Key Vault key the file names on an allowed host)"},
    CLI_OPT_ROWS_PASSPHRASE,
    CLI_KV_ROWS_ENCRYPT,
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_rewrap = {
    .name = "rewrap",
    .synopsis = "kvseal rewrap [-r KEY ...] [--remove KEYID ...] [-k KEY ...] [options] FILE|URL...",
    .about = "Give each FILE a new set of recipients without re-encrypting it: the data key\n"
             "is unwrapped once, wrapped for the new recipients, and only the header is\n"
             "replaced (atomically); the encrypted payload bytes stay the same. A blob URL\n"
             "is rewrapped in place: a new first block is committed before the old payload\n"
             "blocks, and no payload byte is downloaded or uploaded.",
    .opts = options,
    .notes = "A file whose recipients would not change is left untouched. Every FILE is\n"
             "attempted; the exit code is that of the first failure.",
};

typedef struct rewrap_args {
    cli_keys add;  /* -r */
    cli_keys keys; /* -k */
    const char *remove_arg[CLI_MAX_KEYS];
    char *remove[CLI_MAX_KEYS]; /* resolved key ids, kids or URL prefixes */
    size_t n_remove;
    int keep_old;
    const char *pass_file;
    const char *pass_env;
} rewrap_args;

static int parse_option(int c, const char *arg, void *ctx)
{
    rewrap_args *a = ctx;
    switch (c) {
    case 'r':
        return cli_keys_add(CMD, "-r", &a->add, arg);
    case 'k':
        return cli_keys_add(CMD, "-k", &a->keys, arg);
    case OPT_REMOVE:
        if (a->n_remove >= CLI_MAX_KEYS)
            return cli_error(CMD, CLI_EXIT_USAGE, "--remove: at most %d", CLI_MAX_KEYS);
        a->remove_arg[a->n_remove++] = arg;
        return 0;
    case OPT_KEEP_OLD:
        a->keep_old = 1;
        return 0;
    case CLI_OPT_JOB_PASS_FILE:
        a->pass_file = arg;
        return 0;
    case CLI_OPT_JOB_PASS_ENV:
        a->pass_env = arg;
        return 0;
    default: {
        int rc = cli_kv_option(CMD, c, arg);
        if (rc < 0)
            rc = cli_blob_option(CMD, c, arg);
        return rc >= 0 ? rc : CLI_EXIT_USAGE;
    }
    }
}

/* Returns -1 to continue, else an exit code (after --help: 0). */
static int parse_args(int argc, char **argv, rewrap_args *a)
{
    int rc = cli_parse(&cli_spec_rewrap, argc, argv, parse_option, a);
    if (rc >= 0)
        return rc;
    if (a->add.n == 0 && a->n_remove == 0)
        return cli_error(CMD, CLI_EXIT_USAGE, "nothing to do: give -r KEY and/or --remove KEYID");
    if (optind >= argc)
        return cli_error(CMD, CLI_EXIT_USAGE, "no FILE given");
    return -1;
}

/* A --remove argument as the library matches it: ids and URLs as given, a
 * PEM file as its key id. */
static int resolve_remove(rewrap_args *a, size_t i, const char *passphrase)
{
    const char *arg = a->remove_arg[i];
    if (strncasecmp(arg, "https://", 8) == 0 || strncmp(arg, "sha256:", 7) == 0) {
        a->remove[i] = strdup(arg);
    } else if (access(arg, R_OK) == 0) {
        kvs_provider *p = NULL;
        kvs_error err;
        kvs_error_clear(&err);
        if (kvs_rsa_provider_from_pem(arg, passphrase, NULL, &p, &err) != KVS_OK)
            return cli_error_status(CMD, NULL, &err);
        a->remove[i] = strdup(kvs_rsa_provider_key_id(p));
        kvs_provider_free(p);
    } else {
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "--remove %s: not a key id (sha256:...), a Key Vault kid or key URL, "
                         "or a readable key file", arg);
    }
    return a->remove[i] ? 0 : cli_error(CMD, CLI_EXIT_INTERNAL, "out of memory");
}

/* New recipients wrap (Key Vault: encryption providers); -k keys unwrap. */
static int load_keys(rewrap_args *a)
{
    cli_secret pass;
    int rc = cli_secret_read(CMD, a->pass_file, a->pass_env, &pass);
    if (rc != 0)
        return rc;
    cli_kv_set_decrypting(0);
    rc = cli_keys_load(CMD, &a->add, pass.buf);
    for (size_t i = 0; rc == 0 && i < a->n_remove; i++)
        rc = resolve_remove(a, i, pass.buf);
    cli_kv_set_decrypting(1);
    if (rc == 0)
        rc = a->keys.n == 0 ? cli_kv_add_any(CMD, &a->keys) : cli_keys_load(CMD, &a->keys, pass.buf);
    cli_secret_free(&pass);
    return rc;
}

static void report(const char *file, const kvs_rewrap_result *r)
{
    if (!r->changed) {
        cli_info(CMD, "%s: unchanged (%zu recipients)", file, r->n_recipients);
        return;
    }
    cli_info(CMD, "%s: %zu added, %zu removed (%zu older key versions replaced), %zu kept; "
             "%zu recipients", file, r->added, r->removed, r->superseded, r->kept,
             r->n_recipients);
}

/* A rewrapped signed file: its signer is what it was, and the signature
 * still verifies (the signed statement holds no recipient; the library
 * keeps the trailer). Read back from the new file. */
static void report_signature(const char *file)
{
    kvs_error err;
    kvs_error_clear(&err);
    kvs_header *h = NULL;
    kvs_status st;
    if (kvs_is_blob_url(file)) {
        st = kvs_blob_header_read(file, cli_blob_config(), &h, NULL, &err);
    } else {
        int fd = cli_open_input(file, &err);
        if (fd < 0)
            return; /* the rewrap itself succeeded: nothing more to say */
        st = kvs_header_read_fd(fd, &h, &err);
        close(fd);
    }
    if (st == KVS_OK && h->signer.type[0])
        cli_info(CMD, "%s: signed by %s %s (%s): signature unchanged and still valid (a rewrap "
                 "never changes the signer)", file, h->signer.type, h->signer.id, h->signer.alg);
    kvs_header_free(h);
}

/* SIGINT/SIGTERM remove the library's temp file too (output.c's handler). */
static void track_temp(const char *path, void *arg)
{
    (void)arg;
    if (path)
        cli_register_temp_path(path);
    else
        cli_unregister_temp_path();
}

static int rewrap_one(const rewrap_args *a, const char *file, size_t *changed)
{
    kvs_rewrap_options o = {(const char *const *)a->remove, a->n_remove, a->keep_old, track_temp,
                            NULL};
    kvs_rewrap_result res;
    kvs_error err;
    kvs_error_clear(&err);
    if (cli_blob_url_check(CMD, file) != 0)
        return CLI_EXIT_USAGE;
    kvs_status st = kvs_is_blob_url(file)
                        ? kvs_blob_rewrap(file, cli_blob_config(), &o, a->keys.prov, a->keys.n,
                                          a->add.prov, a->add.n, &res, &err)
                        : kvs_rewrap_path(file, &o, a->keys.prov, a->keys.n, a->add.prov,
                                          a->add.n, &res, &err);
    if (st != KVS_OK)
        return cli_error_status(CMD, file, &err);
    if (g_cli.verbose)
        report(file, &res);
    if (res.changed)
        report_signature(file);
    *changed += res.changed != 0;
    return CLI_EXIT_OK;
}

static int run(const rewrap_args *a, char *const *files, size_t n)
{
    int first = CLI_EXIT_OK;
    size_t changed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = rewrap_one(a, files[i], &changed);
        failed += rc != CLI_EXIT_OK;
        if (first == CLI_EXIT_OK)
            first = rc;
    }
    cli_info(CMD, "%zu rewrapped, %zu unchanged, %zu failed", changed, n - changed - failed,
             failed);
    if (g_cli.verbose)
        cli_kv_report(CMD);
    return first;
}

int cli_cmd_rewrap(int argc, char **argv)
{
    rewrap_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        rc = load_keys(&a);
        if (rc == 0)
            rc = run(&a, argv + optind, (size_t)(argc - optind));
    }
    cli_keys_free(&a.add);
    cli_keys_free(&a.keys);
    for (size_t i = 0; i < a.n_remove; i++)
        free(a.remove[i]);
    return rc;
}
