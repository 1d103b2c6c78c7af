/* Client certificate credential: a PS256 client assertion JWT signed with
 * the certificate's RSA key (header carries x5t#S256). */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "azure/cred.h"
#include "azure/http.h"
#include "azure/kvjson.h"
#include "azure/retry.h"
#include "core/b64url.h"
#include "core/error.h"

#define KVS_ASSERTION_LIFETIME 540 /* seconds: Entra accepts at most 10 minutes */

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

static kvs_status kvs_pem_parts(const kvs_sbuf *pem, const char *password, X509 **cert,
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

kvs_status kvs_cert_cred_load(const char *path, const char *password, kvs_cert_cred *cc,
                              kvs_error *err)
{
    kvs_sbuf pem;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    kvs_status st = kvs_read_file_secure(path, 1 << 20, &pem, err);
    if (st == KVS_OK) st = kvs_pem_parts(&pem, password, &cert, &key, err);
    if (st == KVS_OK) st = kvs_x5t_s256(cert, cc->x5t_s256, sizeof(cc->x5t_s256), err);
    if (st == KVS_OK) {
        cc->key = key;
        key = NULL;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    kvs_sbuf_free(&pem);
    return st;
}

void kvs_cert_cred_clear(kvs_cert_cred *cc)
{
    EVP_PKEY_free((EVP_PKEY *)cc->key);
    memset(cc, 0, sizeof(*cc));
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

kvs_status kvs_cert_assertion(const kvs_cert_cred *cc, const char *client_id, const char *aud,
                              kvs_sbuf *out, kvs_error *err)
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
                        ? kvs_pss_sign((EVP_PKEY *)cc->key, input.p, input.len, out, err)
                        : kvs_fail(err, KVS_ERR_RESOURCE_LIMIT, "client assertion too large");
    kvs_sbuf_free(&input);
    return st;
}
