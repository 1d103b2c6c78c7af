/* Container and prefix URLs: as inputs, expanded into the blobs under them
 * (kvs_blob_list), for decrypt -o DIR and audit; as encrypt's -o, joined
 * with each input's name. */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli/blobopts.h"

int cli_is_blob_prefix(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    return n > 0 && !cli_is_stdio(text) && kvs_is_blob_url(text) && text[n - 1] == '/';
}

int cli_blob_join(const char *prefix, const char *name, const char *suffix, char *buf,
                  size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(prefix);
    if (o >= cap) return -1;
    memcpy(buf, prefix, o);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        if (o + (plain ? 1 : 3) >= cap) return -1;
        if (plain) {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 15];
        }
    }
    size_t sl = strlen(suffix);
    if (o + sl >= cap) return -1;
    memcpy(buf + o, suffix, sl + 1);
    return 0;
}

static int push(cli_blob_inputs *b, size_t *cap, const char *in, const char *rel)
{
    if (b->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **i = realloc(b->inputs, nc * sizeof *i);
        if (i) b->inputs = i;
        char **r = i ? realloc(b->rel, nc * sizeof *r) : NULL;
        if (r) b->rel = r;
        if (!i || !r) return -1;
        *cap = nc;
    }
    b->inputs[b->n] = strdup(in);
    b->rel[b->n] = rel ? strdup(rel) : NULL;
    if (!b->inputs[b->n] || (rel && !b->rel[b->n])) {
        free(b->inputs[b->n]);
        free(b->rel[b->n]);
        return -1;
    }
    b->n++;
    return 0;
}

typedef struct expand_ctx {
    cli_blob_inputs *b;
    size_t *cap;
    size_t found;
} expand_ctx;

static int on_blob(void *arg, const kvs_blob_entry *e)
{
    expand_ctx *x = arg;
    x->found++;
    return push(x->b, x->cap, e->url, e->name);
}

int cli_blob_expand(const char *cmd, char *const *inputs, size_t n, cli_blob_inputs *out)
{
    size_t cap = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (!cli_is_blob_prefix(inputs[i])) {
            if (push(out, &cap, inputs[i], NULL) != 0) goto nomem;
            continue;
        }
        expand_ctx x = {out, &cap, 0};
        kvs_error err;
        kvs_error_clear(&err);
        if (kvs_blob_list(inputs[i], cli_blob_config(), on_blob, &x, &err) != KVS_OK) {
            if (err.status == KVS_ERR_STATE) goto nomem; /* on_blob stopped it */
            int rc = cli_error_status(cmd, inputs[i], &err);
            cli_blob_inputs_free(out);
            return rc;
        }
        if (x.found == 0) {
            cli_error(cmd, CLI_EXIT_IO, "%s: no blob under this prefix", inputs[i]);
            cli_blob_inputs_free(out);
            return CLI_EXIT_IO;
        }
    }
    return 0;
nomem:
    cli_blob_inputs_free(out);
    return cli_error(cmd, CLI_EXIT_INTERNAL, "out of memory");
}

void cli_blob_inputs_free(cli_blob_inputs *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->inputs[i]);
        free(b->rel[i]);
    }
    free(b->inputs);
    free(b->rel);
    memset(b, 0, sizeof *b);
}
