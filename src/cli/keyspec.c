/* KEY arguments (-r, -k) to key providers. */
#define _DEFAULT_SOURCE
#include <string.h>

#include "cli/cli.h"
#include "cli/kvopts.h"

/* Case-insensitive scheme check: "HTTPS://" is still a URL, not a file. */
static int is_https_url(const char *spec)
{
    static const char scheme[] = "https://";
    for (size_t i = 0; i < sizeof scheme - 1; i++) {
        char c = spec[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != scheme[i])
            return 0;
    }
    return 1;
}

kvs_status cli_provider_from_spec(const char *spec, const char *passphrase,
                                  kvs_provider **out, kvs_error *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return cli_fail(err, KVS_ERR_USAGE, "empty key argument");
    if (is_https_url(spec)) {
        /* Key Vault key URL (https://{vault}/keys/{name}[/{version}]). */
        return cli_kv_provider_from_url(spec, out, err);
    }
    /* Anything else is a local PEM file (public key, certificate or private key). */
    return kvs_rsa_provider_from_pem(spec, passphrase, NULL, out, err);
}

int cli_keys_add(const char *cmd, const char *opt, cli_keys *k, const char *spec)
{
    if (k->n >= CLI_MAX_KEYS)
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: at most %d keys", opt, CLI_MAX_KEYS);
    k->spec[k->n] = spec;
    k->prov[k->n] = NULL;
    k->n++;
    return 0;
}

int cli_keys_load(const char *cmd, cli_keys *k, const char *passphrase)
{
    for (size_t i = 0; i < k->n; i++) {
        kvs_error err;
        kvs_error_clear(&err);
        kvs_status st = cli_provider_from_spec(k->spec[i], passphrase, &k->prov[i], &err);
        if (st != KVS_OK) /* the library's message names the key file */
            return cli_error_status(cmd, NULL, &err);
    }
    return 0;
}

void cli_keys_free(cli_keys *k)
{
    for (size_t i = 0; i < k->n; i++) {
        kvs_provider_free(k->prov[i]);
        k->prov[i] = NULL;
    }
    k->n = 0;
}

/* The passphrase is needed only while loading the keys: wipe it right after. */
int cli_keys_load_secret(const char *cmd, cli_keys *k, const char *pass_file,
                         const char *pass_env)
{
    cli_secret pass;
    int rc = cli_secret_read(cmd, pass_file, pass_env, &pass);
    if (rc != 0)
        return rc;
    rc = cli_keys_load(cmd, k, pass.buf);
    cli_secret_free(&pass);
    return rc;
}
