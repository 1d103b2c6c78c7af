/* Option parsing helpers: a getopt_long wrapper, numbers, and the options
 * shared by the commands that run jobs. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

/* A failed option: a long one is the argv word just consumed; a short one
 * may sit inside a group ("-fx"), so name it by optopt. */
static int report_bad_option(const char *cmd, int argc, char **argv, int c)
{
    const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    char shortname[3] = {'-', (char)optopt, '\0'};
    int is_long = strncmp(word, "--", 2) == 0;
    const char *name = is_long || optopt <= 0 || optopt > 127 ? word : shortname;
    if (c == ':')
        cli_error(cmd, CLI_EXIT_USAGE, "option '%s' needs a value", name);
    else if (cmd)
        cli_error(cmd, CLI_EXIT_USAGE, "unknown option '%s' (see 'kvseal %s --help')", name,
                  cmd);
    else
        cli_error(NULL, CLI_EXIT_USAGE, "unknown option '%s' (see 'kvseal --help')", name);
    return '?';
}

/* -q and -v may come before the command name and after it; the last wins. */
static int global_flag(int c)
{
    if (c == 'q') {
        g_cli.quiet = 1;
        g_cli.verbose = 0;
        return 1;
    }
    if (c == 'v') {
        g_cli.verbose = 1;
        g_cli.quiet = 0;
        return 1;
    }
    return 0;
}

const cli_opt cli_common_opts[] = {
    {"help", 'h', NULL, "print this help and exit"},
    {"quiet", 'q', NULL, "no informational output (errors are always printed)"},
    {"verbose", 'v', NULL, "say more on stderr (never a secret)"},
    {NULL, 0, NULL, NULL},
};

#define CLI_MAX_OPTS 64 /* rows of one command, common rows included */

/* getopt_long's view of a table, built when a command starts parsing. */
static struct option g_longopts[CLI_MAX_OPTS + 1];
static char g_shortopts[3 * CLI_MAX_OPTS + 3];
static const cli_spec *g_built;

static int is_short(int key)
{
    return key > 0 && key < 128 && ((key >= 'a' && key <= 'z') || (key >= 'A' && key <= 'Z'));
}

static size_t add_rows(const cli_opt *opts, size_t n, char **sp)
{
    for (; opts && opts->name; opts++) {
        if (n == CLI_MAX_OPTS)
            abort(); /* a table this large is a programming error */
        g_longopts[n++] = (struct option){opts->name,
                                          opts->arg ? required_argument : no_argument, NULL,
                                          opts->key};
        if (is_short(opts->key)) {
            *(*sp)++ = (char)opts->key;
            if (opts->arg)
                *(*sp)++ = ':';
        }
    }
    return n;
}

static void build(const cli_spec *spec, int stop_at_operand)
{
    char *sp = g_shortopts;
    if (stop_at_operand)
        *sp++ = '+';
    *sp++ = ':'; /* a missing value is ':', not '?' */
    size_t n = add_rows(spec->opts, 0, &sp);
    n = add_rows(cli_common_opts, n, &sp);
    *sp = '\0';
    g_longopts[n] = (struct option){NULL, 0, NULL, 0};
    g_built = spec;
}

int cli_next_opt(const cli_spec *spec, int argc, char **argv, int stop_at_operand)
{
    if (g_built != spec) {
        build(spec, stop_at_operand);
        optind = 0; /* glibc: start over, re-reading the ordering flag ('+') */
    }
    for (;;) {
        opterr = 0; /* we print our own one-line errors */
        int c = getopt_long(argc, argv, g_shortopts, g_longopts, NULL);
        if (global_flag(c))
            continue;
        if (c == '?' || c == ':')
            return report_bad_option(spec->name, argc, argv, c);
        return c;
    }
}

int cli_parse(const cli_spec *spec, int argc, char **argv, cli_opt_fn on_opt, void *ctx)
{
    int c;
    while ((c = cli_next_opt(spec, argc, argv, 0)) != -1) {
        if (c == 'h') {
            cli_print_help(stdout, spec);
            return CLI_EXIT_OK;
        }
        if (c == '?')
            return CLI_EXIT_USAGE;
        int rc = on_opt(c, optarg, ctx);
        if (rc != 0)
            return rc;
    }
    return -1;
}

/* ---- help text ---------------------------------------------------------- */

#define HELP_COLUMN 27 /* where the help text of an option starts */

/* "  -r, --recipient KEY" padded to the help column; a longer one gets its
 * help on the next line. Continuation lines are indented to the column. */
static void print_row(FILE *f, const cli_opt *o)
{
    char left[96], flag[5] = "    ";
    if (is_short(o->key))
        snprintf(flag, sizeof flag, "-%c, ", (char)o->key);
    int n = snprintf(left, sizeof left, "  %s--%s%s%s", flag, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
    fputs(left, f);
    if (n + 2 > HELP_COLUMN)
        fprintf(f, "\n%*s", HELP_COLUMN, "");
    else
        fprintf(f, "%*s", HELP_COLUMN - n, "");
    for (const char *h = o->help; *h; h++) {
        fputc(*h, f);
        if (*h == '\n')
            fprintf(f, "%*s", HELP_COLUMN, "");
    }
    fputc('\n', f);
}

void cli_print_opts(FILE *f, const cli_opt *opts)
{
    for (; opts && opts->name; opts++)
        if (opts->help)
            print_row(f, opts);
}

/* "Usage: " and the synopsis, its further lines indented to match. */
static void print_synopsis(FILE *f, const char *synopsis)
{
    fputs("Usage: ", f);
    for (const char *s = synopsis; *s; s++) {
        fputc(*s, f);
        if (*s == '\n')
            fputs("       ", f);
    }
    fputc('\n', f);
}

void cli_print_help(FILE *f, const cli_spec *spec)
{
    print_synopsis(f, spec->synopsis);
    fprintf(f, "\n%s\n\n", spec->about);
    cli_print_opts(f, spec->opts);
    cli_print_opts(f, cli_common_opts);
    if (spec->notes)
        fprintf(f, "\n%s\n", spec->notes);
}

void cli_list_opts(FILE *f, const char *cmd, const cli_opt *opts)
{
    for (; opts && opts->name; opts++) {
        if (!opts->help)
            continue;
        fprintf(f, "%s --%s%s%s", cmd, opts->name, opts->arg ? " " : "", opts->arg ? opts->arg : "");
        if (is_short(opts->key))
            fprintf(f, " -%c", (char)opts->key);
        fputc('\n', f);
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
