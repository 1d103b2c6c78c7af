/* The Key Vault authentication challenge (WWW-Authenticate: Bearer ...). */
#ifndef KVS_AZURE_CHALLENGE_H
#define KVS_AZURE_CHALLENGE_H

#include <stddef.h>

#include "azure/kvurl.h"

#define KVS_CHAL_VALUE_MAX 1024 /* longest parameter value kept, NUL included */
#define KVS_TENANT_MAX 128
#define KVS_SCOPE_MAX (KVS_CHAL_VALUE_MAX + 16)

/* Raw parameters of the first Bearer challenge ("" when absent). */
typedef struct kvs_challenge {
    char authorization[KVS_CHAL_VALUE_MAX]; /* authorization or authorization_uri */
    char resource[KVS_CHAL_VALUE_MAX];
    char scope[KVS_CHAL_VALUE_MAX];
} kvs_challenge;

/* Parse a WWW-Authenticate value of len bytes (not NUL-terminated; a NUL byte
 * inside is an error). Finds the first "Bearer" challenge and reads its
 * auth-params (token or quoted-string values, quoted-pair escapes). Refuses
 * control characters, unterminated quotes, over-long values and conflicting
 * duplicates. Returns 0 when authorization and resource or scope are present,
 * else -1. */
int kvs_challenge_parse(const char *hdr, size_t len, kvs_challenge *out);

/* What kvseal uses from a challenge. */
typedef struct kvs_challenge_info {
    char tenant[KVS_TENANT_MAX + 1];   /* first path segment of authorization */
    char scope[KVS_SCOPE_MAX];         /* scope, else resource + "/.default" */
    char resource[KVS_SCOPE_MAX];      /* scope without "/.default" (managed identity, CLI) */
    char audience_host[KVS_KV_HOST_MAX]; /* host of the scope (and resource) */
} kvs_challenge_info;

/* Derive tenant, scope and resource. Refuses non-https URLs, a tenant that is
 * not [A-Za-z0-9._-]{1,128}, and a scope and resource naming different hosts.
 * Returns 0 or -1. */
int kvs_challenge_derive(const kvs_challenge *c, kvs_challenge_info *out);

/* Resource verification: 1 if vault_host ends with "." + audience host (and
 * the audience host has at least two labels), or, when explicit_allow is set,
 * equals the audience host. 0 otherwise: send no token. */
int kvs_challenge_resource_ok(const kvs_challenge_info *ci, const char *vault_host,
                              int explicit_allow);

#endif
