/* Entra ID token endpoint requests (azure/entra.h). */
#include "azure/entra.h"

#include <stdio.h>

#include "azure/kverror.h"
#include "core/error.h"

#define KVS_ENTRA_FORM_MAX (256 * 1024)

int kvs_form_add(kvs_sbuf *f, const char *name, const char *value)
{
    if (f->len > 0 && kvs_sbuf_puts(f, "&") != 0) return -1;
    if (kvs_sbuf_puts(f, name) != 0 || kvs_sbuf_puts(f, "=") != 0) return -1;
    return kvs_sbuf_put_urlenc(f, value);
}

kvs_status kvs_entra_assertion_start(kvs_sbuf *form, kvs_error *err)
{
    static const char jwt_type[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    if (kvs_form_add(form, "client_assertion_type", jwt_type) != 0 ||
        kvs_sbuf_puts(form, "&client_assertion=") != 0)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    return KVS_OK;
}

static kvs_status kvs_entra_post(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                 const char *url, const kvs_sbuf *form, kvs_token *tok,
                                 kvs_error *err)
{
    kvs_http_resp resp;
    kvs_http_req req = {0};
    req.method = "POST";
    req.url = url;
    req.content_type = "application/x-www-form-urlencoded";
    req.body = form->p;
    req.body_len = form->len;
    req.hard_deadline_ms = r->hard_deadline_ms;
    kvs_http_resp_init(&resp);
    kvs_status st = kvs_http_exchange(http, &req, r->deadline_ms, &resp, err);
    if (st == KVS_OK && resp.status == 200 &&
        kvs_token_from_json(resp.body.p, resp.body.len, "access_token", tok) != 0)
        st = kvs_fail(err, KVS_ERR_KEY_ACCESS, "Entra ID answered without an access token");
    else if (st == KVS_OK && resp.status != 200) {
        char desc[200], ids[200];
        kvs_entra_error_text(resp.body.p, resp.body.len, desc, sizeof(desc));
        kvs_request_ids(resp.client_request_id, resp.request_id, ids, sizeof(ids));
        st = kvs_fail(err, resp.status >= 500 || resp.status == 429 ? KVS_ERR_NETWORK
                                                                    : KVS_ERR_KEY_ACCESS,
                      "Entra ID refused the %s credential (client %.64s, tenant %.64s, HTTP "
                      "%ld): %s%s",
                      kvs_cred_describe(c), c->client_id, r->tenant, resp.status, desc, ids);
    }
    kvs_http_resp_free(&resp);
    return st;
}

kvs_status kvs_entra_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                           kvs_entra_proof_fn proof, kvs_token *tok, kvs_error *err)
{
    char url[2300];
    if (r->tenant == NULL || r->tenant[0] == '\0')
        return kvs_fail(err, KVS_ERR_CONFIG, "no tenant: set AZURE_TENANT_ID");
    int n = snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", r->authority, r->tenant);
    if (n < 0 || (size_t)n >= sizeof(url))
        return kvs_fail(err, KVS_ERR_CONFIG, "authority URL too long");
    kvs_sbuf form;
    kvs_sbuf_init(&form, KVS_ENTRA_FORM_MAX);
    kvs_status st = KVS_OK;
    if (kvs_form_add(&form, "grant_type", "client_credentials") != 0 ||
        kvs_form_add(&form, "client_id", c->client_id) != 0 ||
        kvs_form_add(&form, "scope", r->scope) != 0)
        st = kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "token request too large");
    if (st == KVS_OK) st = proof(c, url, &form, err);
    if (st == KVS_OK) st = kvs_entra_post(c, http, r, url, &form, tok, err);
    kvs_sbuf_free(&form);
    return st;
}
