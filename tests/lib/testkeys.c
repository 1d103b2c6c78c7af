/* The checked-in test keys (tests/keys/): loading a fixed key is instant,
 * generating one costs seconds under valgrind and sanitizers, so suites use
 * these unless key generation is what they test. */
#include <openssl/pem.h>
#include <stdio.h>

#include "testutil.h"

const char *kvs_test_key_path(const char *file, char *buf, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/keys/%s", file);
    return kvs_test_src_path(rel, buf, cap);
}

kvs_provider *kvs_test_key(const char *name)
{
    char file[256], path[1024];
    kvs_error err = {0};
    kvs_provider *p = NULL;
    snprintf(file, sizeof file, "%s.pem", name);
    kvs_test_key_path(file, path, sizeof path);
    ck_assert_msg(kvs_rsa_provider_from_pem(path, NULL, NULL, &p, &err) == KVS_OK,
                  "test key %s: %s", path, kvs_error_message(&err));
    return p;
}

EVP_PKEY *kvs_test_pkey(const char *name)
{
    char file[256], path[1024];
    snprintf(file, sizeof file, "%s.pem", name);
    kvs_test_key_path(file, path, sizeof path);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "test key %s missing", path);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(k != NULL, "test key %s does not load", path);
    return k;
}
