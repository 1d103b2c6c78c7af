/* kvseal(1): the man page, written in roff from the same option tables as
 * --help (the build runs `kvseal --man`), so the page cannot fall behind the
 * program. The prose here is only what the tables do not hold. */
#define _DEFAULT_SOURCE
#include <stdio.h>

#include "cli/cli.h"

/* Text as roff input: backslashes and minus signs escaped, and a line that
 * would start with a control character ('.' or '\'') made literal. */
static void put_text(FILE *f, const char *s)
{
    int line_start = 1;
    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        line_start = *s == '\n';
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

static void put_line(FILE *f, const char *s)
{
    put_text(f, s);
    fputc('\n', f);
}

/* One option as a tagged paragraph: "-r, --recipient KEY". */
static void put_opt(FILE *f, const cli_opt *o)
{
    fputs(".TP\n", f);
    if (o->key > 0 && o->key < 128)
        fprintf(f, "\\fB\\-%c\\fR, ", (char)o->key);
    fputs("\\fB\\-\\-", f);
    put_text(f, o->name);
    fputs("\\fR", f);
    if (o->arg) {
        fputs(" \\fI", f);
        put_text(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    put_line(f, o->help);
}

static void put_opts(FILE *f, const cli_opt *opts)
{
    for (; opts && opts->name; opts++)
        if (opts->help)
            put_opt(f, opts);
}

/* Synopsis lines as they are, unfilled. */
static void put_synopsis(FILE *f, const char *synopsis)
{
    fputs(".nf\n", f);
    put_line(f, synopsis);
    fputs(".fi\n", f);
}

static void put_command(FILE *f, const cli_command *c)
{
    fputs(".SS ", f);
    put_line(f, c->name);
    put_synopsis(f, c->spec->synopsis);
    fputs(".PP\n", f);
    put_line(f, c->spec->about);
    put_opts(f, c->spec->opts);
    if (c->spec->notes) {
        fputs(".PP\n", f);
        put_line(f, c->spec->notes);
    }
}

static const char exit_status[] =
    ".TP\n0\nsuccess\n"
    ".TP\n1\nusage or configuration error\n"
    ".TP\n2\nnot a valid or authentic kvseal file\n"
    ".TP\n3\nno recipient could be unwrapped (wrong key, Key Vault refused or unreachable)\n"
    ".TP\n4\nlocal I/O error\n"
    ".TP\n5\ninternal error or out of memory\n"
    ".TP\n6\n(audit only) some file depends only on keys that need attention\n"
    ".TP\n129, 130, 143\nkilled by SIGHUP, SIGINT, SIGTERM (temporary files are removed)\n";

void cli_man_page(FILE *f, const cli_spec *top, const cli_command *commands)
{
    fprintf(f, ".TH KVSEAL 1 \"\" \"kvseal %s\" \"User Commands\"\n", KVSEAL_VERSION_STRING);
    fputs(".SH NAME\nkvseal \\- encrypt files for keys in Azure Key Vault or local RSA keys\n"
          ".SH SYNOPSIS\n",
          f);
    put_synopsis(f, top->synopsis);
    fputs(".SH DESCRIPTION\n", f);
    put_line(f, top->about);
    fputs(".PP\nEvery failure prints one line on standard error,\n"
          "\\(lqkvseal: COMMAND: message\\(rq; messages never contain a secret.\n"
          "Options and operands may come in any order; \\fB\\-\\-\\fR ends the options.\n"
          ".SH OPTIONS\nBefore the command name (\\fB\\-h\\fR, \\fB\\-q\\fR and \\fB\\-v\\fR"
          " also after it):\n",
          f);
    put_opts(f, cli_common_opts);
    put_opts(f, top->opts);
    fputs(".SH COMMANDS\n", f);
    for (const cli_command *c = commands; c->name; c++)
        put_command(f, c);
    fputs(".SH EXIT STATUS\n", f);
    fputs(exit_status, f);
    fputs(".SH SEE ALSO\n"
          "The command-line reference docs/CLI.md, the Key Vault guide docs/KEYVAULT.md\n"
          "and the file format docs/FORMAT.md in the kvseal sources.\n",
          f);
}
