/* Blob credential selection and secret handling (see blob_cred.h). */
#include "blob/blob_cred.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/b64url.h"
#include "core/error.h"
#include "core/secmem.h"

#define KVS_SAS_MAX 8192
#define KVS_ACCOUNT_KEY_MAX 128 /* decoded bytes; real keys are 64 */

static kvs_status kvs_sas_take(kvs_blob_cred *c, const char *text, size_t n, kvs_error *err)
{
    if (n > 0 && text[0] == '?') {
        text++;
        n--;
    }
    if (n == 0) return kvs_fail(err, KVS_ERR_CONFIG, "the SAS token is empty");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '#')
            return kvs_fail(err, KVS_ERR_CONFIG,
                            "the SAS token holds a character a URL query cannot carry");
    }
    c->sas.p = kvs_secure_alloc(n + 1);
    if (c->sas.p == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    memcpy(c->sas.p, text, n);
    c->sas.p[n] = '\0';
    c->sas.len = n;
    c->sas.cap = n + 1;
    c->kind = KVS_BLOB_CRED_SAS;
    return KVS_OK;
}

static kvs_status kvs_sas_resolve(const kvs_blob_config *cfg, kvs_blob_cred *c, kvs_error *err)
{
    if (cfg != NULL && cfg->sas_file != NULL) {
        kvs_secret_buf b = {0};
        kvs_status st = kvs_secret_file_read(cfg->sas_file, KVS_SAS_MAX, &b, err);
        if (st != KVS_OK) return st;
        kvs_secret_buf_rtrim(&b);
        st = kvs_sas_take(c, b.p ? b.p : "", b.len, err);
        kvs_secret_buf_free(&b);
        return st;
    }
    const char *env = getenv("AZURE_STORAGE_SAS_TOKEN");
    if (env == NULL || strlen(env) > KVS_SAS_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "no SAS token: set AZURE_STORAGE_SAS_TOKEN or give a SAS file");
    return kvs_sas_take(c, env, strlen(env), err);
}

static kvs_status kvs_key_take(kvs_blob_cred *c, const char *account, size_t alen,
                               const char *b64, size_t blen, kvs_error *err)
{
    if (alen < 3 || alen > KVS_BLOB_ACCOUNT_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "the storage account name must be 3 to 24 "
                                             "characters");
    c->key_cap = KVS_ACCOUNT_KEY_MAX;
    c->key = kvs_secure_alloc(c->key_cap);
    if (c->key == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (blen == 0 || kvs_b64_decode_lenient(b64, blen, c->key, c->key_cap, &c->key_len) != 0 ||
        c->key_len == 0) {
        kvs_secure_free(c->key, c->key_cap);
        c->key = NULL;
        return kvs_fail(err, KVS_ERR_CONFIG, "the storage account key is not valid base64");
    }
    memcpy(c->account, account, alen);
    c->account[alen] = '\0';
    c->kind = KVS_BLOB_CRED_SHARED_KEY;
    return KVS_OK;
}

/* The value of field name in a "k=v;k=v" connection string, or NULL. */
static const char *kvs_cs_field(const char *cs, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (const char *p = cs; *p;) {
        size_t seg = strcspn(p, ";");
        if (seg > nl && p[nl] == '=' && strncasecmp(p, name, nl) == 0) {
            *len = seg - nl - 1;
            return p + nl + 1;
        }
        p += seg;
        if (*p == ';') p++;
    }
    return NULL;
}

kvs_status kvs_blob_cred_from_connection_string(const char *cs, kvs_blob_cred *out,
                                                kvs_error *err)
{
    static const char *const known[] = {"AccountName", "AccountKey", "BlobEndpoint",
                                        "DefaultEndpointsProtocol", "EndpointSuffix",
                                        "QueueEndpoint", "TableEndpoint", "FileEndpoint"};
    /* Every field must be known and of the k=v form: a typo should not
     * silently fall back to another credential. */
    for (const char *p = cs; *p;) {
        size_t seg = strcspn(p, ";"), i;
        const char *eq = memchr(p, '=', seg);
        for (i = 0; seg > 0 && eq != NULL && i < sizeof(known) / sizeof(known[0]); i++)
            if ((size_t)(eq - p) == strlen(known[i]) && strncasecmp(p, known[i], strlen(known[i])) == 0)
                break;
        if (seg > 0 && (eq == NULL || i == sizeof(known) / sizeof(known[0])))
            return kvs_fail(err, KVS_ERR_CONFIG,
                            "AZURE_STORAGE_CONNECTION_STRING has a field kvseal does not know");
        p += seg;
        if (*p == ';') p++;
    }
    size_t alen = 0, klen = 0;
    const char *acct = kvs_cs_field(cs, "AccountName", &alen);
    const char *key = kvs_cs_field(cs, "AccountKey", &klen);
    if (acct == NULL || key == NULL)
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "AZURE_STORAGE_CONNECTION_STRING needs AccountName and AccountKey");
    return kvs_key_take(out, acct, alen, key, klen, err);
}

static kvs_status kvs_key_resolve(kvs_blob_cred *c, kvs_error *err)
{
    const char *acct = getenv("AZURE_STORAGE_ACCOUNT"), *key = getenv("AZURE_STORAGE_KEY");
    if (acct != NULL && key != NULL)
        return kvs_key_take(c, acct, strlen(acct), key, strlen(key), err);
    const char *cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
    if (cs != NULL) return kvs_blob_cred_from_connection_string(cs, c, err);
    return kvs_fail(err, KVS_ERR_CONFIG,
                    "no Shared Key: set AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or "
                    "AZURE_STORAGE_CONNECTION_STRING");
}

static int kvs_sas_configured(const kvs_blob_config *cfg)
{
    return (cfg != NULL && cfg->sas_file != NULL) || getenv("AZURE_STORAGE_SAS_TOKEN") != NULL;
}

static int kvs_key_configured(void)
{
    return (getenv("AZURE_STORAGE_ACCOUNT") != NULL && getenv("AZURE_STORAGE_KEY") != NULL) ||
           getenv("AZURE_STORAGE_CONNECTION_STRING") != NULL;
}

/* An Entra ID source when one is configured (or named), else NULL. */
static kvs_status kvs_entra_resolve(const char *name, int required, kvs_blob_cred *c,
                                    kvs_error *err)
{
    kvs_status st = kvs_cred_new(name, &c->entra, err);
    if (st != KVS_OK) return st;
    if (c->entra->kind == KVS_CRED_NONE) {
        kvs_cred_free(c->entra);
        c->entra = NULL;
        if (!required) return KVS_OK;
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "no Entra ID source is configured: set AZURE_CLIENT_ID with "
                        "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
                        "AZURE_FEDERATED_TOKEN_FILE, log in with 'az login', or set "
                        "KVSEAL_CREDENTIAL=managed-identity");
    }
    c->kind = KVS_BLOB_CRED_ENTRA;
    return KVS_OK;
}

kvs_status kvs_blob_cred_resolve(const kvs_blob_config *cfg, const kvs_blob_url *u,
                                 const char *entra_name, kvs_blob_cred *out, kvs_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *want = cfg != NULL && cfg->credential != NULL ? cfg->credential : "auto";
    int is_auto = strcmp(want, "auto") == 0;
    kvs_status st = KVS_OK;
    if (strcmp(want, "entra") == 0) {
        st = u->https ? kvs_entra_resolve(entra_name, 1, out, err)
                      : kvs_fail(err, KVS_ERR_USAGE, "refusing to send an Entra ID token over "
                                                     "plain http to '%s'", u->shown);
    } else if (is_auto && u->https) {
        st = kvs_entra_resolve(entra_name, 0, out, err);
    }
    if (st != KVS_OK || out->kind != KVS_BLOB_CRED_NONE) {
        /* chosen, or failed */
    } else if (strcmp(want, "sas") == 0 || (is_auto && kvs_sas_configured(cfg))) {
        st = kvs_sas_resolve(cfg, out, err);
    } else if (strcmp(want, "shared-key") == 0 || (is_auto && kvs_key_configured())) {
        st = kvs_key_resolve(out, err);
        if (st == KVS_OK && strcmp(out->account, u->account) != 0)
            st = kvs_fail(err, KVS_ERR_CONFIG,
                          "the Shared Key is for account '%s', the URL names account '%s'",
                          out->account, u->account);
    } else if (is_auto) {
        st = kvs_fail(err, KVS_ERR_CONFIG,
                      "no blob credential: configure Entra ID (AZURE_CLIENT_ID with a secret, "
                      "certificate or federated token, a managed identity, or 'az login'; "
                      "https only), AZURE_STORAGE_SAS_TOKEN or a SAS file, or "
                      "AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY");
    } else {
        st = kvs_fail(err, KVS_ERR_USAGE,
                      "unknown blob credential (expected auto, entra, sas or shared-key)");
    }
    if (st != KVS_OK) kvs_blob_cred_free(out);
    return st;
}

void kvs_blob_cred_free(kvs_blob_cred *c)
{
    if (c == NULL) return;
    kvs_secret_buf_free(&c->sas);
    kvs_cred_free(c->entra);
    if (c->key != NULL) kvs_secure_free(c->key, c->key_cap);
    memset(c, 0, sizeof(*c));
}
