/* Base64url (RFC 4648 section 5). */
#ifndef KVS_CORE_B64URL_H
#define KVS_CORE_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Length of the unpadded encoding of n bytes, excluding the NUL. */
size_t kvs_b64url_encoded_len(size_t n);

/* Encode without padding; out needs kvs_b64url_encoded_len(n) + 1 bytes
 * (NUL-terminated). Returns 0, or -1 if out_cap is too small. */
int kvs_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_cap);

/* Strict decode for kvseal headers (FORMAT.md: url alphabet, no padding,
 * canonical trailing bits). Returns 0 and sets *out_len, or -1 on any bad
 * character, padding, impossible length, or if out_cap is too small. */
int kvs_b64url_decode_strict(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                             size_t *out_len);

/* Lenient decode for Key Vault responses: both alphabets (-_ and +/), optional
 * '=' padding. Same return convention. */
int kvs_b64_decode_lenient(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                           size_t *out_len);

#endif
