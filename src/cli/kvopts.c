/* Key Vault options of the command-line tool: --remote-wrap, --credential,
 * --ca-file, --cloud, -k URL on decrypt, and decryption with no -k. */
#define _DEFAULT_SOURCE
#include "cli/kvopts.h"

#include <string.h>

#include "kvseal/keyvault.h"

static kvs_keyvault_config g_kv_config;
static int g_kv_decrypting;

int cli_kv_option(const char *cmd, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_KV_REMOTE_WRAP:
        g_kv_config.remote_wrap = 1;
        return 0;
    case CLI_OPT_KV_CREDENTIAL:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--credential needs a name");
        g_kv_config.credential = arg;
        return 0;
    case CLI_OPT_KV_CA_FILE:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--ca-file needs a file");
        g_kv_config.ca_file = arg;
        return 0;
    case CLI_OPT_KV_CLOUD:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--cloud needs a name (public, china, usgov)");
        g_kv_config.cloud = arg;
        return 0;
    default:
        return -1;
    }
}

const kvs_keyvault_config *cli_kv_config(void)
{
    return &g_kv_config;
}

void cli_kv_set_decrypting(int on)
{
    g_kv_decrypting = on;
}

kvs_status cli_kv_provider_from_url(const char *url, kvs_provider **out, kvs_error *err)
{
    if (g_kv_decrypting) return kvs_keyvault_any_provider_new(&g_kv_config, url, out, err);
    return kvs_keyvault_provider_new(url, &g_kv_config, out, err);
}

int cli_kv_add_any(const char *cmd, cli_keys *k)
{
    kvs_error err;
    kvs_error_clear(&err);
    if (k->n >= CLI_MAX_KEYS)
        return cli_error(cmd, CLI_EXIT_USAGE, "too many keys");
    kvs_provider *p = NULL;
    if (kvs_keyvault_any_provider_new(&g_kv_config, NULL, &p, &err) != KVS_OK)
        return cli_error_status(cmd, NULL, &err);
    k->spec[k->n] = "any Azure Key Vault key";
    k->prov[k->n] = p;
    k->n++;
    return 0;
}

void cli_kv_report(const char *cmd)
{
    kvs_keyvault_counts s;
    kvs_keyvault_stats(&s);
    if (s.http_requests == 0 && s.token == 0 && s.dek_cache_hits == 0)
        return;
    cli_info(cmd,
             "Key Vault calls: %lu get, %lu wrapkey, %lu unwrapkey, %lu token; %lu HTTP "
             "requests (%lu auth challenges, %lu retries), %lu DEK cache hits",
             s.get_key, s.wrap, s.unwrap, s.token, s.http_requests, s.challenges, s.retries,
             s.dek_cache_hits);
}
