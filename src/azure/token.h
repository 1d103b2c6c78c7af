/* An access token from Microsoft Entra ID, managed identity or the Azure CLI:
 * its text (secure memory only) and its lifetime. */
#ifndef KVS_AZURE_TOKEN_H
#define KVS_AZURE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "azure/sbuf.h"

#define KVS_TOKEN_MAX (64 * 1024) /* longest token or token response accepted */

typedef struct kvs_token {
    kvs_sbuf text;      /* the access token, secure */
    int64_t expires_on; /* epoch seconds */
    int64_t issued_at;  /* epoch seconds, when it was received */
} kvs_token;

void kvs_token_init(kvs_token *t);
void kvs_token_free(kvs_token *t);

/* 1 if t holds a token that is still good at now (epoch seconds), leaving a
 * margin before expiry: 5 minutes, or half the lifetime if that is shorter. */
int kvs_token_valid(const kvs_token *t, int64_t now);

/* Token JSON of Entra / managed identity / CLI into tok. access_field is
 * "access_token" or "accessToken". Returns 0 or -1. */
int kvs_token_from_json(const char *body, size_t len, const char *access_field,
                        kvs_token *tok);

#endif
