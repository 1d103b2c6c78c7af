/* Signing options of the command-line tool: --sign/--sign-alg make the run's
 * one signer (with the CLI's key separation check), --require-signer the
 * required-signer check, and the refusal of pipe-to-pipe signed restores. */
#define _DEFAULT_SOURCE
#include "cli/signopts.h"

#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/kvopts.h"

int cli_sign_option(const char *cmd, int c, const char *arg, cli_sign_opts *o)
{
    static const char *const algs[] = {"ES256", "ES384", "PS256", "PS384", "PS512"};
    switch (c) {
    case CLI_OPT_SIGN:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--sign needs a key");
        if (o->sign)
            return cli_error(cmd, CLI_EXIT_USAGE, "--sign: a file has one signer; give it once");
        o->sign = arg;
        return 0;
    case CLI_OPT_SIGN_ALG:
        for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
            if (arg && strcmp(arg, algs[i]) == 0) {
                o->sign_alg = algs[i];
                return 0;
            }
        }
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "--sign-alg: %s is not ES256, ES384, PS256, PS384 or PS512",
                         arg ? arg : "(none)");
    case CLI_OPT_REQUIRE_SIGNER:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--require-signer needs a key");
        if (o->require)
            return cli_error(cmd, CLI_EXIT_USAGE,
                             "--require-signer: a file has one signer; give it once");
        o->require = arg;
        return 0;
    default:
        return -1;
    }
}

static int is_https(const char *s)
{
    return strncasecmp(s, "https://", 8) == 0;
}

/* The key a Key Vault key URL names, without its version: host and name
 * (both compared without regard to case, as the service does). 0 if url
 * has that shape, else -1. */
typedef struct kv_key_name {
    const char *host, *name;
    size_t host_len, name_len;
} kv_key_name;

static int kv_key_of(const char *url, kv_key_name *k)
{
    if (!is_https(url))
        return -1;
    k->host = url + 8;
    k->host_len = strcspn(k->host, "/?#");
    if (k->host_len == 0 || strncasecmp(k->host + k->host_len, "/keys/", 6) != 0)
        return -1;
    k->name = k->host + k->host_len + 6;
    k->name_len = strcspn(k->name, "/?#");
    return k->name_len ? 0 : -1;
}

static int same_vault_key(const char *a, const char *b)
{
    kv_key_name x, y;
    if (kv_key_of(a, &x) != 0 || kv_key_of(b, &y) != 0)
        return 0;
    return x.host_len == y.host_len && x.name_len == y.name_len &&
           strncasecmp(x.host, y.host, x.host_len) == 0 &&
           strncasecmp(x.name, y.name, x.name_len) == 0;
}

static int refuse_shared(const char *cmd, const char *recipient)
{
    return cli_error(cmd, CLI_EXIT_USAGE,
                     "--sign: the signing key is also the recipient %s: a key either wraps "
                     "data keys or signs, never both (key separation); sign with a separate key",
                     recipient);
}

int cli_signer_precheck(const char *cmd, const cli_sign_opts *o, const cli_keys *recipients)
{
    if (!o->sign)
        return o->sign_alg ? cli_error(cmd, CLI_EXIT_USAGE, "--sign-alg needs --sign KEY") : 0;
    /* A Key Vault key by its URL: refused before any call to a vault. */
    for (size_t i = 0; i < recipients->n; i++)
        if (same_vault_key(o->sign, recipients->spec[i]))
            return refuse_shared(cmd, recipients->spec[i]);
    return 0;
}

int cli_signer_load(const char *cmd, const cli_sign_opts *o, const cli_keys *recipients,
                    kvs_signer **out)
{
    *out = NULL;
    int rc = cli_signer_precheck(cmd, o, recipients);
    if (rc != 0 || !o->sign)
        return rc;
    kvs_error err;
    kvs_error_clear(&err);
    kvs_signer *s = NULL;
    kvs_status st = is_https(o->sign)
                        ? kvs_keyvault_signer_new(o->sign, cli_kv_config(), o->sign_alg, &s, &err)
                        : kvs_local_signer_new(o->sign, o->sign_alg, &s, &err);
    if (st != KVS_OK) /* the library's message names the key */
        return cli_error_status(cmd, NULL, &err);
    /* A local key by its key id (a PEM of the same key under another name). */
    if (strcmp(kvs_signer_type(s), KVS_SIGNER_KEY) == 0) {
        for (size_t i = 0; i < recipients->n; i++) {
            const char *id = recipients->prov[i] ? kvs_rsa_provider_key_id(recipients->prov[i])
                                                 : NULL;
            if (id && strcmp(id, kvs_signer_id(s)) == 0) {
                kvs_signer_free(s);
                return refuse_shared(cmd, recipients->spec[i]);
            }
        }
    } else {
        for (size_t i = 0; i < recipients->n; i++) {
            if (same_vault_key(kvs_signer_id(s), recipients->spec[i])) {
                kvs_signer_free(s);
                return refuse_shared(cmd, recipients->spec[i]);
            }
        }
    }
    *out = s;
    return 0;
}

int cli_signer_check_load(const char *cmd, const cli_sign_opts *o, kvs_signer_check **out)
{
    *out = NULL;
    if (!o->require)
        return 0;
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_signer_check_new(o->require, cli_kv_config(), out, &err) != KVS_OK)
        return cli_error_status(cmd, NULL, &err);
    return 0;
}

/* 1 if fd or path can be read twice (a regular file), else 0. */
static int seekable_input(const char *in)
{
    struct stat sb;
    if (cli_is_stdio(in))
        return fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode) &&
               lseek(STDIN_FILENO, 0, SEEK_CUR) >= 0;
    if (kvs_is_blob_url(in))
        return 1; /* read by ranges */
    /* A missing or unreadable path fails later with its own message. */
    return stat(in, &sb) != 0 || S_ISREG(sb.st_mode);
}

int cli_require_signer_io_check(const char *cmd, char *const *inputs, size_t n,
                                const char *out)
{
    cli_target_kind kind = cli_target_classify(out);
    if (kind == CLI_TARGET_FILE || kind == CLI_TARGET_DIR)
        return 0;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        const char *in = n ? inputs[i] : NULL;
        if (!seekable_input(in))
            return cli_error(cmd, CLI_EXIT_USAGE,
                             "--require-signer: %s cannot be read twice, so its signature is "
                             "only known at its end: give -o FILE (written to a temporary file "
                             "and renamed after the signature verified), not a pipe or standard "
                             "output, so that no plaintext is released before that",
                             cli_is_stdio(in) ? "standard input" : in);
    }
    return 0;
}
