/* Option parsing helpers: a getopt_long wrapper, numbers, and the options
 * shared by the commands that run jobs. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    for (;;) {
        opterr = 0; /* we print our own one-line errors */
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (c == 'q') {
            g_cli.quiet = 1;
            g_cli.verbose = 0;
            continue;
        }
        if (c == 'v') {
            g_cli.verbose = 1;
            g_cli.quiet = 0;
            continue;
        }
        if (c == '?' || c == ':') {
            /* A failed long option is the argv word just consumed; a short
             * one may sit inside a group ("-fx"), so name it by optopt. */
            const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
            char shortname[3] = {'-', (char)optopt, '\0'};
            int is_long = strncmp(word, "--", 2) == 0;
            const char *name = is_long || optopt <= 0 || optopt > 127 ? word : shortname;
            if (c == ':')
                cli_error(cmd, CLI_EXIT_USAGE, "option '%s' needs a value", name);
            else
                cli_error(cmd, CLI_EXIT_USAGE, "unknown option '%s' (see 'kvseal %s --help')",
                          name, cmd);
            return '?';
        }
        return c;
    }
}

/* strtoull accepts spaces and a minus sign (which wraps); require a digit. */
static int parse_digits(const char *arg, uint64_t *out, const char **end)
{
    if (!arg || *arg < '0' || *arg > '9')
        return -1;
    char *e = NULL;
    errno = 0;
    unsigned long long v = strtoull(arg, &e, 10);
    if (errno != 0 || e == arg)
        return -1;
    *out = (uint64_t)v;
    *end = e;
    return 0;
}

static int size_multiplier(const char *suffix, uint64_t *mult)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {
        {"", 1},
        {"K", 1024},       {"KiB", 1024},
        {"M", 1024 * 1024}, {"MiB", 1024 * 1024},
        {"G", 1024ull * 1024 * 1024}, {"GiB", 1024ull * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(suffix, units[i].name) == 0) {
            *mult = units[i].mult;
            return 0;
        }
    }
    return -1;
}

int cli_parse_size(const char *cmd, const char *opt, const char *arg, uint64_t *out)
{
    uint64_t v = 0, mult = 1;
    const char *end = NULL;
    if (parse_digits(arg, &v, &end) != 0 || size_multiplier(end, &mult) != 0)
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "%s: invalid size '%s' (bytes, or a number with K, M or G)", opt,
                         arg);
    if (v > UINT64_MAX / mult)
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: size '%s' is too large", opt, arg);
    *out = v * mult;
    return 0;
}

int cli_parse_uint(const char *cmd, const char *opt, const char *arg, uint64_t min,
                   uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    const char *end = NULL;
    if (parse_digits(arg, &v, &end) != 0 || *end != '\0')
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: invalid number '%s'", opt, arg);
    if (v < min || v > max)
        return cli_error(cmd, CLI_EXIT_USAGE, "%s: %s is out of range (%llu to %llu)", opt,
                         arg, (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* FORMAT.md: at most 64 pairs, keys and values at most 1024 bytes. Checked
 * here too so that a bad --context is a usage error with a clear message. */
static int context_add(const char *cmd, cli_context_list *l, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_error(cmd, CLI_EXIT_USAGE, "--context: expected KEY=VALUE, got '%s'", arg);
    size_t klen = (size_t)(eq - arg), vlen = strlen(eq + 1);
    if (klen > KVS_MAX_CONTEXT_LEN || vlen > KVS_MAX_CONTEXT_LEN)
        return cli_error(cmd, CLI_EXIT_USAGE,
                         "--context: keys and values are limited to %d bytes",
                         KVS_MAX_CONTEXT_LEN);
    if (l->n >= KVS_MAX_CONTEXT)
        return cli_error(cmd, CLI_EXIT_USAGE, "--context: at most %d pairs", KVS_MAX_CONTEXT);
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->pairs[i].key) == klen && memcmp(l->pairs[i].key, arg, klen) == 0) /* not secret */
            return cli_error(cmd, CLI_EXIT_USAGE, "--context: key '%.*s' given twice",
                             (int)klen, arg);
    }
    char *copy = strdup(arg);
    if (!copy)
        return cli_error(cmd, CLI_EXIT_INTERNAL, "out of memory");
    copy[klen] = '\0';
    l->storage[l->n] = copy;
    l->pairs[l->n].key = copy;
    l->pairs[l->n].value = copy + klen + 1;
    l->n++;
    return 0;
}

static void context_free(cli_context_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->storage[i]);
    l->n = 0;
}

int cli_job_option(const char *cmd, int c, const char *arg, cli_job_opts *j)
{
    uint64_t v = 0;
    switch (c) {
    case CLI_OPT_JOB_CONTEXT:
        return context_add(cmd, &j->context, arg);
    case CLI_OPT_JOB_THREADS:
        if (cli_parse_uint(cmd, "--threads", arg, 0, 1024, &v) != 0)
            return CLI_EXIT_USAGE;
        j->threads = (unsigned)v;
        return 0;
    case CLI_OPT_JOB_PASS_FILE:
        j->pass_file = arg;
        return 0;
    case CLI_OPT_JOB_PASS_ENV:
        j->pass_env = arg;
        return 0;
    default:
        return -1;
    }
}

void cli_job_opts_free(cli_job_opts *j)
{
    context_free(&j->context);
}
