/* kvseal audit: which key versions protect which files, and whether those
 * versions are still current in their vaults (evidence for key rotation). */
#define _DEFAULT_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"
#include "cli/kvopts.h"
#include "cli/signopts.h"

static const char *const CMD = "audit";

/* Exit code when some file depends only on keys that need attention. */
#define AUDIT_EXIT_FINDINGS 6
#define AUDIT_SCHEMA "kvseal-audit/1"

enum { OPT_JSON = CLI_OPT_LONG_ONLY, OPT_MAX_AGE, OPT_VERIFY_HEADERS };

static const cli_opt options[] = {
    {"json", OPT_JSON, NULL, "one JSON document (schema kvseal-audit/1, docs/CLI.md)"},
    {"max-age", OPT_MAX_AGE, "DAYS", "versions created more than DAYS days ago count as stale"},
    {"verify-headers", OPT_VERIFY_HEADERS, NULL,
     "unwrap each file's data key and verify its header tag\nfirst: without it the report rests "
     "on headers that\nanyone holding a recipient's public key can write"},
    {"key", 'k', "KEY",
     "with --verify-headers: private key PEM file or Key\nVault key URL to unwrap with; "
     "repeatable; without -k:\nany Key Vault key the file names on an allowed host"},
    {"context", CLI_OPT_JOB_CONTEXT, "KEY=VALUE", "with --verify-headers: require this context pair"},
    {"passphrase-file", CLI_OPT_JOB_PASS_FILE, "F", "passphrase of encrypted private keys, from file F"},
    {"passphrase-env", CLI_OPT_JOB_PASS_ENV, "NAME", "... from environment variable NAME"},
    CLI_REQUIRE_SIGNER_ROW("fail every file not signed by KEY (a PEM file or a\n"
                           "Key Vault key URL): its signature, signer and segment\n"
                           "roots are verified, no data key needed (files and\n"
                           "blobs)"),
    CLI_KV_ROWS_COMMON,
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_audit = {
    .name = "audit",
    .synopsis = "kvseal audit [--json] [--max-age DAYS] [--verify-headers [-k KEY ...]]\n"
                "[--require-signer KEY] PATH...",
    .about = "For every kvseal file (directories are walked; a blob URL, or a container or\n"
             "prefix URL ending in '/' for every blob under it), list each recipient's key and\n"
             "version, whether the version is the vault's current one, and its age. Only\n"
             "allowed vault hosts are asked; the others are listed as skipped.",
    .opts = options,
    .notes = "A file is ok when at least one of its Key Vault recipients is the current,\n"
             "enabled version of its key (and not older than --max-age). Exit codes: 0 every\n"
             "file ok (or protected only by offline keys); with --verify-headers first 2 if\n"
             "some header failed verification or, with --require-signer, some file is not\n"
             "signed by KEY or its signature failed; 6 some file depends only on non-current,\n"
             "disabled, expired, missing or too old versions; otherwise 3 if some key or\n"
             "header could not be checked, 2 if some file is invalid, 4 on I/O errors.",
};

/* One key version, asked once per run. */
typedef struct key_state {
    char kid[KVS_MAX_KEY_ID_LEN + 1];
    kvs_status st;
    int host_skipped; /* the host policy forbids asking its vault: not contacted */
    kvs_keyvault_version_info info;
    char error[KVS_ERROR_DETAIL_MAX];
} key_state;

/* Hosts ("host" or "host:port") that files named but the policy forbids. */
typedef struct host_list {
    char **h;
    size_t n, cap;
} host_list;

typedef struct audit {
    int json;
    int has_max_age;
    uint64_t max_age_days;
    int verify_headers; /* --verify-headers */
    cli_keys keys;      /* -k, or any Key Vault key, to unwrap with */
    cli_job_opts job;   /* --context, --passphrase-* */
    cli_sign_opts sign; /* --require-signer */
    kvs_signer_check *require;
    int64_t now;
    key_state **keys_seen; /* stable addresses: evaluations point at them */
    size_t n_keys, cap_keys;
    host_list skipped_hosts;
    cJSON *files; /* --json */
    size_t n_files, ok, stale, unknown, offline, invalid, skipped, io_errors;
    size_t header_failed, unverified; /* --verify-headers */
    size_t signer_failed, signer_unchecked; /* --require-signer */
} audit;

/* The signer of one file: verified (--require-signer) or not asked. */
enum { SV_NOT_ASKED = -1, SV_FAILED = 0, SV_VERIFIED = 1 };

/* Header verification of one file (--verify-headers). */
enum { HV_NOT_ASKED = -1, HV_FAILED = 0, HV_VERIFIED = 1 };

/* One recipient's state. */
typedef struct rec_eval {
    const char *status; /* current, not-current, disabled, expired, not-yet-valid,
                           missing, unchecked, skipped-host, offline, unknown-type */
    const key_state *ks;
    int64_t age_days;   /* -1: unknown */
    int too_old;
    int ok;
} rec_eval;

/* ---- key versions ----------------------------------------------------------- */

/* Remember the host of a kid the policy forbids, once. The kid passed the
 * header's grammar (FORMAT.md §5): its host[:port] runs from "https://" to the
 * next '/', and is compared without regard to case. */
static void note_skipped_host(audit *a, const char *kid)
{
    const char *s = kid + strlen("https://");
    char *host = strndup(s, strcspn(s, "/"));
    if (!host) return;
    for (char *p = host; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    host_list *l = &a->skipped_hosts;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->h[i], host) == 0) {
            free(host);
            return;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **p = realloc(l->h, cap * sizeof *p);
        if (!p) {
            free(host);
            return;
        }
        l->h = p;
        l->cap = cap;
    }
    l->h[l->n++] = host;
}

static const key_state *key_lookup(audit *a, const char *kid)
{
    for (size_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys_seen[i]->kid, kid) == 0) return a->keys_seen[i];
    if (a->n_keys == a->cap_keys) {
        size_t cap = a->cap_keys ? 2 * a->cap_keys : 16;
        key_state **p = realloc(a->keys_seen, cap * sizeof *p);
        if (!p) return NULL;
        a->keys_seen = p;
        a->cap_keys = cap;
    }
    key_state *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    a->keys_seen[a->n_keys++] = k;
    kvs_error err;
    kvs_error_clear(&err);
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    /* The kid comes from an unauthenticated header: ask the policy before
     * anything (a name lookup included) happens for its host. */
    k->st = kvs_keyvault_host_allowed(kid, cli_kv_config(), &err);
    k->host_skipped = k->st == KVS_ERR_KEY_ACCESS;
    if (k->host_skipped) note_skipped_host(a, kid);
    if (k->st == KVS_OK) k->st = kvs_keyvault_key_info(kid, cli_kv_config(), &k->info, &err);
    if (k->st != KVS_OK) snprintf(k->error, sizeof k->error, "%s", kvs_error_message(&err));
    return k;
}

static const char *version_status(const kvs_keyvault_version_info *in, int64_t now)
{
    if (!in->enabled) return "disabled";
    if (in->exp && in->exp <= now) return "expired";
    if (in->nbf && in->nbf > now) return "not-yet-valid";
    return in->is_current ? "current" : "not-current";
}

static rec_eval evaluate(audit *a, const kvs_recipient *r)
{
    rec_eval e = {"unknown-type", NULL, -1, 0, 0};
    if (strcmp(r->type, KVS_RECIPIENT_RSA) == 0) e.status = "offline";
    if (strcmp(r->type, KVS_RECIPIENT_AZURE) != 0) return e;
    e.ks = key_lookup(a, r->key_id);
    if (!e.ks) {
        e.status = "unchecked";
        return e;
    }
    if (e.ks->st == KVS_ERR_KEY) e.status = "missing"; /* 404: key or version gone */
    if (e.ks->st != KVS_OK && e.ks->st != KVS_ERR_KEY) e.status = "unchecked";
    if (e.ks->host_skipped) e.status = "skipped-host";
    if (e.ks->st != KVS_OK) return e;
    e.status = version_status(&e.ks->info, a->now);
    if (e.ks->info.created > 0) e.age_days = (a->now - e.ks->info.created) / 86400;
    e.too_old = a->has_max_age && e.ks->info.created > 0 &&
                (uint64_t)(a->now - e.ks->info.created) > a->max_age_days * 86400u;
    e.ok = strcmp(e.status, "current") == 0 && !e.too_old;
    return e;
}

/* ok: some vault recipient is current; offline-only: no vault recipient;
 * unknown: none ok and some could not be checked (or was skipped); else stale. */
static const char *verdict(const rec_eval *ev, size_t n)
{
    int vault = 0, unchecked = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].ok) return "ok";
        int not_asked = strcmp(ev[i].status, "unchecked") == 0 ||
                        strcmp(ev[i].status, "skipped-host") == 0;
        vault += ev[i].ks != NULL || not_asked;
        unchecked += not_asked;
    }
    if (!vault) return "offline-only";
    return unchecked ? "unknown" : "stale";
}

static void count_verdict(audit *a, const char *v)
{
    if (strcmp(v, "ok") == 0) a->ok++;
    else if (strcmp(v, "stale") == 0) a->stale++;
    else if (strcmp(v, "unknown") == 0) a->unknown++;
    else if (strcmp(v, "offline-only") == 0) a->offline++;
    else if (strcmp(v, "header-failed") == 0) a->header_failed++;
    else if (strcmp(v, "unverified") == 0) a->unverified++;
    else if (strcmp(v, "signer-failed") == 0) a->signer_failed++;
    else if (strcmp(v, "signer-unchecked") == 0) a->signer_unchecked++;
    else a->invalid++;
}

/* ---- output ------------------------------------------------------------------ */

static void fmt_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%s", "");
}

/* The version part of a kid ("" if none). */
static const char *version_of(const char *kid)
{
    const char *s = strrchr(kid, '/');
    return s && strncmp(kid, "https://", 8) == 0 ? s + 1 : "";
}

/* Well-formed UTF-8: no overlong forms, surrogates or values past U+10FFFF. */
static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s++;
        unsigned n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                   : c >= 0xF0 && c <= 0xF4 ? 3 : 4;
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (n == 4) return 0;
        for (unsigned i = 0; i < n; i++, s++) /* a NUL is below every bound */
            if (*s < (i ? 0x80 : lo) || *s > (i ? 0xBF : hi)) return 0;
    }
    return 1;
}

/* JSON strings must be UTF-8: other bytes of a path become '?'. */
static cJSON *json_text(const char *s)
{
    if (utf8_valid(s)) return cJSON_CreateString(s);
    char *c = strdup(s);
    if (!c) return NULL;
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80) *p = '?';
    cJSON *j = cJSON_CreateString(c);
    free(c);
    return j;
}

static void json_time_or_null(cJSON *o, const char *name, int64_t t)
{
    char buf[32];
    fmt_time(t, buf, sizeof buf);
    if (buf[0]) cJSON_AddStringToObject(o, name, buf);
    else cJSON_AddNullToObject(o, name);
}

static cJSON *json_recipient(size_t idx, const kvs_recipient *r, const rec_eval *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "index", (double)idx);
    cJSON_AddItemToObject(o, "type", json_text(r->type));
    cJSON_AddStringToObject(o, "status", e->status);
    cJSON_AddBoolToObject(o, "ok", e->ok);
    if (strcmp(r->type, KVS_RECIPIENT_RSA) == 0) cJSON_AddStringToObject(o, "key_id", r->key_id);
    if (strcmp(r->type, KVS_RECIPIENT_AZURE) != 0) return o;
    cJSON_AddStringToObject(o, "kid", r->key_id);
    cJSON_AddStringToObject(o, "version", version_of(r->key_id));
    const key_state *k = e->ks;
    int known = k && k->st == KVS_OK;
    const char *cur = known ? version_of(k->info.current_kid) : "";
    if (cur[0]) cJSON_AddStringToObject(o, "current_version", cur);
    else cJSON_AddNullToObject(o, "current_version");
    if (known) cJSON_AddBoolToObject(o, "enabled", k->info.enabled);
    else cJSON_AddNullToObject(o, "enabled");
    json_time_or_null(o, "created", known ? k->info.created : 0);
    json_time_or_null(o, "updated", known ? k->info.updated : 0);
    json_time_or_null(o, "expires", known ? k->info.exp : 0);
    if (e->age_days >= 0) cJSON_AddNumberToObject(o, "age_days", (double)e->age_days);
    else cJSON_AddNullToObject(o, "age_days");
    cJSON_AddBoolToObject(o, "too_old", e->too_old);
    if (k && k->st != KVS_OK) cJSON_AddItemToObject(o, "error", json_text(k->error));
    return o;
}

/* "signer": null (unsigned, or no header), or what the header names and
 * whether --require-signer verified it (null: not asked). */
static void json_signer(cJSON *o, const kvs_header *h, int sv)
{
    if (!h || !h->signer.type[0]) {
        cJSON_AddNullToObject(o, "signer");
        return;
    }
    cJSON *s = cJSON_AddObjectToObject(o, "signer");
    if (!s) return;
    cJSON_AddItemToObject(s, "type", json_text(h->signer.type));
    cJSON_AddItemToObject(s, "id", json_text(h->signer.id));
    cJSON_AddItemToObject(s, "alg", json_text(h->signer.alg));
    if (sv == SV_NOT_ASKED) cJSON_AddNullToObject(s, "verified");
    else cJSON_AddBoolToObject(s, "verified", sv == SV_VERIFIED);
}

static void json_file(audit *a, const char *path, const char *v, int hv, int sv,
                      const kvs_header *h, const rec_eval *ev, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddItemToObject(o, "path", json_text(path));
    cJSON_AddStringToObject(o, "verdict", v);
    if (hv == HV_NOT_ASKED) cJSON_AddNullToObject(o, "header_verified");
    else cJSON_AddBoolToObject(o, "header_verified", hv == HV_VERIFIED);
    if (error) cJSON_AddItemToObject(o, "error", json_text(error));
    if (h && h->created[0]) cJSON_AddItemToObject(o, "created", json_text(h->created));
    else cJSON_AddNullToObject(o, "created");
    json_signer(o, h, sv);
    cJSON *rs = cJSON_AddArrayToObject(o, "recipients");
    for (size_t i = 0; h && ev && rs && i < h->n_recipients; i++)
        cJSON_AddItemToArray(rs, json_recipient(i, &h->recipients[i], &ev[i]));
    cJSON_AddItemToArray(a->files, o);
}

static void text_recipient(size_t idx, const kvs_recipient *r, const rec_eval *e)
{
    printf("  [%zu] ", idx);
    if (strcmp(r->type, KVS_RECIPIENT_AZURE) != 0) {
        cli_print_escaped(stdout, r->type);
        printf(" %s: %s\n", r->key_id, e->status);
        return;
    }
    printf("%s: %s", r->key_id, e->status);
    const key_state *k = e->ks;
    if (k && k->st == KVS_OK) {
        char when[32];
        fmt_time(k->info.created, when, sizeof when);
        if (!k->info.is_current && k->info.current_kid[0])
            printf(" (current version %s)", version_of(k->info.current_kid));
        if (when[0]) printf(", created %s, %lld days old", when, (long long)e->age_days);
        if (e->too_old) fputs(", older than --max-age", stdout);
    } else if (k) {
        fputs(" (", stdout);
        cli_print_escaped(stdout, k->error);
        fputs(")", stdout);
    }
    fputc('\n', stdout);
}

static void text_file(const char *path, const char *v, int hv, int sv, const kvs_header *h,
                      const rec_eval *ev, const char *error)
{
    cli_print_escaped(stdout, path);
    printf(": %s", v);
    if (hv == HV_VERIFIED) fputs(", header verified", stdout);
    if (error) {
        fputs(" (", stdout);
        cli_print_escaped(stdout, error);
        fputs(")", stdout);
    }
    fputc('\n', stdout);
    if (h && h->signer.type[0]) {
        fputs("  signer: ", stdout);
        cli_print_escaped(stdout, h->signer.type);
        fputc(' ', stdout);
        cli_print_escaped(stdout, h->signer.id);
        fputc(' ', stdout);
        cli_print_escaped(stdout, h->signer.alg);
        fputs(sv == SV_VERIFIED ? ", verified\n" : sv == SV_FAILED ? ", NOT verified\n" : "\n",
              stdout);
    } else if (h) {
        fputs("  signer: none\n", stdout);
    }
    for (size_t i = 0; h && ev && i < h->n_recipients; i++)
        text_recipient(i, &h->recipients[i], &ev[i]);
}

/* hv: HV_*; a header that failed verification is reported without its
 * recipients (h NULL): they are not evidence of anything. */
static void emit_sv(audit *a, const char *path, const char *v, int hv, int sv,
                    const kvs_header *h, const rec_eval *ev, const char *error)
{
    a->n_files++;
    count_verdict(a, v);
    if (a->json) json_file(a, path, v, hv, sv, h, ev, error);
    else text_file(path, v, hv, sv, h, ev, error);
}

static void emit(audit *a, const char *path, const char *v, int hv, const kvs_header *h,
                 const rec_eval *ev, const char *error)
{
    emit_sv(a, path, v, hv, SV_NOT_ASKED, h, ev, error);
}

/* ---- files --------------------------------------------------------------------- */

/* FORMAT.md section 2: the magic is "KVSEAL", a zero byte, the version. */
static const uint8_t kvseal_signature[7] = {'K', 'V', 'S', 'E', 'A', 'L', 0};

/* 1: starts with the kvseal magic (any version); 0: not a kvseal file;
 * -1: unreadable. */
static int has_magic(int fd)
{
    uint8_t m[KVS_MAGIC_LEN];
    ssize_t n = pread(fd, m, sizeof m, 0);
    if (n < 0) return -1;
    return (size_t)n == sizeof m &&
           memcmp(m, kvseal_signature, sizeof kvseal_signature) == 0; /* not secret */
}

/* --verify-headers: unwrap the data key and verify the header tag (and any
 * --context) as decrypt would, reading only the header. */
static kvs_status verify_header(const audit *a, int fd, kvs_error *err)
{
    kvs_decrypt_options opts = {.required_context = a->job.context.pairs,
                                .n_required_context = a->job.context.n};
    kvs_error_clear(err);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        err->status = KVS_ERR_IO;
        snprintf(err->detail, sizeof err->detail, "cannot rewind: %s", strerror(errno));
        return err->status;
    }
    return kvs_unlock_fd(fd, &opts, a->keys.prov, a->keys.n, NULL, err);
}

/* A header read (and verified when asked): its recipients evaluated. */
static void report_header(audit *a, const char *path, const kvs_header *h, int sv)
{
    int hv = a->verify_headers ? HV_VERIFIED : HV_NOT_ASKED;
    rec_eval *ev = calloc(h->n_recipients ? h->n_recipients : 1, sizeof *ev);
    for (size_t i = 0; ev && i < h->n_recipients; i++) ev[i] = evaluate(a, &h->recipients[i]);
    if (ev) emit_sv(a, path, verdict(ev, h->n_recipients), hv, sv, h, ev, NULL);
    free(ev);
}

/* --require-signer's outcome st for one file or blob (err its detail): 0
 * if it verified; else the file is reported here, its recipients left out
 * (they are not evidence of anything): "signer-failed" when the file is
 * unsigned, signed by another key or forged (the library's input failures,
 * KVS_ERR_SIGNER among them), "signer-unchecked" when the check itself could
 * not be made (a key service, local I/O, Blob Storage). */
static int signer_outcome(audit *a, const char *path, const kvs_header *h, kvs_status st,
                          const kvs_error *err)
{
    if (st == KVS_OK) return 0;
    int failed = kvs_status_category(st) == KVS_CAT_INPUT;
    emit_sv(a, path, failed ? "signer-failed" : "signer-unchecked",
            a->verify_headers ? HV_VERIFIED : HV_NOT_ASKED, SV_FAILED, h, NULL,
            kvs_error_message(err));
    return -1;
}

/* --require-signer: the file is signed by the required key, its signature
 * and every segment root verify (kvs_verify_signer_fd: no data key, nothing
 * decrypted). 0 if so (or not asked), else -1 and reported. */
static int check_signer(audit *a, const char *path, int fd, const kvs_header *h)
{
    kvs_error err;
    kvs_error_clear(&err);
    if (!a->require) return 0;
    kvs_status st = lseek(fd, 0, SEEK_SET) == 0
                        ? kvs_verify_signer_fd(fd, a->require, NULL, &err)
                        : cli_fail(&err, KVS_ERR_IO, "cannot rewind: %s", strerror(errno));
    return signer_outcome(a, path, h, st, &err);
}

static void audit_file(audit *a, const char *path, int named)
{
    kvs_error err;
    kvs_header *h = NULL;
    kvs_error_clear(&err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int magic = fd < 0 ? -1 : has_magic(fd);
    if (magic < 0) {
        a->io_errors++;
        cli_error(CMD, CLI_EXIT_IO, "%s: %s", path, strerror(errno));
    } else if (magic == 0 && !named) {
        a->skipped++; /* a walked directory may hold anything */
    } else if (kvs_header_read_fd(fd, &h, &err) != KVS_OK) {
        emit(a, path, "invalid", HV_NOT_ASKED, NULL, NULL, kvs_error_message(&err));
    } else if (a->verify_headers && verify_header(a, fd, &err) != KVS_OK) {
        /* A data key that fails the tag (a header edited without it) or a
         * missing --context fails; any other failure (no key unwrapped the
         * data key) leaves the header unverified. */
        int failed = kvs_status_category(err.status) == KVS_CAT_INPUT;
        emit(a, path, failed ? "header-failed" : "unverified", HV_FAILED, NULL, NULL,
             kvs_error_message(&err));
    } else if (check_signer(a, path, fd, h) == 0) {
        report_header(a, path, h, a->require ? SV_VERIFIED : SV_NOT_ASKED);
    }
    kvs_header_free(h);
    if (fd >= 0) close(fd);
}

/* ---- blobs ----------------------------------------------------------------------- */

/* One blob: its real header (one ranged Get; listing metadata is never
 * trusted). named: given as such, not found under a prefix, where blobs
 * that are not kvseal files are skipped as in a walked directory. */
/* --require-signer for a blob, as check_signer for a file
 * (kvs_blob_verify_signer: one pass over the blob pinned to its ETag). On
 * success *verified is the header of the blob that was checked. */
static int check_signer_blob(audit *a, const char *url, const kvs_header *h,
                             kvs_header **verified)
{
    kvs_error err;
    kvs_error_clear(&err);
    *verified = NULL;
    if (!a->require) return 0;
    kvs_status st = kvs_blob_verify_signer(url, cli_blob_config(), a->require, verified, &err);
    return signer_outcome(a, url, h, st, &err);
}

static void audit_blob(audit *a, const char *url, int named)
{
    kvs_error err;
    kvs_header *h = NULL, *verified = NULL;
    kvs_error_clear(&err);
    kvs_status st = kvs_blob_header_read(url, cli_blob_config(), &h, NULL, &err);
    if (st == KVS_ERR_NOT_KVSEAL && !named) {
        a->skipped++;
    } else if (st != KVS_OK && kvs_status_category(st) != KVS_CAT_INPUT) {
        a->io_errors++;
        cli_error_status(CMD, url, &err);
    } else if (st != KVS_OK) {
        emit(a, url, "invalid", HV_NOT_ASKED, NULL, NULL, kvs_error_message(&err));
    } else if (a->verify_headers) {
        kvs_decrypt_options opts = {.required_context = a->job.context.pairs,
                                    .n_required_context = a->job.context.n};
        kvs_error_clear(&err);
        if (kvs_blob_unlock(url, cli_blob_config(), &opts, a->keys.prov, a->keys.n, NULL, &err) !=
            KVS_OK) {
            int failed = kvs_status_category(err.status) == KVS_CAT_INPUT;
            emit(a, url, failed ? "header-failed" : "unverified", HV_FAILED, NULL, NULL,
                 kvs_error_message(&err));
        } else if (check_signer_blob(a, url, h, &verified) == 0) {
            report_header(a, url, verified ? verified : h, a->require ? SV_VERIFIED : SV_NOT_ASKED);
        }
    } else if (check_signer_blob(a, url, h, &verified) == 0) {
        /* the header reported is that of the blob whose signature verified */
        report_header(a, url, verified ? verified : h, a->require ? SV_VERIFIED : SV_NOT_ASKED);
    }
    kvs_header_free(verified);
    kvs_header_free(h);
}

static int on_listed_blob(void *arg, const kvs_blob_entry *b)
{
    audit_blob(arg, b->url, 0);
    return 0;
}

static void audit_prefix(audit *a, const char *url)
{
    kvs_error err;
    kvs_error_clear(&err);
    if (kvs_blob_list(url, cli_blob_config(), on_listed_blob, a, &err) != KVS_OK) {
        a->io_errors++;
        cli_error_status(CMD, url, &err);
    }
}

/* ---- directory walk (sorted, so reports compare between runs) ----------------- */

typedef struct path_list {
    char **p;
    size_t n, cap;
} path_list;

static path_list *g_walk;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type != FTW_F) return 0; /* symbolic links are not followed */
    if (g_walk->n == g_walk->cap) {
        size_t cap = g_walk->cap ? 2 * g_walk->cap : 256;
        char **p = realloc(g_walk->p, cap * sizeof *p);
        if (!p) return -1;
        g_walk->p = p;
        g_walk->cap = cap;
    }
    g_walk->p[g_walk->n] = strdup(path);
    return g_walk->p[g_walk->n++] ? 0 : -1;
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void audit_dir(audit *a, const char *dir)
{
    path_list l = {NULL, 0, 0};
    g_walk = &l;
    if (nftw(dir, collect, 32, FTW_PHYS) != 0) {
        a->io_errors++;
        cli_error(CMD, CLI_EXIT_IO, "%s: cannot walk: %s", dir, strerror(errno));
    }
    qsort(l.p, l.n, sizeof *l.p, by_name);
    for (size_t i = 0; i < l.n; i++) {
        audit_file(a, l.p[i], 0);
        free(l.p[i]);
    }
    free(l.p);
}

static void audit_path(audit *a, const char *path)
{
    struct stat sb;
    if (cli_is_blob_prefix(path)) {
        audit_prefix(a, path);
    } else if (kvs_is_blob_url(path)) {
        audit_blob(a, path, 1);
    } else if (stat(path, &sb) != 0) {
        a->io_errors++;
        cli_error(CMD, CLI_EXIT_IO, "%s: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        audit_dir(a, path);
    } else {
        audit_file(a, path, 1);
    }
}

/* ---- command --------------------------------------------------------------------- */

static int exit_code(const audit *a)
{
    if (a->header_failed) return CLI_EXIT_INPUT; /* the report would rest on forged headers */
    if (a->signer_failed) return CLI_EXIT_INPUT; /* a file its required signer did not write */
    if (a->stale) return AUDIT_EXIT_FINDINGS;
    if (a->unknown || a->unverified || a->signer_unchecked) return CLI_EXIT_KEY;
    if (a->invalid) return CLI_EXIT_INPUT;
    if (a->io_errors) return CLI_EXIT_IO;
    return CLI_EXIT_OK;
}

static void print_json(audit *a, int rc)
{
    cJSON *root = cJSON_CreateObject();
    char now[32];
    fmt_time(a->now, now, sizeof now);
    cJSON_AddStringToObject(root, "schema", AUDIT_SCHEMA);
    cJSON_AddStringToObject(root, "generated", now);
    if (a->has_max_age) cJSON_AddNumberToObject(root, "max_age_days", (double)a->max_age_days);
    else cJSON_AddNullToObject(root, "max_age_days");
    cJSON_AddItemToObject(root, "files", a->files);
    a->files = NULL;
    cJSON *s = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(s, "files", (double)a->n_files);
    cJSON_AddNumberToObject(s, "ok", (double)a->ok);
    cJSON_AddNumberToObject(s, "stale", (double)a->stale);
    cJSON_AddNumberToObject(s, "unknown", (double)a->unknown);
    cJSON_AddNumberToObject(s, "offline_only", (double)a->offline);
    cJSON_AddNumberToObject(s, "invalid", (double)a->invalid);
    cJSON_AddNumberToObject(s, "skipped_not_kvseal", (double)a->skipped);
    cJSON_AddNumberToObject(s, "io_errors", (double)a->io_errors);
    cJSON_AddBoolToObject(s, "headers_verified", a->verify_headers);
    cJSON_AddNumberToObject(s, "header_failed", (double)a->header_failed);
    cJSON_AddNumberToObject(s, "unverified", (double)a->unverified);
    if (a->require) cJSON_AddItemToObject(s, "required_signer",
                                          json_text(kvs_signer_check_name(a->require)));
    else cJSON_AddNullToObject(s, "required_signer");
    cJSON_AddNumberToObject(s, "signer_failed", (double)a->signer_failed);
    cJSON_AddNumberToObject(s, "signer_unchecked", (double)a->signer_unchecked);
    cJSON *hosts = cJSON_AddArrayToObject(s, "skipped_hosts");
    for (size_t i = 0; hosts && i < a->skipped_hosts.n; i++)
        cJSON_AddItemToArray(hosts, cJSON_CreateString(a->skipped_hosts.h[i]));
    cJSON_AddNumberToObject(root, "exit_code", rc);
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

static int parse_option(int c, const char *arg, void *ctx)
{
    audit *a = ctx;
    if (c == OPT_JSON) {
        a->json = 1;
    } else if (c == OPT_MAX_AGE) {
        if (cli_parse_uint(CMD, "--max-age", arg, 0, 36500, &a->max_age_days) != 0)
            return CLI_EXIT_USAGE;
        a->has_max_age = 1;
    } else if (c == OPT_VERIFY_HEADERS) {
        a->verify_headers = 1;
    } else if (c == 'k') {
        return cli_keys_add(CMD, "-k", &a->keys, arg);
    } else {
        int rc = cli_job_option(CMD, c, arg, &a->job);
        if (rc < 0) rc = cli_sign_option(CMD, c, arg, &a->sign);
        if (rc < 0) rc = cli_kv_option(CMD, c, arg);
        if (rc < 0) rc = cli_blob_option(CMD, c, arg);
        return rc >= 0 ? rc : CLI_EXIT_USAGE;
    }
    return 0;
}

static int parse_args(int argc, char **argv, audit *a)
{
    int rc = cli_parse(&cli_spec_audit, argc, argv, parse_option, a);
    if (rc >= 0) return rc;
    if (optind >= argc) return cli_error(CMD, CLI_EXIT_USAGE, "no PATH given");
    for (int i = optind; i < argc; i++)
        if (cli_blob_url_check(CMD, argv[i]) != 0) return CLI_EXIT_USAGE;
    int needs_verify = a->keys.n || a->job.context.n || a->job.pass_file || a->job.pass_env;
    if (needs_verify && !a->verify_headers)
        return cli_error(CMD, CLI_EXIT_USAGE,
                         "-k, --context and --passphrase-* need --verify-headers");
    return -1;
}

/* --verify-headers: the keys that unwrap, as decrypt loads them. */
static int load_keys(audit *a)
{
    int rc = cli_signer_check_load(CMD, &a->sign, &a->require);
    if (rc != 0 || !a->verify_headers) return rc;
    cli_kv_set_decrypting(1);
    return a->keys.n == 0 ? cli_kv_add_any(CMD, &a->keys)
                          : cli_keys_load_secret(CMD, &a->keys, a->job.pass_file, a->job.pass_env);
}

static void audit_free(audit *a)
{
    cJSON_Delete(a->files);
    for (size_t i = 0; i < a->n_keys; i++) free(a->keys_seen[i]);
    free(a->keys_seen);
    for (size_t i = 0; i < a->skipped_hosts.n; i++) free(a->skipped_hosts.h[i]);
    free(a->skipped_hosts.h);
    cli_keys_free(&a->keys);
    cli_job_opts_free(&a->job);
    kvs_signer_check_free(a->require);
}

/* Text: the hosts not contacted, after the summary line. */
static void print_skipped_hosts(const audit *a)
{
    if (a->skipped_hosts.n == 0) return;
    printf("not contacted (neither a known cloud's vault host nor listed in "
           "KVSEAL_ALLOWED_HOSTS):");
    for (size_t i = 0; i < a->skipped_hosts.n; i++) {
        fputs(i ? ", " : " ", stdout);
        cli_print_escaped(stdout, a->skipped_hosts.h[i]);
    }
    fputc('\n', stdout);
}

int cli_cmd_audit(int argc, char **argv)
{
    audit a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        int k = load_keys(&a);
        if (k != 0) rc = k;
    }
    if (rc < 0 && (a.files = cJSON_CreateArray()) == NULL)
        rc = cli_error(CMD, CLI_EXIT_INTERNAL, "out of memory");
    if (rc >= 0) {
        audit_free(&a);
        return rc;
    }
    a.now = (int64_t)time(NULL);
    for (int i = optind; i < argc; i++) audit_path(&a, argv[i]);
    rc = exit_code(&a);
    if (a.json) {
        print_json(&a, rc);
    } else {
        printf("%zu files: %zu ok, %zu stale, %zu unknown, %zu offline-only, %zu invalid",
               a.n_files, a.ok, a.stale, a.unknown, a.offline, a.invalid);
        if (a.verify_headers)
            printf(", %zu header-failed, %zu unverified", a.header_failed, a.unverified);
        if (a.require)
            printf(", %zu signer-failed, %zu signer-unchecked", a.signer_failed,
                   a.signer_unchecked);
        printf(" (%zu other files skipped)\n", a.skipped);
        print_skipped_hosts(&a);
    }
    if (g_cli.verbose) cli_kv_report(CMD);
    audit_free(&a);
    return rc;
}
