/* Constructors of the credential sources, for the chain (cred_chain.c).
 * Each copies base (kind, client id, tenant) into its own struct. */
#ifndef KVS_AZURE_CRED_SOURCES_H
#define KVS_AZURE_CRED_SOURCES_H

#include <stdlib.h>

#include "azure/cred.h"

kvs_status kvs_cred_secret_new(const kvs_cred *base, kvs_cred **out, kvs_error *err);
kvs_status kvs_cred_cert_new(const kvs_cred *base, kvs_cred **out, kvs_error *err);
kvs_status kvs_cred_workload_new(const kvs_cred *base, kvs_cred **out, kvs_error *err);
/* base->kind is KVS_CRED_MI_APPSERVICE or KVS_CRED_MI_IMDS. */
kvs_status kvs_cred_mi_new(const kvs_cred *base, kvs_cred **out, kvs_error *err);
kvs_status kvs_cred_cli_new(const kvs_cred *base, kvs_cred **out, kvs_error *err);
/* 1 if az may be given tenant t (GUID-shaped or a domain name; cred_cli.c). */
int kvs_cli_tenant_ok(const char *t);

/* An environment variable that is set and not empty, else NULL. */
static inline const char *kvs_cred_env(const char *name)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

#endif
