/* Fuzz target: loading a local RSA key (kvs_rsa_provider_from_pem) from a
 * PEM file: private keys (PKCS#8, traditional, encrypted PKCS#8), public
 * keys (SubjectPublicKeyInfo, PKCS#1) and certificates.
 *
 * Input: the file contents, handed to the loader as /proc/self/fd/N of a
 * memfd (the library has no in-memory loader). No passphrase is given: an
 * encrypted key's KDF cost is set by the file, and key files are trusted
 * configuration, so the fuzzer only reaches the "needs a passphrase" path.
 * Properties: a loaded key has a well-formed key id, wraps a DEK, and a
 * private key unwraps it again. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0; /* well above any real key file */
    int fd = fuzz_memfd(data, size);
    FUZZ_CHECK(fd >= 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const char *alg = (size & 1) ? KVS_ALG_OAEP_SHA1 : KVS_ALG_OAEP_256;
    kvs_provider *p = NULL;
    kvs_error err;
    kvs_error_clear(&err);
    kvs_status st = kvs_rsa_provider_from_pem(path, NULL, alg, &p, &err);
    close(fd);
    if (st != KVS_OK) {
        FUZZ_CHECK(p == NULL && err.status == st);
        FUZZ_CHECK(memchr(err.detail, '\0', sizeof err.detail) != NULL);
        return 0;
    }
    FUZZ_CHECK(p != NULL);
    const char *id = kvs_rsa_provider_key_id(p);
    FUZZ_CHECK(id && strlen(id) == 71 && strncmp(id, "sha256:", 7) == 0 && lower_hex(id + 7, 64));
    FUZZ_CHECK(kvs_provider_identify(p) != NULL);

    uint8_t dek[KVS_DEK_LEN], back[KVS_DEK_LEN];
    for (size_t i = 0; i < sizeof dek; i++) dek[i] = (uint8_t)(i * 13 + 1);
    kvs_recipient r;
    memset(&r, 0, sizeof r);
    st = kvs_provider_wrap(p, dek, &r, &err);
    if (st == KVS_OK) {
        FUZZ_CHECK(strcmp(r.type, KVS_RECIPIENT_RSA) == 0 && strcmp(r.key_id, id) == 0);
        FUZZ_CHECK(strcmp(r.alg, alg) == 0);
        FUZZ_CHECK(r.wrapped_len >= 256 && r.wrapped_len <= KVS_MAX_WRAPPED_LEN);
        FUZZ_CHECK(kvs_provider_matches(p, &r));
        st = kvs_provider_unwrap(p, &r, back, &err);
        /* A public key or certificate can only wrap; a private key must
         * unwrap what it wrapped (unless the key itself is inconsistent). */
        if (st == KVS_OK) FUZZ_CHECK(memcmp(dek, back, sizeof dek) == 0);
    }
    kvs_provider_free(p);
    return 0;
}
