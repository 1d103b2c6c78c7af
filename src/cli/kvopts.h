/* Key Vault options of the command-line tool (src/cli/kvopts.c). */
#ifndef KVS_CLI_KVOPTS_H
#define KVS_CLI_KVOPTS_H

#include "cli/cli.h"

enum {
    CLI_OPT_KV_REMOTE_WRAP = 0x4b00, /* clear of the commands' own option values */
    CLI_OPT_KV_CREDENTIAL,
    CLI_OPT_KV_CA_FILE,
    CLI_OPT_KV_CLOUD
};

/* Entries for a command's getopt_long table. */
#define CLI_KV_LONGOPTS                                                                    \
    {"remote-wrap", no_argument, NULL, CLI_OPT_KV_REMOTE_WRAP},                            \
        {"credential", required_argument, NULL, CLI_OPT_KV_CREDENTIAL},                    \
        {"ca-file", required_argument, NULL, CLI_OPT_KV_CA_FILE},                          \
        {"cloud", required_argument, NULL, CLI_OPT_KV_CLOUD}

/* Help lines for those options. */
#define CLI_KV_USAGE_ENCRYPT                                                               \
    "      --remote-wrap        Key Vault: wrap with the service's wrapkey instead of\n"  \
    "                           locally with the key's public part\n"                     \
    CLI_KV_USAGE_COMMON
#define CLI_KV_USAGE_COMMON                                                                \
    "      --credential NAME    Key Vault credential: auto (default), env-secret,\n"      \
    "                           env-cert, workload, managed-identity, cli\n"              \
    "      --ca-file F          Key Vault: also trust the CA certificates in PEM file F\n"   \
    "      --cloud NAME         Key Vault: Azure cloud, public (default), china, usgov\n"

/* Handle one Key Vault option. Returns -1 if c is not one, else 0 or an exit
 * code after printing. */
int cli_kv_option(const char *cmd, int c, const char *arg);

/* Decrypting: an https:// -k restricts decryption to that key (and version)
 * and needs no GET. Set before the keys are loaded. */
void cli_kv_set_decrypting(int on);

/* keyspec.c: the provider for an https:// KEY argument. */
kvs_status cli_kv_provider_from_url(const char *url, kvs_provider **out, kvs_error *err);

/* Decrypting without -k: add the provider that unwraps any azure-keyvault
 * recipient of an allowed host. Returns 0 or an exit code after printing. */
int cli_kv_add_any(const char *cmd, cli_keys *k);

/* The Key Vault configuration the options set (audit asks vaults directly). */
const kvs_keyvault_config *cli_kv_config(void);

/* --verbose: one line with the Key Vault calls made, if any. */
void cli_kv_report(const char *cmd);

#endif
