/* Microsoft Entra ID credentials behind one small interface.
 *
 * A credential turns (authority, tenant, scope or resource, deadline) into
 * an access token; it knows nothing about Key Vault, so the same credential
 * serves every scope (Key Vault now, Storage next). Sources, one file each:
 * environment client secret (cred_secret.c), environment client certificate
 * (cred_cert.c), workload identity (cred_workload.c), managed identity
 * (cred_mi.c), Azure CLI (cred_cli.c). cred_chain.c chooses one, in
 * DefaultAzureCredential's order, once, from the environment when the
 * credential is made; the chain stops at the first configured source and its
 * failures are reported (with Entra's error_description), never hidden by a
 * later source. "auto" does not probe IMDS on 169.254.169.254 without a sign
 * that it exists (IDENTITY_ENDPOINT or IMDS_ENDPOINT): name
 * "managed-identity" for a VM's identity. Token text only ever lives in
 * secure memory. get_token may be called from several threads at once (for
 * different scopes or tenants); each source guards its own state. */
#ifndef KVS_AZURE_CRED_H
#define KVS_AZURE_CRED_H

#include <stdint.h>

#include "azure/http.h"
#include "azure/token.h"
#include "kvseal/status.h"

#define KVS_CRED_TENANT_MAX 129 /* AZURE_TENANT_ID, NUL included */

typedef enum kvs_cred_kind {
    KVS_CRED_NONE = 0,
    KVS_CRED_ENV_SECRET,
    KVS_CRED_ENV_CERT,
    KVS_CRED_WORKLOAD,
    KVS_CRED_MI_APPSERVICE,
    KVS_CRED_MI_IMDS,
    KVS_CRED_CLI
} kvs_cred_kind;

typedef struct kvs_token_req {
    const char *authority; /* "https://login.microsoftonline.com" (no trailing '/') */
    const char *tenant;    /* tenant to ask (AZURE_TENANT_ID or the challenge's) */
    const char *scope;     /* e.g. "https://vault.azure.net/.default" */
    const char *resource;  /* the scope without "/.default" (managed identity, CLI) */
    int64_t deadline_ms;   /* kvs_mono_ms clock */
    int64_t hard_deadline_ms; /* 0, or a limit throttling may not extend */
} kvs_token_req;

typedef struct kvs_cred kvs_cred;

typedef struct kvs_cred_ops {
    /* A new token for r into tok (initialised by the caller). http is the
     * caller's handle, used by this call only. */
    kvs_status (*get_token)(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                            kvs_token *tok, kvs_error *err);
    /* "environment client secret", ... for messages. */
    const char *(*describe)(const kvs_cred *c);
    void (*free)(kvs_cred *c);
} kvs_cred_ops;

/* What every source has; a source's own struct starts with it. */
struct kvs_cred {
    const kvs_cred_ops *ops;
    kvs_cred_kind kind;
    char client_id[256];                /* AZURE_CLIENT_ID, "" if unset */
    char tenant[KVS_CRED_TENANT_MAX];   /* AZURE_TENANT_ID, "" if unset */
};

/* name: NULL, "auto", "env-secret", "env-cert", "workload",
 * "managed-identity" or "cli". KVS_ERR_CONFIG for an unknown name or a named
 * source whose environment is incomplete. */
kvs_status kvs_cred_new(const char *name, kvs_cred **out, kvs_error *err);
/* NULL is a no-op. */
void kvs_cred_free(kvs_cred *c);

const char *kvs_cred_describe(const kvs_cred *c);
/* AZURE_TENANT_ID if set, else NULL (then the challenge's tenant is used). */
const char *kvs_cred_tenant(const kvs_cred *c);

/* c's get_token; on failure tok's text is wiped. */
kvs_status kvs_cred_get_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                              kvs_token *tok, kvs_error *err);

#endif
