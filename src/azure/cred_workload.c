/* Workload identity credential (AKS and other federations): the projected
 * service account token in AZURE_FEDERATED_TOKEN_FILE is the client
 * assertion. The file rotates, so it is read again after 5 minutes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "azure/cred_sources.h"
#include "azure/entra.h"
#include "azure/retry.h"
#include "core/error.h"
#include "core/secfile.h"

#define KVS_PATH_MAX 4096
#define KVS_FED_REREAD_MS (5 * 60 * 1000)

/* `lock` guards the cached assertion: token requests for different scopes
 * may run at once. */
typedef struct kvs_cred_workload {
    kvs_cred base;
    char fed_file[KVS_PATH_MAX];
    pthread_mutex_t lock;
    kvs_secret_buf fed_token;
    int64_t fed_read_ms;
} kvs_cred_workload;

/* The current assertion; the caller holds w->lock. */
static kvs_status kvs_workload_assertion(kvs_cred_workload *w, kvs_error *err)
{
    int64_t now = kvs_mono_ms();
    if (w->fed_token.len > 0 && now - w->fed_read_ms < KVS_FED_REREAD_MS) return KVS_OK;
    kvs_secret_buf_free(&w->fed_token);
    kvs_status st = kvs_secret_file_read(w->fed_file, KVS_TOKEN_MAX, &w->fed_token, err);
    if (st != KVS_OK) return st;
    kvs_secret_buf_rtrim(&w->fed_token);
    if (w->fed_token.len == 0)
        return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_FEDERATED_TOKEN_FILE is empty");
    w->fed_read_ms = now;
    return KVS_OK;
}

static kvs_status kvs_workload_proof(kvs_cred *c, const char *url, kvs_sbuf *form,
                                     kvs_error *err)
{
    kvs_cred_workload *w = (kvs_cred_workload *)c;
    (void)url;
    kvs_status st = kvs_entra_assertion_start(form, err);
    if (st != KVS_OK) return st;
    pthread_mutex_lock(&w->lock);
    st = kvs_workload_assertion(w, err);
    if (st == KVS_OK && kvs_sbuf_put_urlenc(form, w->fed_token.p) != 0)
        st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    pthread_mutex_unlock(&w->lock);
    return st;
}

static kvs_status kvs_workload_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                     kvs_token *tok, kvs_error *err)
{
    return kvs_entra_token(c, http, r, kvs_workload_proof, tok, err);
}

static const char *kvs_workload_describe(const kvs_cred *c)
{
    (void)c;
    return "workload identity";
}

static void kvs_workload_free(kvs_cred *c)
{
    kvs_cred_workload *w = (kvs_cred_workload *)c;
    kvs_secret_buf_free(&w->fed_token);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static const kvs_cred_ops kvs_workload_ops = {kvs_workload_token, kvs_workload_describe,
                                              kvs_workload_free};

kvs_status kvs_cred_workload_new(const kvs_cred *base, kvs_cred **out, kvs_error *err)
{
    const char *file = kvs_cred_env("AZURE_FEDERATED_TOKEN_FILE");
    if (file == NULL || strlen(file) >= KVS_PATH_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    kvs_cred_workload *w = calloc(1, sizeof(*w));
    if (w == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    w->base = *base;
    w->base.ops = &kvs_workload_ops;
    memcpy(w->fed_file, file, strlen(file) + 1);
    pthread_mutex_init(&w->lock, NULL);
    *out = &w->base;
    return KVS_OK;
}
