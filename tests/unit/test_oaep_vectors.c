/* RSA-OAEP against pyca's vectors shipped in Debian's python3-cryptography-vectors:
 * oaep-custom/oaep-sha256-sha256.txt (SHA-256, MGF1-SHA-256) and
 * pkcs-1v2-1d2-vec/oaep-vect.txt (RSA Labs' SHA-1 vectors). Both list, per key,
 * "# Label:" lines followed by hex (one line or several, spaces allowed). */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "testutil.h"

#define RSA_VECTOR_DIR "/usr/lib/python3/dist-packages/cryptography_vectors/asymmetric/RSA"
#define HEX_MAX 8192

enum { P_N, P_E, P_D, P_P, P_Q, P_DP, P_DQ, P_QINV, P_COUNT };

struct oaep_file {
    kvs_oaep_hash hash;
    char section; /* 'u' public key, 'r' private key, 0 elsewhere */
    char label[64];
    char hex[HEX_MAX];
    size_t hex_len;
    BIGNUM *param[P_COUNT];
    EVP_PKEY *priv, *pub, *prev_priv;
    uint8_t msg[256];
    size_t msg_len;
    int has_msg;
    /* counters */
    size_t keys, decrypted, round_trips, tampered, wrong_key;
};

static FILE *open_vectors(const char *rel)
{
    return kvs_test_open_vectors("KVSEAL_RSA_VECTORS", RSA_VECTOR_DIR, rel);
}

/* Independent count of "# Encryption:" lines. */
static size_t count_encryptions(const char *rel)
{
    FILE *f = open_vectors(rel);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) != -1) {
        kvs_test_chomp(line);
        if (strcmp(line, "# Encryption:") == 0) n++;
    }
    free(line);
    fclose(f);
    return n;
}

static EVP_PKEY *build_key(BIGNUM *const *p, int private_part)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    ck_assert_ptr_nonnull(bld);
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, p[P_N]));
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, p[P_E]));
    if (private_part) {
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, p[P_D]));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p[P_P]));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, p[P_Q]));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, p[P_DP]));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, p[P_DQ]));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, p[P_QINV]));
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_ptr_nonnull(params);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    ck_assert_ptr_nonnull(ctx);
    EVP_PKEY *key = NULL;
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &key,
                                       private_part ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                                       params),
                     1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

static size_t key_bytes(EVP_PKEY *key)
{
    int n = EVP_PKEY_get_size(key);
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

static void free_params(struct oaep_file *v)
{
    for (int i = 0; i < P_COUNT; i++) {
        BN_free(v->param[i]);
        v->param[i] = NULL;
    }
}

/* Encrypt-then-decrypt with the public half; any damage must give KVS_ERR_KEY. */
static void check_round_trip(struct oaep_file *v)
{
    size_t k = key_bytes(v->pub);
    uint8_t msg[32], ct[512], out[512];
    size_t ct_len = 0, out_len = 0;
    for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (uint8_t)(i ^ v->keys);
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(v->pub, v->hash, msg, sizeof(msg), ct, sizeof(ct),
                                          &ct_len),
                     KVS_OK);
    ck_assert_uint_eq(ct_len, k);
    ck_assert_int_eq(kvs_rsa_oaep_decrypt(v->priv, v->hash, ct, ct_len, out, sizeof(out),
                                          &out_len),
                     KVS_OK);
    ck_assert_uint_eq(out_len, sizeof(msg));
    ck_assert(memcmp(out, msg, sizeof(msg)) == 0);
    v->round_trips++;
}

static void commit_key(struct oaep_file *v)
{
    for (int i = 0; i < P_COUNT; i++)
        ck_assert_msg(v->param[i] != NULL, "key %zu: parameter %d missing", v->keys + 1, i);
    EVP_PKEY_free(v->prev_priv);
    v->prev_priv = v->priv;
    EVP_PKEY_free(v->pub);
    v->priv = build_key(v->param, 1);
    v->pub = build_key(v->param, 0);
    free_params(v);
    v->keys++;
    check_round_trip(v);
}

static void check_case(struct oaep_file *v, const BIGNUM *enc)
{
    ck_assert_msg(v->priv != NULL && v->has_msg, "Encryption without key or message");
    size_t k = key_bytes(v->priv);
    uint8_t ct[512], out[512];
    size_t out_len = 0;
    ck_assert_int_eq(BN_bn2binpad(enc, ct, (int)k), (int)k);

    ck_assert_int_eq(kvs_rsa_oaep_decrypt(v->priv, v->hash, ct, k, out, sizeof(out), &out_len),
                     KVS_OK);
    ck_assert_uint_eq(out_len, v->msg_len);
    ck_assert(memcmp(out, v->msg, v->msg_len) == 0);
    v->decrypted++;

    /* A flipped bit anywhere fails, with nothing left in OpenSSL's error queue. */
    ct[v->decrypted % k] ^= 0x01;
    ck_assert_int_eq(kvs_rsa_oaep_decrypt(v->priv, v->hash, ct, k, out, sizeof(out), &out_len),
                     KVS_ERR_KEY);
    ck_assert_uint_eq(ERR_peek_error(), 0);
    ct[v->decrypted % k] ^= 0x01;
    v->tampered++;

    /* The previous key of the same size is the wrong key. */
    if (v->prev_priv != NULL && key_bytes(v->prev_priv) == k) {
        ck_assert_int_eq(
            kvs_rsa_oaep_decrypt(v->prev_priv, v->hash, ct, k, out, sizeof(out), &out_len),
            KVS_ERR_KEY);
        v->wrong_key++;
    }
    v->has_msg = 0;
}

static void commit_field(struct oaep_file *v)
{
    if (v->label[0] == '\0') return;
    v->hex[v->hex_len] = '\0';
    BIGNUM *bn = NULL;
    int is_param = -1;
    const char *l = v->label;
    if (v->section == 'r') {
        if (strcmp(l, "Modulus") == 0) is_param = P_N;
        else if (strcmp(l, "Public exponent") == 0) is_param = P_E;
        else if (strcmp(l, "Exponent") == 0) is_param = P_D;
        else if (strcmp(l, "Prime 1") == 0) is_param = P_P;
        else if (strcmp(l, "Prime 2") == 0) is_param = P_Q;
        else if (strcmp(l, "Prime exponent 1") == 0) is_param = P_DP;
        else if (strcmp(l, "Prime exponent 2") == 0) is_param = P_DQ;
        else if (strcmp(l, "Coefficient") == 0) is_param = P_QINV;
    }
    if (is_param >= 0) {
        ck_assert_int_gt(BN_hex2bn(&bn, v->hex), 0);
        BN_free(v->param[is_param]);
        v->param[is_param] = bn;
        if (is_param == P_QINV) commit_key(v);
    } else if (strcmp(l, "Message") == 0) {
        long n = kvs_test_unhex(v->hex, v->msg, sizeof(v->msg));
        ck_assert_int_ge(n, 0);
        v->msg_len = (size_t)n;
        v->has_msg = 1;
    } else if (strcmp(l, "Encryption") == 0) {
        ck_assert_int_gt(BN_hex2bn(&bn, v->hex), 0);
        check_case(v, bn);
        BN_free(bn);
    }
    v->label[0] = '\0';
    v->hex_len = 0;
}

static void parse_comment(struct oaep_file *v, const char *line)
{
    commit_field(v);
    const char *text = line + 1 + (line[1] == ' ');
    size_t len = strlen(text);
    if (strncmp(text, "Example", 7) == 0) {
        v->section = 0;
        free_params(v);
    } else if (strcmp(text, "Public key") == 0) {
        v->section = 'u';
    } else if (strcmp(text, "Private key") == 0) {
        v->section = 'r';
    } else if (len > 1 && len < sizeof(v->label) && text[len - 1] == ':') {
        memcpy(v->label, text, len - 1);
        v->label[len - 1] = '\0';
    }
}

static void append_hex(struct oaep_file *v, const char *line)
{
    for (const char *p = line; *p != '\0'; p++) {
        if (*p == ' ') continue;
        ck_assert_msg(isxdigit((unsigned char)*p), "non-hex in %s: %s", v->label, line);
        ck_assert(v->hex_len + 1 < sizeof(v->hex));
        v->hex[v->hex_len++] = *p;
    }
}

static struct oaep_file *run_file(const char *rel, kvs_oaep_hash hash)
{
    struct oaep_file *v = calloc(1, sizeof(*v));
    ck_assert_ptr_nonnull(v);
    v->hash = hash;
    FILE *f = open_vectors(rel);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) != -1) {
        kvs_test_chomp(line);
        if (line[0] == '#')
            parse_comment(v, line);
        else if (v->label[0] != '\0')
            append_hex(v, line); /* text outside fields (file preamble) is skipped */
    }
    commit_field(v);
    free(line);
    fclose(f);
    EVP_PKEY_free(v->priv);
    EVP_PKEY_free(v->pub);
    EVP_PKEY_free(v->prev_priv);
    free_params(v);
    return v;
}

static void check_file(const char *rel, kvs_oaep_hash hash)
{
    size_t expected = count_encryptions(rel);
    struct oaep_file *v = run_file(rel, hash);
    fprintf(stderr, "%s: %zu keys, %zu decryptions, %zu wrong-key checks\n", rel, v->keys,
            v->decrypted, v->wrong_key);
    ck_assert_uint_gt(expected, 0);
    ck_assert_uint_gt(v->keys, 0);
    ck_assert_uint_eq(v->decrypted, expected);
    ck_assert_uint_eq(v->tampered, expected);
    ck_assert_uint_eq(v->round_trips, v->keys);
    ck_assert_uint_gt(v->wrong_key, 0);
    free(v);
}

START_TEST(test_oaep_sha256_vectors)
{
    check_file("oaep-custom/oaep-sha256-sha256.txt", KVS_OAEP_SHA256);
}
END_TEST

START_TEST(test_oaep_sha1_vectors)
{
    check_file("pkcs-1v2-1d2-vec/oaep-vect.txt", KVS_OAEP_SHA1);
}
END_TEST

START_TEST(test_alg_names)
{
    kvs_oaep_hash h = KVS_OAEP_SHA1;
    ck_assert_int_eq(kvs_oaep_hash_from_alg("RSA-OAEP-256", &h), 0);
    ck_assert_int_eq(h, KVS_OAEP_SHA256);
    ck_assert_int_eq(kvs_oaep_hash_from_alg("RSA-OAEP", &h), 0);
    ck_assert_int_eq(h, KVS_OAEP_SHA1);
    static const char *bad[] = {"RSA1_5", "rsa-oaep-256", "RSA-OAEP-384", "RSA-OAEP-512",
                                "RSA-OAEP-256 ", " RSA-OAEP", "RSA-OAEP-", "", "A256KW"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(kvs_oaep_hash_from_alg(bad[i], &h) == -1, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(kvs_oaep_hash_from_alg(NULL, &h), -1);
    ck_assert_int_eq(kvs_oaep_hash_from_alg("RSA-OAEP", NULL), -1);
}
END_TEST

/* Fresh keys (the checked-in test keys): the failure modes a hostile file or
 * wrong key can cause. */
START_TEST(test_generated_key_failures)
{
    EVP_PKEY *a = kvs_test_pkey("rsa2048-a"), *b = kvs_test_pkey("rsa2048-b");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    uint8_t dek[32], ct[256], out[256];
    size_t ct_len = 0, out_len = 0;
    for (size_t i = 0; i < sizeof(dek); i++) dek[i] = (uint8_t)(0xA0 + i);

    const kvs_oaep_hash hashes[] = {KVS_OAEP_SHA256, KVS_OAEP_SHA1};
    for (size_t i = 0; i < 2; i++) {
        kvs_oaep_hash h = hashes[i], other = hashes[1 - i];
        ck_assert_int_eq(kvs_rsa_oaep_encrypt(a, h, dek, 32, ct, sizeof(ct), &ct_len), KVS_OK);
        ck_assert_uint_eq(ct_len, 256);
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len, out, sizeof(out), &out_len),
                         KVS_OK);
        ck_assert_uint_eq(out_len, 32);
        ck_assert(memcmp(out, dek, 32) == 0);
        /* Exactly the plaintext's size is room enough; one less is a failure. */
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len, out, 32, &out_len), KVS_OK);
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len, out, 31, &out_len),
                         KVS_ERR_KEY);

        ck_assert_int_eq(kvs_rsa_oaep_decrypt(b, h, ct, ct_len, out, sizeof(out), &out_len),
                         KVS_ERR_KEY);
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, other, ct, ct_len, out, sizeof(out), &out_len),
                         KVS_ERR_KEY);
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len - 1, out, sizeof(out), &out_len),
                         KVS_ERR_KEY);
        ct[0] ^= 0x80;
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len, out, sizeof(out), &out_len),
                         KVS_ERR_KEY);
        ct[0] ^= 0x80;
        ct[ct_len - 1] ^= 0x01;
        ck_assert_int_eq(kvs_rsa_oaep_decrypt(a, h, ct, ct_len, out, sizeof(out), &out_len),
                         KVS_ERR_KEY);
        ck_assert_uint_eq(ERR_peek_error(), 0);
    }
    /* Two encryptions of one DEK differ (random seed). */
    uint8_t ct2[256];
    size_t ct2_len = 0;
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(a, KVS_OAEP_SHA256, dek, 32, ct, sizeof(ct), &ct_len),
                     KVS_OK);
    ck_assert_int_eq(
        kvs_rsa_oaep_encrypt(a, KVS_OAEP_SHA256, dek, 32, ct2, sizeof(ct2), &ct2_len), KVS_OK);
    ck_assert(memcmp(ct, ct2, 256) != 0);
    /* Output buffer smaller than the modulus; message too long for the key. */
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(a, KVS_OAEP_SHA256, dek, 32, ct, 255, &ct_len),
                     KVS_ERR_USAGE);
    uint8_t big[200] = {0};
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(a, KVS_OAEP_SHA256, big, 190, ct, sizeof(ct), &ct_len),
                     KVS_OK);
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(a, KVS_OAEP_SHA256, big, 191, ct, sizeof(ct),
                                          &ct_len),
                     KVS_ERR_KEY);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}
END_TEST

START_TEST(test_non_rsa_key)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(ec);
    uint8_t dek[32] = {0}, buf[512];
    size_t len = 0;
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(ec, KVS_OAEP_SHA256, dek, 32, buf, sizeof(buf), &len),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_rsa_oaep_decrypt(ec, KVS_OAEP_SHA256, buf, 64, dek, sizeof(dek), &len),
                     KVS_ERR_KEY);
    ck_assert_int_eq(kvs_rsa_oaep_encrypt(NULL, KVS_OAEP_SHA256, dek, 32, buf, sizeof(buf), &len),
                     KVS_ERR_KEY);
    EVP_PKEY_free(ec);
}
END_TEST

static Suite *oaep_suite(void)
{
    Suite *s = suite_create("oaep_vectors");
    TCase *tc = tcase_create("vectors");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_oaep_sha256_vectors);
    tcase_add_test(tc, test_oaep_sha1_vectors);
    tcase_add_test(tc, test_alg_names);
    tcase_add_test(tc, test_generated_key_failures);
    tcase_add_test(tc, test_non_rsa_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(oaep_suite());
}
