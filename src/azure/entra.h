/* The Microsoft Entra ID token endpoint (client credentials grant), shared
 * by the client secret, client certificate and workload identity sources. */
#ifndef KVS_AZURE_ENTRA_H
#define KVS_AZURE_ENTRA_H

#include "azure/cred.h"
#include "azure/sbuf.h"

/* Append the credential's proof (client_secret, or client_assertion_type
 * and client_assertion) to the form. url is the token endpoint, the
 * audience of a client assertion. */
typedef kvs_status (*kvs_entra_proof_fn)(kvs_cred *c, const char *url, kvs_sbuf *form,
                                         kvs_error *err);

/* POST {authority}/{tenant}/oauth2/v2.0/token with grant_type, client_id,
 * scope and the proof; the answer's token into tok. A refusal names the
 * credential, client and tenant with Entra's error_description. */
kvs_status kvs_entra_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                           kvs_entra_proof_fn proof, kvs_token *tok, kvs_error *err);

/* Append the client_assertion_type of a JWT bearer assertion and
 * "&client_assertion=", for the proof to append the assertion itself. */
kvs_status kvs_entra_assertion_start(kvs_sbuf *form, kvs_error *err);

/* Append "&name=value" (no '&' first), value form-encoded. 0 or -1. */
int kvs_form_add(kvs_sbuf *f, const char *name, const char *value);

#endif
