/* Microsoft Entra ID credentials, in DefaultAzureCredential's order:
 * environment client secret, environment client certificate, workload
 * identity, managed identity (App Service and IMDS), Azure CLI.
 *
 * The source is chosen once, from the environment, when the credential is
 * made; the chain stops at the first configured source and its failures are
 * reported (with Entra's error_description), never hidden by a later source.
 * "auto" does not probe IMDS on 169.254.169.254 without a sign that it
 * exists (IDENTITY_ENDPOINT or IMDS_ENDPOINT): name "managed-identity" for a
 * VM's identity. Token text only ever lives in secure memory. */
#ifndef KVS_AZURE_CRED_H
#define KVS_AZURE_CRED_H

#include <stdint.h>

#include "azure/http.h"
#include "azure/sbuf.h"
#include "kvseal/status.h"

typedef enum kvs_cred_kind {
    KVS_CRED_NONE = 0,
    KVS_CRED_ENV_SECRET,
    KVS_CRED_ENV_CERT,
    KVS_CRED_WORKLOAD,
    KVS_CRED_MI_APPSERVICE,
    KVS_CRED_MI_IMDS,
    KVS_CRED_CLI
} kvs_cred_kind;

typedef struct kvs_cred kvs_cred;

/* name: NULL, "auto", "env-secret", "env-cert", "workload",
 * "managed-identity" or "cli". KVS_ERR_CONFIG for an unknown name or a named
 * source whose environment is incomplete. */
kvs_status kvs_cred_new(const char *name, kvs_cred **out, kvs_error *err);
void kvs_cred_free(kvs_cred *c);

kvs_cred_kind kvs_cred_kind_of(const kvs_cred *c);
/* "environment client secret", ... for messages. */
const char *kvs_cred_describe(const kvs_cred *c);
/* AZURE_TENANT_ID if set, else NULL (then the challenge's tenant is used). */
const char *kvs_cred_tenant(const kvs_cred *c);

typedef struct kvs_token_req {
    const char *authority; /* "https://login.microsoftonline.com" (no trailing '/') */
    const char *tenant;    /* tenant to ask (AZURE_TENANT_ID or the challenge's) */
    const char *scope;     /* "https://vault.azure.net/.default" */
    const char *resource;  /* "https://vault.azure.net" (managed identity, CLI) */
    int64_t deadline_ms;   /* kvs_mono_ms clock */
} kvs_token_req;

typedef struct kvs_token {
    kvs_sbuf text;      /* the access token, secure */
    int64_t expires_on; /* epoch seconds */
    int64_t issued_at;  /* epoch seconds, when it was received */
} kvs_token;

void kvs_token_init(kvs_token *t);
void kvs_token_free(kvs_token *t);

kvs_status kvs_cred_get_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                              kvs_token *tok, kvs_error *err);

/* ---- internals shared with cred_cert.c and cred_cli.c ----------------- */

/* Read a whole file (at most max bytes) into secure memory. */
kvs_status kvs_read_file_secure(const char *path, size_t max, kvs_sbuf *out, kvs_error *err);

/* A certificate credential: RSA key and the certificate's x5t#S256. */
typedef struct kvs_cert_cred {
    void *key;       /* EVP_PKEY */
    char x5t_s256[48];
} kvs_cert_cred;

kvs_status kvs_cert_cred_load(const char *path, const char *password, kvs_cert_cred *cc,
                              kvs_error *err);
void kvs_cert_cred_clear(kvs_cert_cred *cc);
/* Append a signed PS256 client assertion JWT for client_id with audience aud. */
kvs_status kvs_cert_assertion(const kvs_cert_cred *cc, const char *client_id, const char *aud,
                              kvs_sbuf *out, kvs_error *err);

/* Run az account get-access-token; fills tok. */
kvs_status kvs_cli_get_token(const kvs_token_req *r, kvs_token *tok, kvs_error *err);

/* Token JSON of Entra / managed identity / CLI into tok. access_field is
 * "access_token" or "accessToken". Returns 0 or -1. */
int kvs_token_from_json(const char *body, size_t len, const char *access_field,
                        kvs_token *tok);

#endif
