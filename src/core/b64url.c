/* Base64url encode/decode. The decoders run in time independent of the
 * character values (they also decode DEKs from Key Vault responses), in the
 * style of libsodium's codecs. */
#include "core/b64url.h"

#include <string.h>

static const char kvs_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Branch-free comparisons on bytes: 0xFF when true, 0 when false. */
static unsigned kvs_ct_eq(unsigned x, unsigned y)
{
    return ((0U - (x ^ y)) >> 8 & 0xFFU) ^ 0xFFU;
}

static unsigned kvs_ct_gt(unsigned x, unsigned y)
{
    return (y - x) >> 8 & 0xFFU;
}

static unsigned kvs_ct_ge(unsigned x, unsigned y)
{
    return kvs_ct_gt(y, x) ^ 0xFFU;
}

static unsigned kvs_ct_range(unsigned c, unsigned lo, unsigned hi)
{
    return kvs_ct_ge(c, lo) & kvs_ct_ge(hi, c);
}

/* 6-bit value of c, or 0xFF if c is not in the alphabet. */
static unsigned kvs_b64_value(unsigned char ch, int lenient)
{
    unsigned c = ch;
    unsigned std = lenient ? 0xFFU : 0U;
    unsigned x = (kvs_ct_range(c, 'A', 'Z') & (c - 'A')) |
                 (kvs_ct_range(c, 'a', 'z') & (c - ('a' - 26U))) |
                 (kvs_ct_range(c, '0', '9') & (c + (52U - '0'))) |
                 (kvs_ct_eq(c, '-') & 62U) | (kvs_ct_eq(c, '_') & 63U) |
                 (std & kvs_ct_eq(c, '+') & 62U) | (std & kvs_ct_eq(c, '/') & 63U);
    /* x == 0 is only valid for 'A'. */
    return x | (kvs_ct_eq(x, 0) & (kvs_ct_eq(c, 'A') ^ 0xFFU));
}

size_t kvs_b64url_encoded_len(size_t n)
{
    size_t full = n / 3, rem = n % 3;
    if (full > (SIZE_MAX - 3) / 4) return SIZE_MAX;
    return full * 4 + (rem == 0 ? 0 : rem + 1);
}

int kvs_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap)
{
    size_t len = kvs_b64url_encoded_len(n);
    if (out == NULL || len == SIZE_MAX || out_cap < len + 1) return -1;
    if (in == NULL && n > 0) return -1;

    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = kvs_b64url_alphabet[v >> 18 & 63];
        out[o++] = kvs_b64url_alphabet[v >> 12 & 63];
        out[o++] = kvs_b64url_alphabet[v >> 6 & 63];
        out[o++] = kvs_b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = kvs_b64url_alphabet[v >> 18 & 63];
        out[o++] = kvs_b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = kvs_b64url_alphabet[v >> 18 & 63];
        out[o++] = kvs_b64url_alphabet[v >> 12 & 63];
        out[o++] = kvs_b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return 0;
}

/* Length of the data part of a lenient input after stripping correct '='
 * padding, or SIZE_MAX if the padding is wrong. */
static size_t kvs_b64_strip_padding(const char *in, size_t in_len)
{
    size_t pads = 0;
    while (pads < in_len && in[in_len - 1 - pads] == '=') pads++;
    if (pads == 0) return in_len;
    size_t n = in_len - pads;
    if (in_len % 4 != 0 || pads > 2 || n % 4 + pads != 4) return SIZE_MAX;
    return n;
}

static int kvs_b64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                          size_t *out_len, int lenient)
{
    if (out_len == NULL || (in == NULL && in_len > 0)) return -1;
    size_t n = lenient ? kvs_b64_strip_padding(in, in_len) : in_len;
    if (n == SIZE_MAX || n % 4 == 1) return -1;
    size_t need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (need > out_cap || (out == NULL && n > 0)) return -1;

    uint32_t acc = 0;
    unsigned bits = 0, bad = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = kvs_b64_value((unsigned char)in[i], lenient);
        bad |= v;
        acc = acc << 6 | (v & 63U);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1U << bits) - 1U;
        }
    }
    /* Leftover bits must be zero for the one canonical encoding. */
    int ok = (bad & 0xC0U) == 0 && (lenient || acc == 0);
    if (!ok) {
        if (o > 0) memset(out, 0, o);
        return -1;
    }
    *out_len = o;
    return 0;
}

int kvs_b64url_decode_strict(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                             size_t *out_len)
{
    return kvs_b64_decode(in, in_len, out, out_cap, out_len, 0);
}

int kvs_b64_decode_lenient(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len)
{
    return kvs_b64_decode(in, in_len, out, out_cap, out_len, 1);
}
