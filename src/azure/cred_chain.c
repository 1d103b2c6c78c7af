/* Choosing the credential source (DefaultAzureCredential's order) and the
 * interface's dispatch (azure/cred.h). */
#define _POSIX_C_SOURCE 200809L
#include "azure/cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azure/cred_sources.h"
#include "core/error.h"

#define KVS_PATH_MAX 4096

/* ---- choosing the source ----------------------------------------------- */

/* An executable named az in a PATH directory. */
static int kvs_az_on_path(void)
{
    const char *path = kvs_cred_env("PATH");
    char buf[KVS_PATH_MAX];
    while (path != NULL) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        int w = snprintf(buf, sizeof(buf), "%.*s/az", (int)n, n ? path : ".");
        if (w > 0 && (size_t)w < sizeof(buf) && access(buf, X_OK) == 0) return 1;
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

static int kvs_secret_configured(void)
{
    return kvs_cred_env("AZURE_CLIENT_ID") &&
           (kvs_cred_env("AZURE_CLIENT_SECRET") || kvs_cred_env("AZURE_CLIENT_SECRET_FILE"));
}

static int kvs_cert_configured(void)
{
    return kvs_cred_env("AZURE_CLIENT_ID") && kvs_cred_env("AZURE_CLIENT_CERTIFICATE_PATH");
}

static int kvs_workload_configured(void)
{
    return kvs_cred_env("AZURE_CLIENT_ID") && kvs_cred_env("AZURE_FEDERATED_TOKEN_FILE");
}

static int kvs_appservice_configured(void)
{
    return kvs_cred_env("IDENTITY_ENDPOINT") && kvs_cred_env("IDENTITY_HEADER");
}

static kvs_cred_kind kvs_auto_kind(void)
{
    if (kvs_secret_configured()) return KVS_CRED_ENV_SECRET;
    if (kvs_cert_configured()) return KVS_CRED_ENV_CERT;
    if (kvs_workload_configured()) return KVS_CRED_WORKLOAD;
    if (kvs_appservice_configured()) return KVS_CRED_MI_APPSERVICE;
    if (kvs_cred_env("IMDS_ENDPOINT")) return KVS_CRED_MI_IMDS;
    if (kvs_az_on_path()) return KVS_CRED_CLI;
    return KVS_CRED_NONE;
}

static kvs_status kvs_named_kind(const char *name, kvs_cred_kind *kind, kvs_error *err)
{
    if (strcmp(name, "env-secret") == 0) {
        if (!kvs_secret_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential env-secret needs AZURE_CLIENT_ID "
                            "and AZURE_CLIENT_SECRET or AZURE_CLIENT_SECRET_FILE");
        *kind = KVS_CRED_ENV_SECRET;
    } else if (strcmp(name, "env-cert") == 0) {
        if (!kvs_cert_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential env-cert needs AZURE_CLIENT_ID "
                            "and AZURE_CLIENT_CERTIFICATE_PATH");
        *kind = KVS_CRED_ENV_CERT;
    } else if (strcmp(name, "workload") == 0) {
        if (!kvs_workload_configured())
            return kvs_fail(err, KVS_ERR_CONFIG, "credential workload needs AZURE_CLIENT_ID "
                            "and AZURE_FEDERATED_TOKEN_FILE");
        *kind = KVS_CRED_WORKLOAD;
    } else if (strcmp(name, "managed-identity") == 0) {
        *kind = kvs_appservice_configured() ? KVS_CRED_MI_APPSERVICE : KVS_CRED_MI_IMDS;
    } else if (strcmp(name, "cli") == 0) {
        *kind = KVS_CRED_CLI;
    } else {
        return kvs_fail(err, KVS_ERR_CONFIG, "unknown credential '%.64s' (auto, env-secret, "
                        "env-cert, workload, managed-identity, cli)", name);
    }
    return KVS_OK;
}

static int kvs_copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = kvs_cred_env(name);
    if (v == NULL) return 0;
    if (strlen(v) >= cap) return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

/* What every source shares: client id and a well-formed tenant. */
static kvs_status kvs_cred_base(kvs_cred_kind kind, kvs_cred *base, kvs_error *err)
{
    memset(base, 0, sizeof(*base));
    base->kind = kind;
    if (kvs_copy_env(base->client_id, sizeof(base->client_id), "AZURE_CLIENT_ID") < 0 ||
        kvs_copy_env(base->tenant, sizeof(base->tenant), "AZURE_TENANT_ID") < 0)
        return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    for (const char *p = base->tenant; *p; p++) {
        int ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.' || *p == '_';
        if (!ok) return kvs_fail(err, KVS_ERR_CONFIG, "AZURE_TENANT_ID is not a tenant id");
    }
    return KVS_OK;
}

/* ---- no source --------------------------------------------------------- */

static kvs_status kvs_none_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                 kvs_token *tok, kvs_error *err)
{
    (void)c, (void)http, (void)r, (void)tok;
    return kvs_fail(err, KVS_ERR_KEY_ACCESS,
                    "no Azure credential is configured: set AZURE_CLIENT_ID with "
                    "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
                    "AZURE_FEDERATED_TOKEN_FILE, log in with 'az login', or choose "
                    "--credential managed-identity on an Azure VM");
}

static const char *kvs_none_describe(const kvs_cred *c)
{
    (void)c;
    return "no credential";
}

static void kvs_none_free(kvs_cred *c)
{
    free(c);
}

static const kvs_cred_ops kvs_none_ops = {kvs_none_token, kvs_none_describe, kvs_none_free};

/* ---- the interface ------------------------------------------------------ */

kvs_status kvs_cred_new(const char *name, kvs_cred **out, kvs_error *err)
{
    kvs_cred base;
    kvs_cred_kind kind = KVS_CRED_NONE;
    *out = NULL;
    kvs_status st = KVS_OK;
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0)
        kind = kvs_auto_kind();
    else
        st = kvs_named_kind(name, &kind, err);
    if (st == KVS_OK) st = kvs_cred_base(kind, &base, err);
    if (st != KVS_OK) return st;
    switch (kind) {
    case KVS_CRED_ENV_SECRET:
        return kvs_cred_secret_new(&base, out, err);
    case KVS_CRED_ENV_CERT:
        return kvs_cred_cert_new(&base, out, err);
    case KVS_CRED_WORKLOAD:
        return kvs_cred_workload_new(&base, out, err);
    case KVS_CRED_MI_APPSERVICE:
    case KVS_CRED_MI_IMDS:
        return kvs_cred_mi_new(&base, out, err);
    case KVS_CRED_CLI:
        return kvs_cred_cli_new(&base, out, err);
    case KVS_CRED_NONE:
    default:
        break;
    }
    kvs_cred *c = malloc(sizeof(*c));
    if (c == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    *c = base;
    c->ops = &kvs_none_ops;
    *out = c;
    return KVS_OK;
}

void kvs_cred_free(kvs_cred *c)
{
    if (c != NULL) c->ops->free(c);
}

const char *kvs_cred_describe(const kvs_cred *c)
{
    return c->ops->describe(c);
}

const char *kvs_cred_tenant(const kvs_cred *c)
{
    return c->tenant[0] ? c->tenant : NULL;
}

kvs_status kvs_cred_get_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                              kvs_token *tok, kvs_error *err)
{
    kvs_status st = c->ops->get_token(c, http, r, tok, err);
    if (st != KVS_OK) kvs_sbuf_reset(&tok->text);
    return st;
}
