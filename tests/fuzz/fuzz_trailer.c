/* Fuzz target: the trailer of signed files (src/format/signed.h). A decoder
 * reads the last 10 bytes of a hostile file to size the trailer, then parses
 * and checks it, before anything is verified.
 *
 * Input: the bytes of a trailer (the end of a file). Properties: an accepted
 * tail has the end_magic, 1 <= sig_len <= 1024 and 1 <= m <= 2^28; an
 * accepted trailer is exactly kvs_trailer_len bytes, agrees with its tail and
 * re-encodes to the same bytes; a refused one owns no memory; the check
 * against a header accepts exactly m = ceil(n / 16) and the alg's lengths. */
#include <stdlib.h>
#include <string.h>

#include "format/signed.h"
#include "fuzz.h"

static int sig_len_fits(const char *alg, uint16_t sl)
{
    if (strcmp(alg, "ES256") == 0) return sl == 64;
    if (strcmp(alg, "ES384") == 0) return sl == 96;
    return sl >= 384 && sl <= 1024;
}

static void check_against_headers(const kvs_trailer *t)
{
    static const char *const algs[] = {"ES256", "ES384", "PS256", "PS384", "PS512"};
    kvs_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.signer.type, KVS_SIGNER_KEY, sizeof KVS_SIGNER_KEY);
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        memcpy(h.signer.alg, algs[i], 6);
        uint64_t n = (uint64_t)t->m * 16;
        kvs_error err;
        int fits = sig_len_fits(algs[i], t->sig_len);
        FUZZ_CHECK((kvs_trailer_check(t, &h, n, &err) == KVS_OK) == fits);
        FUZZ_CHECK((kvs_trailer_check(t, &h, n - 15, &err) == KVS_OK) == fits);
        FUZZ_CHECK(kvs_trailer_check(t, &h, n + 1, &err) == KVS_ERR_FORMAT);
        if (n > 16) FUZZ_CHECK(kvs_trailer_check(t, &h, n - 16, &err) == KVS_ERR_FORMAT);
    }
    h.signer.type[0] = '\0';
    kvs_error err;
    FUZZ_CHECK(kvs_trailer_check(t, &h, (uint64_t)t->m * 16, &err) == KVS_ERR_FORMAT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvs_error err;
    uint32_t m = 0;
    uint16_t sl = 0;
    int tail_ok = 0;
    if (size >= KVS_TRAILER_TAIL_LEN) {
        const uint8_t *tail = data + size - KVS_TRAILER_TAIL_LEN;
        tail_ok = kvs_trailer_parse_tail(tail, &m, &sl, &err) == KVS_OK;
        if (tail_ok) {
            FUZZ_CHECK(memcmp(tail + 6, "KVSS", 4) == 0); /* not secret */
            FUZZ_CHECK(sl >= 1 && sl <= KVS_SIG_MAX_LEN);
            FUZZ_CHECK(m >= 1 && m <= (1u << 28));
        } else {
            FUZZ_CHECK(err.status == KVS_ERR_FORMAT && err.detail[0] != '\0');
        }
    }

    kvs_trailer t;
    kvs_status st = kvs_trailer_parse(data, size, &t, &err);
    if (st != KVS_OK) {
        FUZZ_CHECK(t.roots == NULL && t.m == 0);
        FUZZ_CHECK(st == KVS_ERR_FORMAT || st == KVS_ERR_NOMEM);
        return 0;
    }
    FUZZ_CHECK(tail_ok && t.m == m && t.sig_len == sl);
    FUZZ_CHECK(size == kvs_trailer_len(m, sl));
    FUZZ_CHECK(memcmp(t.roots, data, (size_t)m * KVS_HASH_LEN) == 0); /* not secret */

    uint8_t *again = NULL;
    size_t again_len = 0;
    FUZZ_CHECK(kvs_trailer_encode(t.roots, t.m, t.commit, t.sig, t.sig_len, &again, &again_len,
                                  &err) == KVS_OK);
    FUZZ_CHECK(again_len == size && memcmp(again, data, size) == 0); /* not secret */
    free(again);

    uint8_t digest[KVS_HASH_LEN];
    FUZZ_CHECK(kvs_roots_digest(t.roots, t.m, digest) == KVS_OK);
    check_against_headers(&t);
    kvs_trailer_clear(&t);
    FUZZ_CHECK(t.roots == NULL);
    return 0;
}
