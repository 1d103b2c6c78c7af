/* Environment client secret credential: AZURE_CLIENT_SECRET, or the file
 * AZURE_CLIENT_SECRET_FILE names (read at each token request, so a rotated
 * secret is picked up). */
#include <stdlib.h>
#include <string.h>

#include "azure/cred_sources.h"
#include "azure/entra.h"
#include "core/error.h"
#include "core/secfile.h"

#define KVS_PATH_MAX 4096
#define KVS_SECRET_MAX (64 * 1024)

typedef struct kvs_cred_secret {
    kvs_cred base;
    char secret_file[KVS_PATH_MAX];
} kvs_cred_secret;

static kvs_status kvs_secret_proof(kvs_cred *c, const char *url, kvs_sbuf *form, kvs_error *err)
{
    const kvs_cred_secret *s = (const kvs_cred_secret *)c;
    const char *v = kvs_cred_env("AZURE_CLIENT_SECRET");
    kvs_secret_buf file = {0};
    (void)url;
    if (v == NULL) {
        kvs_status st = kvs_secret_file_read(s->secret_file, KVS_SECRET_MAX, &file, err);
        if (st != KVS_OK) return st;
        kvs_secret_buf_rtrim(&file);
        if (file.len == 0) {
            kvs_secret_buf_free(&file);
            return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_CLIENT_SECRET_FILE is empty");
        }
        v = file.p;
    } else if (strlen(v) > KVS_SECRET_MAX) {
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client secret too long");
    }
    kvs_status st = kvs_form_add(form, "client_secret", v) == 0
                        ? KVS_OK
                        : kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    kvs_secret_buf_free(&file);
    return st;
}

static kvs_status kvs_secret_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                   kvs_token *tok, kvs_error *err)
{
    return kvs_entra_token(c, http, r, kvs_secret_proof, tok, err);
}

static const char *kvs_secret_describe(const kvs_cred *c)
{
    (void)c;
    return "environment client secret";
}

static void kvs_secret_free(kvs_cred *c)
{
    free(c);
}

static const kvs_cred_ops kvs_secret_ops = {kvs_secret_token, kvs_secret_describe,
                                            kvs_secret_free};

kvs_status kvs_cred_secret_new(const kvs_cred *base, kvs_cred **out, kvs_error *err)
{
    const char *file = kvs_cred_env("AZURE_CLIENT_SECRET_FILE");
    if (file != NULL && strlen(file) >= KVS_PATH_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    kvs_cred_secret *s = calloc(1, sizeof(*s));
    if (s == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    s->base = *base;
    s->base.ops = &kvs_secret_ops;
    if (file != NULL) memcpy(s->secret_file, file, strlen(file) + 1);
    *out = &s->base;
    return KVS_OK;
}
