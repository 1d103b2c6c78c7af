/* Environment client certificate credential (AZURE_CLIENT_CERTIFICATE_PATH,
 * optional AZURE_CLIENT_CERTIFICATE_PASSWORD): a PS256 client assertion JWT
 * signed with the certificate's RSA key (header carries x5t#S256). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "azure/cred_sources.h"
#include "azure/entra.h"
#include "azure/http.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/b64url.h"
#include "core/error.h"
#include "core/secfile.h"

#define KVS_ASSERTION_LIFETIME 540 /* seconds: Entra accepts at most 10 minutes */
#define KVS_PATH_MAX 4096
#define KVS_CERT_FILE_MAX (1 << 20)

/* The certificate is loaded on first use; `lock` guards that (token
 * requests for different scopes may run at once). */
typedef struct kvs_cred_cert {
    kvs_cred base;
    char path[KVS_PATH_MAX];
    pthread_mutex_t lock;
    EVP_PKEY *key;
    char x5t_s256[48];
} kvs_cred_cert;

typedef struct kvs_pw {
    const char *text;
} kvs_pw;

static int kvs_pem_pw_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const kvs_pw *pw = u;
    if (pw == NULL || pw->text == NULL || size <= 0) return -1;
    size_t n = strlen(pw->text);
    if (n > (size_t)size) return -1;
    memcpy(buf, pw->text, n);
    return (int)n;
}

static kvs_status kvs_x5t_s256(X509 *cert, char *out, size_t cap, kvs_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &mdlen))
        return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "certificate digest");
    if (kvs_b64url_encode(md, mdlen, out, cap) != 0)
        return kvs_fail(err, KVS_ERR_INTERNAL, "x5t buffer too small");
    return KVS_OK;
}

static kvs_status kvs_pem_parts(const kvs_secret_buf *pem, const char *password, X509 **cert,
                                EVP_PKEY **key, kvs_error *err)
{
    kvs_pw pw = {password};
    BIO *b1 = BIO_new_mem_buf(pem->p, (int)pem->len);
    BIO *b2 = BIO_new_mem_buf(pem->p, (int)pem->len);
    *cert = b1 ? PEM_read_bio_X509(b1, NULL, NULL, NULL) : NULL;
    *key = b2 ? PEM_read_bio_PrivateKey(b2, NULL, kvs_pem_pw_cb, &pw) : NULL;
    BIO_free(b1);
    BIO_free(b2);
    ERR_clear_error();
    if (*cert == NULL)
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "AZURE_CLIENT_CERTIFICATE_PATH holds no PEM certificate");
    if (*key == NULL)
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "cannot read the private key in AZURE_CLIENT_CERTIFICATE_PATH (missing, "
                        "or encrypted and AZURE_CLIENT_CERTIFICATE_PASSWORD is wrong or unset)");
    if (!EVP_PKEY_is_a(*key, "RSA"))
        return kvs_fail(err, KVS_ERR_CONFIG, "the client certificate's key must be RSA");
    if (X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "the private key does not belong to the certificate in "
                        "AZURE_CLIENT_CERTIFICATE_PATH");
    }
    return KVS_OK;
}

/* Load the certificate and key once; the caller holds cc->lock. */
static kvs_status kvs_cert_load(kvs_cred_cert *cc, kvs_error *err)
{
    kvs_secret_buf pem;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (cc->key != NULL) return KVS_OK;
    kvs_status st = kvs_secret_file_read(cc->path, KVS_CERT_FILE_MAX, &pem, err);
    if (st == KVS_OK)
        st = kvs_pem_parts(&pem, kvs_cred_env("AZURE_CLIENT_CERTIFICATE_PASSWORD"), &cert, &key,
                           err);
    if (st == KVS_OK) st = kvs_x5t_s256(cert, cc->x5t_s256, sizeof(cc->x5t_s256), err);
    if (st == KVS_OK) {
        cc->key = key;
        key = NULL;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    kvs_secret_buf_free(&pem);
    return st;
}

/* Compact JSON text of the JWT claims (not secret). */
static char *kvs_claims_json(const char *client_id, const char *aud)
{
    char jti[37];
    int64_t now = kvs_wall_s();
    kvs_uuid4(jti);
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o != NULL && cJSON_AddStringToObject(o, "aud", aud) &&
        cJSON_AddStringToObject(o, "iss", client_id) &&
        cJSON_AddStringToObject(o, "sub", client_id) && cJSON_AddStringToObject(o, "jti", jti) &&
        cJSON_AddNumberToObject(o, "nbf", (double)now) &&
        cJSON_AddNumberToObject(o, "iat", (double)now) &&
        cJSON_AddNumberToObject(o, "exp", (double)(now + KVS_ASSERTION_LIFETIME)))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static kvs_status kvs_pss_sign(EVP_PKEY *key, const char *in, size_t len, kvs_sbuf *out,
                               kvs_error *err)
{
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_DigestSign(md, sig, &siglen, (const unsigned char *)in, len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) return kvs_fail_ossl(err, KVS_ERR_CRYPTO, "signing the client assertion");
    if (kvs_sbuf_put_b64url(out, sig, siglen) != 0)
        return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client assertion too large");
    return KVS_OK;
}

/* Append a signed client assertion JWT for client_id with audience aud. */
static kvs_status kvs_cert_assertion(const kvs_cred_cert *cc, const char *client_id,
                                     const char *aud, kvs_sbuf *out, kvs_error *err)
{
    char header[160];
    int n = snprintf(header, sizeof(header), "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                     cc->x5t_s256);
    if (n < 0 || (size_t)n >= sizeof(header))
        return kvs_fail(err, KVS_ERR_INTERNAL, "JWT header too long");
    char *claims = kvs_claims_json(client_id, aud);
    if (claims == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory (JWT claims)");
    size_t start = out->len;
    int bad = kvs_sbuf_put_b64url(out, (const uint8_t *)header, (size_t)n) != 0 ||
              kvs_sbuf_puts(out, ".") != 0 ||
              kvs_sbuf_put_b64url(out, (const uint8_t *)claims, strlen(claims)) != 0;
    cJSON_free(claims);
    if (bad) return kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client assertion too large");
    size_t signed_len = out->len - start;
    /* Sign a copy: appending may move the buffer. */
    kvs_sbuf input;
    kvs_sbuf_init(&input, out->max);
    if (kvs_sbuf_append(&input, out->p + start, signed_len) != 0)
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory (JWT)");
    kvs_status st = kvs_sbuf_puts(out, ".") == 0
                        ? kvs_pss_sign(cc->key, input.p, input.len, out, err)
                        : kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client assertion too large");
    kvs_sbuf_free(&input);
    return st;
}

static kvs_status kvs_cert_proof(kvs_cred *c, const char *url, kvs_sbuf *form, kvs_error *err)
{
    kvs_cred_cert *cc = (kvs_cred_cert *)c;
    kvs_status st = kvs_entra_assertion_start(form, err);
    if (st != KVS_OK) return st;
    pthread_mutex_lock(&cc->lock);
    st = kvs_cert_load(cc, err);
    if (st == KVS_OK) /* b64url: no escaping */
        st = kvs_cert_assertion(cc, c->client_id, url, form, err);
    pthread_mutex_unlock(&cc->lock);
    return st;
}

static kvs_status kvs_cert_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                                 kvs_token *tok, kvs_error *err)
{
    return kvs_entra_token(c, http, r, kvs_cert_proof, tok, err);
}

static const char *kvs_cert_describe(const kvs_cred *c)
{
    (void)c;
    return "environment client certificate";
}

static void kvs_cert_free(kvs_cred *c)
{
    kvs_cred_cert *cc = (kvs_cred_cert *)c;
    EVP_PKEY_free(cc->key);
    pthread_mutex_destroy(&cc->lock);
    free(cc);
}

static const kvs_cred_ops kvs_cert_ops = {kvs_cert_token, kvs_cert_describe, kvs_cert_free};

kvs_status kvs_cred_cert_new(const kvs_cred *base, kvs_cred **out, kvs_error *err)
{
    const char *path = kvs_cred_env("AZURE_CLIENT_CERTIFICATE_PATH");
    if (path == NULL || strlen(path) >= KVS_PATH_MAX)
        return kvs_fail(err, KVS_ERR_CONFIG, "an AZURE_* environment variable is too long");
    kvs_cred_cert *cc = calloc(1, sizeof(*cc));
    if (cc == NULL) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    cc->base = *base;
    cc->base.ops = &kvs_cert_ops;
    memcpy(cc->path, path, strlen(path) + 1);
    pthread_mutex_init(&cc->lock, NULL);
    *out = &cc->base;
    return KVS_OK;
}
