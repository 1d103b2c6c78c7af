/* Fuzz target: base64url, strict (headers) and lenient (Key Vault), against
 * a plain reference decoder written from RFC 4648.
 *
 * Properties: strict-decode(encode(x)) == x and lenient-decode(encode(x)) ==
 * x; standard padded base64 of x decodes leniently to x; on arbitrary text
 * both decoders agree with the reference (accept/refuse and bytes); what the
 * strict decoder accepts re-encodes to the same text (canonical). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/b64url.h"
#include "fuzz.h"

static int ref_value(unsigned char c, int lenient)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    if (lenient && c == '+') return 62;
    if (lenient && c == '/') return 63;
    return -1;
}

/* Straightforward decoder; returns bytes written or -1. */
static long ref_decode(const char *in, size_t len, uint8_t *out, int lenient)
{
    if (lenient && len > 0 && in[len - 1] == '=') {
        size_t pads = 0;
        while (pads < len && in[len - 1 - pads] == '=') pads++;
        if (len % 4 != 0 || pads > 2) return -1;
        len -= pads;
        if ((len % 4) + pads != 4) return -1;
    }
    if (len % 4 == 1) return -1;
    uint32_t acc = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = ref_value((unsigned char)in[i], lenient);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    if (!lenient && acc != 0) return -1; /* non-canonical trailing bits */
    return o;
}

static void roundtrip(const uint8_t *x, size_t n)
{
    size_t elen = kvs_b64url_encoded_len(n);
    char *enc = malloc(elen + 1), *std = malloc(4 * (n / 3 + 1) + 1);
    uint8_t *dec = malloc(n + 1);
    size_t got = 0;
    FUZZ_CHECK(enc && std && dec);
    FUZZ_CHECK(kvs_b64url_encode(x, n, enc, elen) == -1); /* no room for the NUL */
    FUZZ_CHECK(kvs_b64url_encode(x, n, enc, elen + 1) == 0);
    FUZZ_CHECK(strlen(enc) == elen);
    FUZZ_CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               elen);
    FUZZ_CHECK(kvs_b64url_decode_strict(enc, elen, dec, n, &got) == 0);
    FUZZ_CHECK(got == n && (n == 0 || memcmp(dec, x, n) == 0));
    if (n > 0) FUZZ_CHECK(kvs_b64url_decode_strict(enc, elen, dec, n - 1, &got) == -1);
    FUZZ_CHECK(kvs_b64_decode_lenient(enc, elen, dec, n, &got) == 0);
    FUZZ_CHECK(got == n && (n == 0 || memcmp(dec, x, n) == 0));

    /* OpenSSL's standard alphabet with padding: lenient only. */
    int slen = EVP_EncodeBlock((unsigned char *)std, x, (int)n);
    FUZZ_CHECK(slen >= 0);
    FUZZ_CHECK(kvs_b64_decode_lenient(std, (size_t)slen, dec, n, &got) == 0);
    FUZZ_CHECK(got == n && (n == 0 || memcmp(dec, x, n) == 0));
    if (n % 3 != 0) FUZZ_CHECK(kvs_b64url_decode_strict(std, (size_t)slen, dec, n, &got) == -1);
    free(enc);
    free(std);
    free(dec);
}

static void differential(const char *in, size_t len)
{
    size_t cap = len / 4 * 3 + 3;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    FUZZ_CHECK(a && b);
    for (int lenient = 0; lenient <= 1; lenient++) {
        size_t got = 0;
        int rc = lenient ? kvs_b64_decode_lenient(in, len, a, cap, &got)
                         : kvs_b64url_decode_strict(in, len, a, cap, &got);
        long want = ref_decode(in, len, b, lenient);
        FUZZ_CHECK((rc == 0) == (want >= 0));
        if (rc == 0) {
            FUZZ_CHECK(got == (size_t)want && (got == 0 || memcmp(a, b, got) == 0));
            if (!lenient) {
                /* canonical: encoding gives the same text back */
                char *enc = malloc(kvs_b64url_encoded_len(got) + 1);
                FUZZ_CHECK(enc != NULL);
                FUZZ_CHECK(kvs_b64url_encode(a, got, enc, kvs_b64url_encoded_len(got) + 1) == 0);
                FUZZ_CHECK(strlen(enc) == len && memcmp(enc, in, len) == 0);
                free(enc);
                /* exactly sized output buffer works, one byte less does not */
                FUZZ_CHECK(kvs_b64url_decode_strict(in, len, b, got, &got) == 0);
                if (got > 0) FUZZ_CHECK(kvs_b64url_decode_strict(in, len, b, got - 1, &got) == -1);
            }
        }
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    roundtrip(data, size);
    differential((const char *)data, size);
    return 0;
}
