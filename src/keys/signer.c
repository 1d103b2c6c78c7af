/* What every signer and required-signer check shares (keys/signer.h):
 * construction from an ops table, hashing and signing the statement M with
 * a local verification before the signature is used, counting signatures,
 * and matching a file's signer against the required one. */
#include "keys/signer.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void destroy_impl(void (*destroy)(void *), void *impl)
{
    if (destroy != NULL && impl != NULL) destroy(impl);
}

kvs_status kvs_signer_make(const kvs_signer_ops *ops, void *impl, const char *type,
                           const char *id, kvs_sig_alg alg, EVP_PKEY *pub, kvs_signer **out,
                           kvs_error *err)
{
    kvs_status st = KVS_OK;
    *out = NULL;
    if (ops == NULL || ops->sign == NULL || type == NULL || id == NULL || pub == NULL)
        st = kvs_fail(err, KVS_ERR_USAGE, "signer: missing ops, identity or public key");
    else if (strcmp(type, KVS_SIGNER_KEY) != 0 && strcmp(type, KVS_SIGNER_KEYVAULT) != 0)
        st = kvs_fail(err, KVS_ERR_USAGE, "signer: unknown type '%.32s'", type);
    else if (id[0] == '\0' || strlen(id) > KVS_MAX_KEY_ID_LEN)
        st = kvs_fail(err, KVS_ERR_USAGE, "signer: the key's name is empty or too long");
    else if (kvs_sig_digest_len(alg) == 0)
        st = kvs_fail(err, KVS_ERR_USAGE, "signer: no signature algorithm");
    else
        st = kvs_sig_key_check(pub, alg, err);
    size_t sig_len = st == KVS_OK ? kvs_sig_len(pub, alg) : 0;
    if (st == KVS_OK && (sig_len < 1 || sig_len > KVS_SIG_MAX_LEN))
        st = kvs_fail(err, KVS_ERR_KEY, "signer: %s signatures of %zu bytes do not fit a file",
                      kvs_sig_alg_name(alg), sig_len);
    kvs_signer *s = NULL;
    if (st == KVS_OK && (s = calloc(1, sizeof *s)) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st != KVS_OK) {
        destroy_impl(ops ? ops->destroy : NULL, impl);
        EVP_PKEY_free(pub);
        return st;
    }
    s->ops = ops;
    s->impl = impl;
    memcpy(s->ident.type, type, strlen(type) + 1);
    memcpy(s->ident.id, id, strlen(id) + 1);
    memcpy(s->ident.alg, kvs_sig_alg_name(alg), strlen(kvs_sig_alg_name(alg)) + 1);
    s->alg = alg;
    s->pub = pub;
    s->sig_len = sig_len;
    *out = s;
    return KVS_OK;
}

kvs_status kvs_signer_sign_statement(kvs_signer *s, const uint8_t *m, size_t m_len,
                                     uint8_t *sig, size_t *sig_len, kvs_error *err)
{
    uint8_t digest[KVS_SIG_DIGEST_MAX];
    size_t dlen = 0, len = 0;
    kvs_status st = kvs_sig_digest(s->alg, m, m_len, digest, &dlen);
    if (st != KVS_OK) return kvs_fail(err, st, "hashing the signed statement failed");
    st = s->ops->sign(s->impl, digest, dlen, sig, &len, err);
    if (st != KVS_OK) return st;
    __atomic_fetch_add(&s->signatures, 1, __ATOMIC_RELAXED);
    /* A faulty HSM, a wrong key version or a bad length never reaches a file. */
    if (len != s->sig_len)
        return kvs_fail(err, KVS_ERR_KEY, "signer %s made a signature of %zu bytes, not %zu",
                        s->ident.id, len, s->sig_len);
    kvs_error verr = {0};
    if (kvs_sig_verify_digest(s->pub, s->alg, digest, dlen, sig, len, &verr) != KVS_OK)
        return kvs_fail(err, KVS_ERR_KEY,
                        "the signature made by %s does not verify with its public key (%s)",
                        s->ident.id, verr.detail);
    *sig_len = len;
    return KVS_OK;
}

const char *kvs_signer_type(const kvs_signer *s)
{
    return s->ident.type;
}

const char *kvs_signer_id(const kvs_signer *s)
{
    return s->ident.id;
}

const char *kvs_signer_alg(const kvs_signer *s)
{
    return s->ident.alg;
}

uint64_t kvs_signer_signatures(const kvs_signer *s)
{
    return __atomic_load_n(&s->signatures, __ATOMIC_RELAXED);
}

void kvs_signer_free(kvs_signer *s)
{
    if (s == NULL) return;
    destroy_impl(s->ops->destroy, s->impl);
    EVP_PKEY_free(s->pub);
    free(s);
}

kvs_status kvs_signer_check_make(const kvs_signer_check_ops *ops, void *impl, const char *name,
                                 kvs_signer_check **out, kvs_error *err)
{
    kvs_status st = KVS_OK;
    kvs_signer_check *c = NULL;
    *out = NULL;
    if (ops == NULL || ops->resolve == NULL || name == NULL || name[0] == '\0' ||
        strlen(name) > KVS_MAX_KEY_ID_LEN)
        st = kvs_fail(err, KVS_ERR_USAGE, "required signer: missing ops or name");
    else if ((c = calloc(1, sizeof *c)) == NULL)
        st = kvs_fail(err, KVS_ERR_NOMEM, "out of memory");
    if (st != KVS_OK) {
        destroy_impl(ops ? ops->destroy : NULL, impl);
        return st;
    }
    c->ops = ops;
    c->impl = impl;
    memcpy(c->name, name, strlen(name) + 1);
    *out = c;
    return KVS_OK;
}

kvs_status kvs_signer_check_resolve(const kvs_signer_check *c, const kvs_header *h,
                                    EVP_PKEY **pub, kvs_error *err)
{
    *pub = NULL;
    if (h->signer.type[0] == '\0')
        return kvs_fail(err, KVS_ERR_SIGNER, "the file is not signed; a signature by %s is required",
                        c->name);
    kvs_sig_alg alg = kvs_sig_alg_parse(h->signer.alg);
    if (alg == KVS_SIG_NONE)
        return kvs_fail(err, KVS_ERR_FORMAT, "the file's signer has an unknown alg");
    kvs_status st = c->ops->resolve(c->impl, &h->signer, pub, err);
    if (st != KVS_OK) {
        EVP_PKEY_free(*pub);
        *pub = NULL;
        return st;
    }
    if (*pub == NULL) return kvs_fail(err, KVS_ERR_INTERNAL, "required signer: no public key");
    kvs_error kerr = {0};
    if (kvs_sig_key_check(*pub, alg, &kerr) != KVS_OK) {
        EVP_PKEY_free(*pub);
        *pub = NULL;
        /* The required key cannot have made an alg signature: a forgery. */
        return kvs_fail(err, KVS_ERR_AUTH, "the file claims a %s signature by %s, which that key "
                        "cannot make (%s)", h->signer.alg, c->name, kerr.detail);
    }
    return KVS_OK;
}

kvs_status kvs_signature_verify(EVP_PKEY *pub, const kvs_header *h, const uint8_t *m,
                                size_t m_len, const uint8_t *sig, size_t sig_len, kvs_error *err)
{
    kvs_sig_alg alg = kvs_sig_alg_parse(h->signer.alg);
    uint8_t digest[KVS_SIG_DIGEST_MAX];
    size_t dlen = 0;
    if (alg == KVS_SIG_NONE)
        return kvs_fail(err, KVS_ERR_FORMAT, "the file's signer has an unknown alg");
    kvs_status st = kvs_sig_digest(alg, m, m_len, digest, &dlen);
    if (st != KVS_OK) return kvs_fail(err, st, "hashing the signed statement failed");
    kvs_error verr = {0};
    st = kvs_sig_verify_digest(pub, alg, digest, dlen, sig, sig_len, &verr);
    if (st == KVS_ERR_AUTH)
        return kvs_fail(err, KVS_ERR_AUTH, "the file's signature by %s does not verify: %s",
                        h->signer.id, verr.detail);
    if (st != KVS_OK) return kvs_error_copy(err, &verr);
    return KVS_OK;
}

const char *kvs_signer_check_name(const kvs_signer_check *c)
{
    return c->name;
}

void kvs_signer_check_free(kvs_signer_check *c)
{
    if (c == NULL) return;
    destroy_impl(c->ops->destroy, c->impl);
    free(c);
}

kvs_status kvs_signer_check_new(const char *key, const kvs_keyvault_config *cfg, kvs_signer_check **out,
                                kvs_error *err)
{
    *out = NULL;
    if (strncmp(key, "https://", 8) == 0) return kvs_signer_check_keyvault(key, cfg, out, err);
    return kvs_signer_check_pem(key, out, err);
}
