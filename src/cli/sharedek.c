/* encrypt --share-dek and its limits (see sharedek.h). */
#define _DEFAULT_SOURCE
#include "cli/sharedek.h"

#include <string.h>

static int g_share;
static kvs_dek_session_limits g_limits;

/* Seconds, optionally with a suffix s, m, h or d. */
static int parse_duration(const char *cmd, const char *arg, uint64_t *out)
{
    static const struct {
        char suffix;
        uint64_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char digits[24];
    size_t n = strlen(arg);
    uint64_t mult = 1;
    for (size_t i = 0; n > 1 && i < sizeof units / sizeof units[0]; i++)
        if (arg[n - 1] == units[i].suffix) {
            mult = units[i].mult;
            n--;
        }
    if (n == 0 || n >= sizeof digits)
        return cli_error(cmd, CLI_EXIT_USAGE, "--share-dek-max-age: '%s' is not a duration", arg);
    memcpy(digits, arg, n);
    digits[n] = '\0';
    uint64_t v = 0;
    if (cli_parse_uint(cmd, "--share-dek-max-age", digits, 1, UINT64_MAX / 86400, &v) != 0)
        return CLI_EXIT_USAGE;
    *out = v * mult;
    return 0;
}

int cli_share_dek_option(const char *cmd, int c, const char *arg)
{
    switch (c) {
    case CLI_OPT_SHARE_DEK:
        g_share = 1;
        return 0;
    case CLI_OPT_SHARE_DEK_MAX_FILES:
        g_share = 1;
        return cli_parse_uint(cmd, "--share-dek-max-files", arg, 1, UINT64_MAX,
                              &g_limits.max_files);
    case CLI_OPT_SHARE_DEK_MAX_BYTES:
        g_share = 1;
        if (cli_parse_size(cmd, "--share-dek-max-bytes", arg, &g_limits.max_bytes) != 0)
            return CLI_EXIT_USAGE;
        return g_limits.max_bytes ? 0
                                  : cli_error(cmd, CLI_EXIT_USAGE, "--share-dek-max-bytes: must be > 0");
    case CLI_OPT_SHARE_DEK_MAX_AGE:
        g_share = 1;
        return parse_duration(cmd, arg, &g_limits.max_age_s);
    default:
        return -1;
    }
}

int cli_share_dek_begin(const char *cmd, const cli_keys *keys, kvs_dek_session **out)
{
    *out = NULL;
    if (!g_share) return 0;
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_dek_session_new(keys->prov, keys->n, &g_limits, out, &err) != KVS_OK)
        return cli_error_status(cmd, NULL, &err);
    return 0;
}

void cli_share_dek_end(const char *cmd, kvs_dek_session *s)
{
    if (!s) return;
    if (g_cli.verbose) cli_info(cmd, "--share-dek: %lu data key(s) used", kvs_dek_session_deks(s));
    kvs_dek_session_free(s);
}
