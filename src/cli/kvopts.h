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

/* Rows for a command's option table. --remote-wrap only matters when
 * wrapping; the other commands accept it hidden, as they always have. */
#define CLI_KV_ROWS_ENCRYPT                                                                \
    {"remote-wrap", CLI_OPT_KV_REMOTE_WRAP, NULL,                                          \
     "Key Vault: wrap with the service's wrapkey instead of\nlocally with the key's public part"}, \
        CLI_KV_ROWS_SHARED
#define CLI_KV_ROWS_COMMON {"remote-wrap", CLI_OPT_KV_REMOTE_WRAP, NULL, NULL}, CLI_KV_ROWS_SHARED
#define CLI_KV_ROWS_SHARED                                                                 \
    {"credential", CLI_OPT_KV_CREDENTIAL, "NAME",                                          \
     "Key Vault credential: auto (default), env-secret,\nenv-cert, workload, managed-identity, cli"}, \
        {"ca-file", CLI_OPT_KV_CA_FILE, "F", "Key Vault: also trust the CA certificates in PEM file F"}, \
        {"cloud", CLI_OPT_KV_CLOUD, "NAME", "Key Vault: Azure cloud, public (default), china, usgov"}

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
