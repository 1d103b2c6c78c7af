/* kvseal inspect: show a file's header without any key. */
#define _DEFAULT_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/blobopts.h"
#include "cli/cli.h"

static const char *const CMD = "inspect";

enum { OPT_JSON = CLI_OPT_LONG_ONLY };

static const cli_opt options[] = {
    {"json", OPT_JSON, NULL, "machine-readable output (members documented in docs/CLI.md)"},
    CLI_BLOB_ROWS,
    {NULL, 0, NULL, NULL},
};

const cli_spec cli_spec_inspect = {
    .name = "inspect",
    .synopsis = "kvseal inspect [--json] [options] FILE",
    .about = "Show the header of a kvseal file ('-' for standard input, or a blob URL).\n"
             "No key is needed; nothing is decrypted and the header tag is NOT checked\n"
             "(use verify for that).",
    .opts = options,
    .notes = NULL,
};

/* Everything inspect reports. */
typedef struct inspect_info {
    const char *file;
    const kvs_header *h;
    int have_size;        /* input is a regular file */
    uint64_t file_size;
    int have_geometry;    /* geometry computed and valid */
    uint64_t plaintext_size, chunks;
    const char *geometry_error; /* set when the size is impossible */
    int have_trailer;     /* signed regular file or blob: sig holds the trailer's form */
    kvs_signature_info sig;
    const char *trailer_note;   /* signed, trailer not read (a pipe): why */
    char trailer_error[KVS_ERROR_DETAIL_MAX]; /* signed, trailer malformed */
} inspect_info;

/* Member naming a recipient's key, as in the file format. */
static const char *key_id_member(const kvs_recipient *r)
{
    return strcmp(r->type, KVS_RECIPIENT_AZURE) == 0 ? "kid" : "key_id";
}

/* ---- text ---- */

static void text_field(const char *label, const char *value)
{
    printf("%-16s ", label);
    cli_print_escaped(stdout, value);
    fputc('\n', stdout);
}

static void text_u64(const char *label, uint64_t v)
{
    printf("%-16s %llu\n", label, (unsigned long long)v);
}

static void text_recipients(const kvs_header *h)
{
    text_u64("recipients:", h->n_recipients);
    for (size_t i = 0; i < h->n_recipients; i++) {
        const kvs_recipient *r = &h->recipients[i];
        printf("  [%zu] type=", i);
        cli_print_escaped(stdout, r->type);
        fputs(" alg=", stdout);
        cli_print_escaped(stdout, r->alg);
        printf(" %s=", key_id_member(r));
        cli_print_escaped(stdout, r->key_id);
        printf(" wrapped_key=%zu bytes\n", r->wrapped_len);
    }
}

static void text_context(const kvs_header *h)
{
    text_u64("context:", h->n_context);
    for (size_t i = 0; i < h->n_context; i++) {
        fputs("  ", stdout);
        cli_print_escaped(stdout, h->context[i].key);
        fputc('=', stdout);
        cli_print_escaped(stdout, h->context[i].value);
        fputc('\n', stdout);
    }
}

/* "signer: <type> <id> <alg>" and the trailer's geometry, or "signer: none". */
static void text_signer(const inspect_info *in)
{
    const kvs_header_signer *sg = &in->h->signer;
    if (!sg->type[0]) {
        text_field("signer:", "none");
        return;
    }
    printf("%-16s ", "signer:");
    cli_print_escaped(stdout, sg->type);
    fputc(' ', stdout);
    cli_print_escaped(stdout, sg->id);
    fputc(' ', stdout);
    cli_print_escaped(stdout, sg->alg);
    fputc('\n', stdout);
    if (in->have_trailer)
        printf("%-16s %lu segments, signature %u bytes\n", "trailer:",
               (unsigned long)in->sig.segments, (unsigned)in->sig.sig_len);
    else if (in->trailer_error[0])
        text_field("trailer:", in->trailer_error);
    else
        text_field("trailer:", in->trailer_note ? in->trailer_note : "not read");
    text_field("signature:", "not checked (use 'kvseal verify --require-signer')");
}

static void print_text(const inspect_info *in)
{
    const kvs_header *h = in->h;
    text_field("file:", in->file);
    printf("%-16s %d\n", "format version:", KVSEAL_FORMAT_VERSION);
    text_field("suite:", KVS_SUITE);
    text_u64("chunk size:", h->chunk_size);
    text_field("created:", h->created[0] ? h->created : "(not recorded)");
    text_context(h);
    text_recipients(h);
    text_u64("header length:", h->header_len);
    text_u64("payload offset:", kvs_header_payload_offset(h));
    if (in->have_size)
        text_u64("file size:", in->file_size);
    if (in->have_geometry) {
        text_u64("plaintext size:", in->plaintext_size);
        text_u64("chunks:", in->chunks);
    }
    text_signer(in);
    text_field("header tag:", "not checked (use 'kvseal verify')");
}

/* ---- JSON ---- */

static int add_u64(cJSON *obj, const char *name, int present, uint64_t v)
{
    cJSON *item = present ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
    return item && cJSON_AddItemToObject(obj, name, item) ? 0 : -1;
}

static cJSON *json_recipient(size_t index, const kvs_recipient *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || add_u64(o, "index", 1, index) != 0 || !cJSON_AddStringToObject(o, "type", r->type)
        || !cJSON_AddStringToObject(o, "alg", r->alg)
        || !cJSON_AddStringToObject(o, key_id_member(r), r->key_id)
        || add_u64(o, "wrapped_key_len", 1, r->wrapped_len) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int json_add_lists(cJSON *root, const kvs_header *h)
{
    cJSON *ctx = cJSON_AddObjectToObject(root, "context");
    cJSON *recips = cJSON_AddArrayToObject(root, "recipients");
    if (!ctx || !recips)
        return -1;
    for (size_t i = 0; i < h->n_context; i++) {
        if (!cJSON_AddStringToObject(ctx, h->context[i].key, h->context[i].value))
            return -1;
    }
    for (size_t i = 0; i < h->n_recipients; i++) {
        cJSON *r = json_recipient(i, &h->recipients[i]);
        if (!r || !cJSON_AddItemToArray(recips, r)) {
            cJSON_Delete(r);
            return -1;
        }
    }
    return 0;
}

/* "signer": null, or {type, id, alg, trailer: {segments, sig_len, trailer_len}
 * or null, trailer_error?}. */
static int json_add_signer(cJSON *root, const inspect_info *in)
{
    const kvs_header_signer *sg = &in->h->signer;
    if (!sg->type[0])
        return cJSON_AddNullToObject(root, "signer") ? 0 : -1;
    cJSON *o = cJSON_AddObjectToObject(root, "signer");
    if (!o || !cJSON_AddStringToObject(o, "type", sg->type) ||
        !cJSON_AddStringToObject(o, "id", sg->id) || !cJSON_AddStringToObject(o, "alg", sg->alg))
        return -1;
    if (!in->have_trailer) {
        if (!cJSON_AddNullToObject(o, "trailer"))
            return -1;
        const char *why = in->trailer_error[0] ? in->trailer_error : in->trailer_note;
        return !why || cJSON_AddStringToObject(o, in->trailer_error[0] ? "trailer_error"
                                                                       : "trailer_note", why)
                   ? 0
                   : -1;
    }
    cJSON *t = cJSON_AddObjectToObject(o, "trailer");
    return t && add_u64(t, "segments", 1, in->sig.segments) == 0 &&
                   add_u64(t, "sig_len", 1, in->sig.sig_len) == 0 &&
                   add_u64(t, "trailer_len", 1, in->sig.trailer_len) == 0
               ? 0
               : -1;
}

static cJSON *json_build(const inspect_info *in)
{
    const kvs_header *h = in->h;
    cJSON *root = cJSON_CreateObject();
    int ok = root && cJSON_AddStringToObject(root, "file", in->file)
             && add_u64(root, "format_version", 1, KVSEAL_FORMAT_VERSION) == 0
             && cJSON_AddStringToObject(root, "suite", KVS_SUITE)
             && add_u64(root, "chunk_size", 1, h->chunk_size) == 0
             && (h->created[0] ? cJSON_AddStringToObject(root, "created", h->created) != NULL
                               : cJSON_AddNullToObject(root, "created") != NULL)
             && json_add_lists(root, h) == 0
             && add_u64(root, "header_len", 1, h->header_len) == 0
             && add_u64(root, "payload_offset", 1, kvs_header_payload_offset(h)) == 0
             && add_u64(root, "file_size", in->have_size, in->file_size) == 0
             && add_u64(root, "plaintext_size", in->have_geometry, in->plaintext_size) == 0
             && add_u64(root, "chunks", in->have_geometry, in->chunks) == 0
             && json_add_signer(root, in) == 0
             && cJSON_AddFalseToObject(root, "header_authenticated")
             && (!in->geometry_error
                 || cJSON_AddStringToObject(root, "error", in->geometry_error));
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int print_json(const inspect_info *in)
{
    cJSON *root = json_build(in);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return cli_error(CMD, CLI_EXIT_INTERNAL, "out of memory");
    fputs(text, stdout);
    fputc('\n', stdout);
    cJSON_free(text);
    return CLI_EXIT_OK;
}

/* ---- command ---- */

/* The geometry a file (or blob) of size bytes has under its header. */
static void measure_size(uint64_t size, inspect_info *in)
{
    in->have_size = 1;
    in->file_size = size;
    kvs_status s = kvs_header_payload_geometry(in->h, in->file_size, &in->plaintext_size,
                                               &in->chunks);
    if (s == KVS_OK)
        in->have_geometry = 1;
    else
        in->geometry_error = s == KVS_ERR_TRUNCATED
                                 ? "file size is impossible for this header (truncated)"
                                 : "file size is impossible for this header";
}

/* A signed regular file: the trailer's form (kvs_signature_info_fd), which
 * also gives the payload's geometry (the trailer is not payload). */
static void measure_signed(int fd, uint64_t size, inspect_info *in)
{
    kvs_error err;
    kvs_error_clear(&err);
    in->have_size = 1;
    in->file_size = size;
    if (lseek(fd, 0, SEEK_SET) != 0 || kvs_signature_info_fd(fd, &in->sig, &err) != KVS_OK) {
        snprintf(in->trailer_error, sizeof in->trailer_error, "%s",
                 err.detail[0] ? kvs_error_message(&err) : "cannot read the trailer");
        in->geometry_error = "the trailer of this signed file is malformed";
        return;
    }
    in->have_trailer = 1;
    in->have_geometry = 1;
    in->plaintext_size = in->sig.plaintext_size;
    in->chunks = in->sig.chunks;
}

/* A signed blob: the trailer's form (kvs_blob_signature_info, read again from
 * the blob's start and end). A malformed trailer is reported as for a file;
 * a blob that cannot be read, or that is no longer the blob whose header was
 * read (another signer, or a size that does not fit), fails. */
static kvs_status measure_signed_blob(const char *url, uint64_t size, inspect_info *in,
                                      kvs_error *err)
{
    kvs_error e;
    kvs_error_clear(&e);
    in->have_size = 1;
    in->file_size = size;
    kvs_status st = kvs_blob_signature_info(url, cli_blob_config(), &in->sig, &e);
    uint64_t plain = 0, chunks = 0;
    const kvs_header_signer *sg = &in->h->signer;
    if (st == KVS_OK &&
        (strcmp(in->sig.type, sg->type) != 0 || strcmp(in->sig.id, sg->id) != 0 ||
         strcmp(in->sig.alg, sg->alg) != 0 || in->sig.trailer_len > size ||
         kvs_header_payload_geometry(in->h, size - in->sig.trailer_len, &plain, &chunks) != KVS_OK ||
         plain != in->sig.plaintext_size || chunks != in->sig.chunks))
        st = cli_fail(&e, KVS_ERR_IO, "the blob changed while it was read");
    if (st != KVS_OK && kvs_status_category(st) != KVS_CAT_INPUT) {
        *err = e;
        return st;
    }
    if (st != KVS_OK) {
        snprintf(in->trailer_error, sizeof in->trailer_error, "%s", kvs_error_message(&e));
        in->geometry_error = "the trailer of this signed file is malformed";
        return KVS_OK;
    }
    in->have_trailer = 1;
    in->have_geometry = 1;
    in->plaintext_size = in->sig.plaintext_size;
    in->chunks = in->sig.chunks;
    return KVS_OK;
}

static void measure(int fd, inspect_info *in)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
        in->trailer_note = "not read (input not seekable)";
        return; /* a pipe: size unknown */
    }
    if (in->h->signer.type[0])
        measure_signed(fd, (uint64_t)st.st_size, in);
    else
        measure_size((uint64_t)st.st_size, in);
}

/* The header of a file or a blob, and what its size says. */
static kvs_status read_header(const char *file, inspect_info *in, kvs_header **h, kvs_error *err)
{
    if (!cli_is_stdio(file) && kvs_is_blob_url(file)) {
        uint64_t size = 0;
        kvs_status st = kvs_blob_header_read(file, cli_blob_config(), h, &size, err);
        if (st == KVS_OK && (*h)->signer.type[0]) {
            in->h = *h;
            st = measure_signed_blob(file, size, in, err);
        } else if (st == KVS_OK) {
            in->h = *h;
            measure_size(size, in);
        }
        return st;
    }
    int fd = cli_open_input(file, err);
    if (fd < 0)
        return err->status;
    kvs_status st = kvs_header_read_fd(fd, h, err);
    if (st == KVS_OK) {
        in->h = *h;
        measure(fd, in);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    return st;
}

static int inspect_file(const char *file, int json)
{
    kvs_error err;
    kvs_error_clear(&err);
    kvs_header *h = NULL;
    inspect_info in = {.file = file};
    if (cli_blob_url_check(CMD, file) != 0)
        return CLI_EXIT_USAGE;
    if (read_header(file, &in, &h, &err) != KVS_OK)
        return cli_error_status(CMD, cli_is_stdio(file) ? NULL : file, &err);
    int rc = CLI_EXIT_OK;
    if (json)
        rc = print_json(&in);
    else
        print_text(&in);
    fflush(stdout); /* the report first, then the error line */
    if (rc == CLI_EXIT_OK && in.geometry_error)
        rc = in.trailer_error[0]
                 ? cli_error(CMD, CLI_EXIT_INPUT, "%s: %s", file, in.trailer_error)
                 : cli_error(CMD, CLI_EXIT_INPUT, "%s: %s (file size %llu)", file,
                             in.geometry_error, (unsigned long long)in.file_size);
    kvs_header_free(h);
    return rc;
}

static int on_option(int key, const char *arg, void *ctx)
{
    if (key != OPT_JSON) {
        int rc = cli_blob_option(CMD, key, arg);
        return rc >= 0 ? rc : CLI_EXIT_USAGE;
    }
    *(int *)ctx = 1;
    return 0;
}

int cli_cmd_inspect(int argc, char **argv)
{
    int json = 0;
    int rc = cli_parse(&cli_spec_inspect, argc, argv, on_option, &json);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_error(CMD, CLI_EXIT_USAGE, "expected one FILE (see 'kvseal inspect --help')");
    return inspect_file(argv[optind], json);
}
