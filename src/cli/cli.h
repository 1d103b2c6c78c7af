/* Internal interfaces shared by the kvseal command-line tool (src/cli).
 *
 * Conventions: a command returns a process exit code (see exitcode.c). Every
 * failure is reported as exactly one line on stderr, "kvseal: <cmd>: <msg>",
 * by the function that detects it; callers then only propagate the code. */
#ifndef KVS_CLI_H
#define KVS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kvseal/kvseal.h"

/* Exit codes (docs/CLI.md). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,    /* usage or configuration */
    CLI_EXIT_INPUT = 2,    /* not a valid or authentic kvseal file */
    CLI_EXIT_KEY = 3,      /* no recipient could be unwrapped */
    CLI_EXIT_IO = 4,       /* local I/O */
    CLI_EXIT_INTERNAL = 5, /* internal failure or out of memory */
    CLI_EXIT_TRANSIENT = 7, /* key service unreachable or unavailable: retry later */
    CLI_EXIT_SIGINT = 130,
    CLI_EXIT_SIGTERM = 143
};

/* Most keys accepted by -r / -k. */
#define CLI_MAX_KEYS KVS_MAX_RECIPIENTS

/* Flags accepted both before the command name and after it. */
typedef struct cli_globals {
    int quiet;
    int verbose;
} cli_globals;

extern cli_globals g_cli;

/* ---- subcommands (cmd_*.c); argv[0] is the command name ---- */
typedef int (*cli_command_fn)(int argc, char **argv);
int cli_cmd_encrypt(int argc, char **argv);
int cli_cmd_decrypt(int argc, char **argv);
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_keygen(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_rewrap(int argc, char **argv);
int cli_cmd_audit(int argc, char **argv);

/* ---- manpage.c ---- */
struct cli_spec;
typedef struct cli_command {
    const char *name; /* NULL ends the list */
    cli_command_fn run;
    const char *summary;
    const struct cli_spec *spec;
} cli_command;

/* kvseal(1) in roff, from the tables: top is the top level's table,
 * commands the list main.c dispatches to. */
void cli_man_page(FILE *f, const struct cli_spec *top, const cli_command *commands);

/* ---- exitcode.c ---- */
int cli_exit_code(kvs_status status);
/* Print "kvseal: <cmd>: <formatted message>" (one line, control characters
 * replaced) and return exit_code. */
int cli_error(const char *cmd, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Report a library failure: optional subject (a file name) and the error's
 * message; returns cli_exit_code(status). */
int cli_error_status(const char *cmd, const char *subject, const kvs_error *err);
/* Fill err (may be NULL) with status and a one-line detail; returns status.
 * For failures the CLI finds itself in a job the library runs. */
kvs_status cli_fail(kvs_error *err, kvs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Informational line on stderr (suppressed by --quiet). */
void cli_info(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options.c: option tables ---- */
/* One row of a command's option table: parsing (getopt_long), --help, the
 * man page and the list that tests compare with docs/CLI.md all come from
 * these rows, so a new option is one row plus its case in the command. */
typedef struct cli_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    int key;          /* the short letter, or a CLI_OPT_* value above 255 */
    const char *arg;  /* argument name shown in help; NULL: takes none */
    const char *help; /* "\n" starts a continuation line; NULL: hidden */
} cli_opt;

/* First key for options without a short letter (clear of every letter). */
#define CLI_OPT_LONG_ONLY 256

/* A command: its synopsis, text and option table. */
typedef struct cli_spec {
    const char *name;     /* "encrypt"; NULL for the top level ("kvseal") */
    const char *synopsis; /* "kvseal CMD ..."; printed after "Usage: " */
    const char *about;    /* paragraph before the options */
    const cli_opt *opts;  /* the command's own rows; -h, -q, -v are added */
    const char *notes;    /* paragraph after the options, or NULL */
} cli_spec;

/* Options of every command: --help, --quiet, --verbose. */
extern const cli_opt cli_common_opts[];

/* getopt_long over spec's table with kvseal's error reporting: returns the
 * row's key, -1 at the end of options, or '?' after printing a usage
 * error. -q/-v are handled here and never returned; 'h' is. With
 * stop_at_operand, parsing ends at the first operand (the top level's
 * command word). */
int cli_next_opt(const cli_spec *spec, int argc, char **argv, int stop_at_operand);

/* The usual loop over a command's options: --help prints the help (returns
 * 0), every other option goes to on_opt(key, optarg, ctx), which returns 0
 * or an exit code after printing. Returns -1 when the operands start at
 * optind, else the exit code. */
typedef int (*cli_opt_fn)(int key, const char *arg, void *ctx);
int cli_parse(const cli_spec *spec, int argc, char **argv, cli_opt_fn on_opt, void *ctx);

/* Print the options of a table (without the common rows) as --help does. */
void cli_print_opts(FILE *f, const cli_opt *opts);
/* --help of a command: usage, about, its options and the common ones, notes. */
void cli_print_help(FILE *f, const cli_spec *spec);
/* One line per visible row, "<cmd> --long[ ARG][ -s]", for the tests. */
void cli_list_opts(FILE *f, const char *cmd, const cli_opt *opts);

/* The commands' tables (cmd_*.c) and the top level's (main.c). */
extern const cli_spec cli_spec_kvseal;
extern const cli_spec cli_spec_inspect;
extern const cli_spec cli_spec_keygen;
extern const cli_spec cli_spec_verify;
extern const cli_spec cli_spec_audit;
extern const cli_spec cli_spec_rewrap;
extern const cli_spec cli_spec_encrypt;
extern const cli_spec cli_spec_decrypt;
extern const cli_spec cli_spec_bench;

/* Rows shared by several commands (help wording that differs per command
 * stays in the command's own rows). */
#define CLI_OPT_ROW_THREADS                                                                \
    {"threads", CLI_OPT_JOB_THREADS, "N",                                                  \
     "worker threads (default: online CPUs, 1-2 fewer\nwith pipes)"}
#define CLI_OPT_ROWS_PASSPHRASE                                                            \
    {"passphrase-file", CLI_OPT_JOB_PASS_FILE, "F",                                        \
     "passphrase of encrypted private keys, from file F"},                                 \
        {"passphrase-env", CLI_OPT_JOB_PASS_ENV, "NAME", "... from environment variable NAME"}
#define CLI_OPT_ROW_FORCE                                                                  \
    {"force", 'f', NULL, "replace an existing OUT; allow a terminal as output"}

/* Size: decimal bytes with an optional K/KiB, M/MiB or G/GiB suffix (powers of
 * 1024). Returns 0 or CLI_EXIT_USAGE after printing the reason. */
int cli_parse_size(const char *cmd, const char *opt, const char *arg, uint64_t *out);
/* Plain decimal in [min, max]. Returns 0 or CLI_EXIT_USAGE after printing. */
int cli_parse_uint(const char *cmd, const char *opt, const char *arg, uint64_t min,
                   uint64_t max, uint64_t *out);

typedef struct cli_context_list {
    kvs_context_pair pairs[KVS_MAX_CONTEXT];
    char *storage[KVS_MAX_CONTEXT]; /* "key\0value", owns the pair strings */
    size_t n;
} cli_context_list;

/* Options of the commands that run jobs (encrypt, decrypt, verify); each
 * command has its own rows for them, which word the help differently. */
enum { /* clear of other option values */
    CLI_OPT_JOB_CONTEXT = 0x5300,
    CLI_OPT_JOB_THREADS,
    CLI_OPT_JOB_PASS_FILE,
    CLI_OPT_JOB_PASS_ENV
};
typedef struct cli_job_opts {
    cli_context_list context; /* --context, repeatable */
    unsigned threads;         /* --threads; 0: online CPUs */
    const char *pass_file;    /* --passphrase-file */
    const char *pass_env;     /* --passphrase-env */
} cli_job_opts;

/* Handle one of these options. Returns -1 if c is not one, else 0 or an
 * exit code after printing. */
int cli_job_option(const char *cmd, int c, const char *arg, cli_job_opts *j);
void cli_job_opts_free(cli_job_opts *j);

/* ---- secrets.c ---- */
typedef struct cli_secret {
    char *buf;  /* NUL-terminated, in kvs_secure_alloc memory; NULL if none */
    size_t cap; /* allocation length */
} cli_secret;

/* Read a passphrase from a file or an environment variable (at most one of
 * file/env non-NULL; both NULL leaves s empty). One trailing newline is
 * stripped. Returns 0 or an exit code after printing. */
int cli_secret_read(const char *cmd, const char *file, const char *env, cli_secret *s);
void cli_secret_free(cli_secret *s);

/* ---- keyspec.c ---- */
/* Turn a KEY argument into a provider: a PEM file path today; an https://
 * Key Vault key URL is reserved for the Key Vault provider. */
kvs_status cli_provider_from_spec(const char *spec, const char *passphrase,
                                  kvs_provider **out, kvs_error *err);

typedef struct cli_keys {
    const char *spec[CLI_MAX_KEYS];
    kvs_provider *prov[CLI_MAX_KEYS];
    size_t n;
} cli_keys;

/* Remember a KEY argument; returns 0 or CLI_EXIT_USAGE if there are too many. */
int cli_keys_add(const char *cmd, const char *opt, cli_keys *k, const char *spec);
/* Load every remembered key. Returns 0 or an exit code after printing. */
int cli_keys_load(const char *cmd, cli_keys *k, const char *passphrase);
/* Read the passphrase (if any option names one), load every key, wipe the
 * passphrase. Returns 0 or an exit code after printing. */
int cli_keys_load_secret(const char *cmd, cli_keys *k, const char *pass_file,
                         const char *pass_env);
void cli_keys_free(cli_keys *k);

/* ---- output.c ---- */
/* NULL or "-" names stdin/stdout. */
int cli_is_stdio(const char *name);

typedef enum cli_target_kind {
    CLI_TARGET_STDOUT, /* write to fd 1, streaming */
    CLI_TARGET_FILE,   /* temp file beside the target, renamed on success */
    CLI_TARGET_STREAM, /* an existing character device, opened and written in place */
    CLI_TARGET_FIFO,   /* an existing FIFO: written in place, only with --force */
    CLI_TARGET_DIR     /* an existing directory: one output per input */
} cli_target_kind;

/* Classify the -o argument by lstat: a symbolic link is FILE (replaced,
 * never followed) unless it leads to a directory. */
cli_target_kind cli_target_classify(const char *out);

/* Refuse an existing target (a symbolic link included) without --force
 * (prints, returns CLI_EXIT_USAGE). */
int cli_check_overwrite(const char *cmd, const char *path, int force);
/* Refuse writing `what` to a terminal fd without --force. */
int cli_check_not_tty(const char *cmd, int fd, int force, const char *what);

/* Last path component of path (trailing slashes ignored), copied into buf. */
int cli_basename(const char *path, char *buf, size_t cap);
/* dir + "/" + name + suffix into a new malloc() string, or NULL. */
char *cli_path_join(const char *dir, const char *name, const char *suffix);

/* What one encrypt/decrypt job does, in the two shapes the library offers. */
typedef struct cli_io_ops {
    /* Input fd to output fd; file outputs are wrapped in an atomic temp file
     * that the signal handlers know about. */
    kvs_status (*run_fd)(void *ctx, int in_fd, int out_fd, kvs_error *err);
    /* Optional: an input that is a blob URL (kvs_is_blob_url), which the
     * job reads itself; without it such an input is opened as a path. */
    kvs_status (*run_url)(void *ctx, const char *url, int out_fd, kvs_error *err);
    /* Optional, called after a job succeeded (verbose reporting). */
    void (*after)(void *ctx, const char *in, const char *out);
    void *ctx;
    const char *what; /* "ciphertext", "plaintext": for the terminal check */
} cli_io_ops;

/* Run one job from in (NULL/"-" = stdin) to out (NULL/"-" = stdout, else a
 * file path or an existing device). Prints its own failure; returns an exit
 * code. */
int cli_run_io(const char *cmd, const cli_io_ops *ops, const char *in, const char *out,
               int force);

/* Output file name for an input's basename, written to buf; -1 if none. */
typedef int (*cli_out_name_fn)(const char *base, char *buf, size_t cap);

/* Run ops over inputs (n == 0: stdin). Several inputs, or any input with an
 * -o naming an existing directory, write one file per input into that
 * directory, named by name_fn. Every input is attempted; the exit code is
 * that of the first failure. */
int cli_run_inputs(const char *cmd, const cli_io_ops *ops, char *const *inputs, size_t n,
                   const char *out, int force, cli_out_name_fn name_fn);

/* cli_run_inputs where rel (or NULL) gives, for inputs listed under a blob
 * prefix, their names below it (NULL for other inputs): such an input is
 * written to DIR/rel's directories/name_fn(rel's last part), directories
 * created as needed, and a name that is not a safe relative path fails on
 * its own (exit 2) while the others go on. rel needs -o DIR. */
int cli_run_inputs_rel(const char *cmd, const cli_io_ops *ops, char *const *inputs,
                       char *const *rel, size_t n, const char *out, int force,
                       cli_out_name_fn name_fn);

/* Open an input path read-only (or return 0 for stdin). -1 on failure with
 * err set. */
int cli_open_input(const char *in, kvs_error *err);

/* Every terminating signal (SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, ...):
 * the handler cuts a file being written out of order back to its complete
 * prefix (kvs_output_cut_on_signal), unlinks the registered temp path, and
 * exits 128 + the signal number. All async-signal-safe. */
void cli_install_signal_handlers(void);
void cli_register_temp_path(const char *path);
void cli_unregister_temp_path(void);

/* Terminal-safe printing of untrusted header text (escapes control bytes). */
void cli_print_escaped(FILE *f, const char *s);

/* ---- progress.c ---- */
enum { CLI_OPT_PROGRESS = 0x5000, CLI_OPT_NO_PROGRESS }; /* clear of other option values */
#define CLI_PROGRESS_ROWS                                                                  \
    {"progress", CLI_OPT_PROGRESS, NULL,                                                   \
     "show bytes done, rate and time left on stderr\n(default: only when stderr is a terminal)"}, \
        {"no-progress", CLI_OPT_NO_PROGRESS, NULL, "never show progress"}

typedef enum cli_progress_mode {
    CLI_PROGRESS_AUTO, /* only when stderr is a terminal, the output is not, no -q */
    CLI_PROGRESS_ON,   /* --progress: always, also into files and pipes */
    CLI_PROGRESS_OFF   /* --no-progress */
} cli_progress_mode;

/* Handle --progress / --no-progress: returns 1 if c was one of them. */
int cli_progress_option(int c, cli_progress_mode *mode);

/* One job's meter. */
typedef struct cli_progress {
    const char *cmd;
    int on, forced, drawn;
    uint64_t total; /* input bytes when known (a regular file), else 0 */
    uint64_t done;
    double start, next_draw;
    size_t width;   /* length of the line drawn last */
} cli_progress;

/* Start a meter for a job reading in_fd and writing out_fd (-1: none). */
void cli_progress_start(cli_progress *p, const char *cmd, cli_progress_mode mode, int in_fd,
                        int out_fd);
/* The library's progress callback; arg is the cli_progress. Redraws at most
 * a few times a second. */
void cli_progress_update(uint64_t bytes_done, void *arg);
/* End the line: after success with a summary (always with --progress; in
 * auto mode only if something was drawn), after failure with just a newline
 * so that the error message gets its own line. */
void cli_progress_finish(cli_progress *p, int ok);

#endif
