/* Blob Storage options of the command-line tool: --blob-credential,
 * --sas-file, --blob-parallel (docs/CLI.md, *Blob Storage*), and the
 * rule that a blob URL carries no query and no user info. */
#include "cli/blobopts.h"

#include <string.h>

static kvs_blob_config g_blob_config;

int cli_blob_option(const char *cmd, int c, const char *arg)
{
    uint64_t n = 0;
    switch (c) {
    case CLI_OPT_BLOB_CREDENTIAL:
        if (arg == NULL || (strcmp(arg, "auto") != 0 && strcmp(arg, "entra") != 0 &&
                            strcmp(arg, "sas") != 0 && strcmp(arg, "shared-key") != 0))
            return cli_error(cmd, CLI_EXIT_USAGE,
                             "--blob-credential: one of auto, entra, sas, shared-key");
        g_blob_config.credential = arg;
        return 0;
    case CLI_OPT_BLOB_SAS_FILE:
        if (arg == NULL || arg[0] == '\0')
            return cli_error(cmd, CLI_EXIT_USAGE, "--sas-file needs a file");
        g_blob_config.sas_file = arg;
        return 0;
    case CLI_OPT_BLOB_PARALLEL:
        if (cli_parse_uint(cmd, "--blob-parallel", arg, 1, 32, &n) != 0)
            return CLI_EXIT_USAGE;
        g_blob_config.parallel = (unsigned)n;
        return 0;
    default:
        return -1;
    }
}

const kvs_blob_config *cli_blob_config(void)
{
    return &g_blob_config;
}

/* Whether the URL's authority holds user info ("user:password@host"). */
static int has_user_info(const char *url)
{
    const char *auth = strstr(url, "://");
    if (auth == NULL) return 0;
    auth += 3;
    const char *at = strchr(auth, '@');
    return at != NULL && (size_t)(at - auth) < strcspn(auth, "/?#");
}

int cli_blob_url_check(const char *cmd, const char *text)
{
    if (!text || cli_is_stdio(text) || !kvs_is_blob_url(text))
        return 0;
    if (strchr(text, '?'))
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "a blob URL must not carry a query: give a SAS token with --sas-file "
                         "or AZURE_STORAGE_SAS_TOKEN");
    if (has_user_info(text))
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "a blob URL must not carry user info (user:password@): give "
                         "credentials through the environment or a file");
    return 0;
}
