/* Local PEM signers (EC P-256 / P-384, RSA >= 3072) and required signers
 * from a PEM public or private key: the header names them by key_id, the
 * SHA-256 of the key's SubjectPublicKeyInfo (FORMAT.md "Signed files"). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/secfile.h"
#include "crypto/sign.h"
#include "keys/pem_load.h"
#include "keys/signer.h"
#include "kvseal/sign.h"

/* As the CLI's --passphrase-file: one line, its newline dropped. */
#define LOCAL_PASSPHRASE_MAX 4096
#define LOCAL_PASSPHRASE_ENV "KVSEAL_PASSPHRASE_FILE"

typedef struct local_signer {
    EVP_PKEY *priv;
    kvs_sig_alg alg;
} local_signer;

static kvs_status local_sign(void *impl, const uint8_t *digest, size_t dlen, uint8_t *sig,
                             size_t *sig_len, kvs_error *err)
{
    local_signer *l = impl;
    return kvs_sig_sign_digest(l->priv, l->alg, digest, dlen, sig, KVS_SIG_MAX_LEN, sig_len, err);
}

static void local_destroy(void *impl)
{
    local_signer *l = impl;
    EVP_PKEY_free(l->priv);
    free(l);
}

static const kvs_signer_ops local_ops = {.sign = local_sign, .destroy = local_destroy};

/* The passphrase named by KVSEAL_PASSPHRASE_FILE, if the variable is set. */
static kvs_status read_passphrase(kvs_secret_buf *pass, kvs_error *err)
{
    memset(pass, 0, sizeof *pass);
    const char *file = getenv(LOCAL_PASSPHRASE_ENV);
    if (file == NULL || file[0] == '\0') return KVS_OK;
    kvs_status st = kvs_secret_file_read(file, LOCAL_PASSPHRASE_MAX + 2, pass, err);
    if (st != KVS_OK) return st;
    if (pass->len > 0 && pass->p[pass->len - 1] == '\n') pass->p[--pass->len] = '\0';
    if (pass->len > 0 && pass->p[pass->len - 1] == '\r') pass->p[--pass->len] = '\0';
    if (pass->len == 0 || pass->len > LOCAL_PASSPHRASE_MAX || strlen(pass->p) != pass->len) {
        kvs_secret_buf_free(pass);
        return kvs_fail(err, KVS_ERR_CONFIG,
                        "%s %s: the passphrase is empty, too long or holds a NUL byte",
                        LOCAL_PASSPHRASE_ENV, file);
    }
    return KVS_OK;
}

/* The key in path as a signing key: EC P-256 / P-384 or RSA >= 3072; alg
 * its default or the one asked for, which must fit. */
static kvs_status signing_key(const char *path, EVP_PKEY *key, const char *alg_name,
                              kvs_sig_alg *alg, kvs_error *err)
{
    kvs_sig_alg def = kvs_sig_default_alg(key);
    if (def == KVS_SIG_NONE)
        return kvs_fail(err, KVS_ERR_KEY,
                        "%s cannot sign files: a signing key is EC (P-256 or P-384) or RSA "
                        "(at least 3072 bits)", path);
    *alg = def;
    if (alg_name != NULL) {
        *alg = kvs_sig_alg_parse(alg_name);
        if (*alg == KVS_SIG_NONE)
            return kvs_fail(err, KVS_ERR_USAGE,
                            "unknown signature algorithm '%.16s' (ES256, ES384, PS256, PS384 "
                            "or PS512)", alg_name);
    }
    kvs_error kerr = {0};
    if (kvs_sig_key_check(key, *alg, &kerr) != KVS_OK)
        return kvs_fail(err, KVS_ERR_KEY, "%s cannot sign files: %s", path, kerr.detail);
    return KVS_OK;
}

kvs_status kvs_local_signer_new(const char *pem_path, const char *alg, kvs_signer **out,
                                kvs_error *err)
{
    kvs_secret_buf pass;
    EVP_PKEY *key = NULL;
    int is_private = 0;
    kvs_sig_alg sig_alg = KVS_SIG_NONE;
    char key_id[KVS_KEY_ID_LEN + 1];
    *out = NULL;
    kvs_status st = read_passphrase(&pass, err);
    if (st != KVS_OK) return st;
    st = kvs_pem_load(pem_path, pass.p, NULL, "EC or RSA private key", &key, &is_private, err);
    kvs_secret_buf_free(&pass);
    if (st != KVS_OK) return st;
    if (!is_private)
        st = kvs_fail(err, KVS_ERR_KEY, "%s is a public key: signing needs the private key",
                      pem_path);
    if (st == KVS_OK) st = signing_key(pem_path, key, alg, &sig_alg, err);
    if (st == KVS_OK) st = kvs_spki_key_id(key, key_id, err);
    local_signer *l = NULL;
    if (st == KVS_OK && (l = calloc(1, sizeof *l)) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st != KVS_OK) {
        EVP_PKEY_free(key);
        return st;
    }
    l->priv = key;
    l->alg = sig_alg;
    /* The private key object also verifies: the signer keeps a second reference. */
    if (EVP_PKEY_up_ref(key) != 1) {
        local_destroy(l);
        return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    }
    return kvs_signer_make(&local_ops, l, KVS_SIGNER_KEY, key_id, sig_alg, key, out, err);
}

/* ---- a required local signer ---------------------------------------------- */

typedef struct local_check {
    EVP_PKEY *pub;
    char key_id[KVS_KEY_ID_LEN + 1];
} local_check;

static kvs_status local_resolve(void *impl, const kvs_header_signer *file_signer, EVP_PKEY **pub,
                                kvs_error *err)
{
    local_check *c = impl;
    *pub = NULL;
    if (strcmp(file_signer->type, KVS_SIGNER_KEY) != 0 || strcmp(file_signer->id, c->key_id) != 0)
        return kvs_fail(err, KVS_ERR_SIGNER,
                        "the file is signed by %s %.200s, not by the required key %s",
                        file_signer->type, file_signer->id, c->key_id);
    if (EVP_PKEY_up_ref(c->pub) != 1) return kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    *pub = c->pub;
    return KVS_OK;
}

static void local_check_destroy(void *impl)
{
    local_check *c = impl;
    EVP_PKEY_free(c->pub);
    free(c);
}

static const kvs_signer_check_ops local_check_ops = {.resolve = local_resolve,
                                                     .destroy = local_check_destroy};

kvs_status kvs_signer_check_pem(const char *pem_path, kvs_signer_check **out, kvs_error *err)
{
    kvs_secret_buf pass;
    EVP_PKEY *key = NULL;
    int is_private = 0;
    kvs_sig_alg alg = KVS_SIG_NONE;
    *out = NULL;
    kvs_status st = read_passphrase(&pass, err);
    if (st != KVS_OK) return st;
    st = kvs_pem_load(pem_path, pass.p, NULL, "EC or RSA key", &key, &is_private, err);
    kvs_secret_buf_free(&pass);
    if (st != KVS_OK) return st;
    local_check *c = calloc(1, sizeof *c);
    if (c == NULL) st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st == KVS_OK) st = signing_key(pem_path, key, NULL, &alg, err);
    if (st == KVS_OK) st = kvs_spki_key_id(key, c->key_id, err);
    if (st != KVS_OK) {
        EVP_PKEY_free(key);
        free(c);
        return st;
    }
    c->pub = key;
    return kvs_signer_check_make(&local_check_ops, c, c->key_id, out, err);
}
