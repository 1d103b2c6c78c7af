/* Raw-text checks on header JSON before cJSON sees it (FORMAT.md §4.1).
 * cJSON stops at a NUL, decodes \u0000 into a truncated C string and recurses
 * once per nesting level, so each of those is refused here first. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "format/format.h"

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0 if invalid. */
static size_t utf8_sequence_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; cp = c & 0x07u; }
    else return 0;
    if (avail < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int kvs_utf8_valid(const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_len(p + i, len - i);
        if (n == 0) return 0;
        i += n;
    }
    return 1;
}

static kvs_status check_utf8(const uint8_t *s, size_t len, kvs_error *err)
{
    for (size_t i = 0; i < len;) {
        if (s[i] == 0)
            return kvs_fail(err, KVS_ERR_FORMAT, "header contains a NUL byte");
        size_t n = utf8_sequence_len(s + i, len - i);
        if (n == 0)
            return kvs_fail(err, KVS_ERR_FORMAT, "header is not valid UTF-8");
        i += n;
    }
    return KVS_OK;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits after "\u" at s[i] (the 'u'), or -1. */
static long u_escape(const uint8_t *s, size_t len, size_t i)
{
    long v = 0;
    if (i + 4 >= len) return -1;
    for (size_t k = 1; k <= 4; k++) {
        int h = hex_value(s[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Check the escape whose backslash is at s[i]; returns the bytes it spans
 * after the backslash, or 0 if it is refused (§4.1: only RFC 8259 escapes,
 * no \u0000, surrogates only as a high-low pair). cJSON would turn a bad
 * hex digit into U+0000 and cut the string there. */
static size_t escape_len(const uint8_t *s, size_t len, size_t i)
{
    if (i + 1 >= len) return 0;
    uint8_t c = s[i + 1];
    if (c != 'u') return (c && strchr("\"\\/bfnrt", c)) ? 1 : 0;
    long v = u_escape(s, len, i + 1);
    if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF)) return 0;
    if (v < 0xD800 || v > 0xDBFF) return 5;
    if (i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u') return 0;
    long low = u_escape(s, len, i + 7);
    return low >= 0xDC00 && low <= 0xDFFF ? 11 : 0;
}

static kvs_status check_structure(const uint8_t *s, size_t len, kvs_error *err)
{
    unsigned depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        /* RFC 8259: no raw control characters in strings; only space, tab,
         * LF and CR between tokens (cJSON would skip any byte below 0x20). */
        if (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r')))
            return kvs_fail(err, KVS_ERR_FORMAT, "header contains a control character");
        if (in_string) {
            if (c == '\\') {
                size_t n = escape_len(s, len, i);
                if (n == 0)
                    return kvs_fail(err, KVS_ERR_FORMAT,
                                    "header has an invalid escape (or \\u0000) in a string");
                i += n; /* skip the escape */
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > KVS_JSON_MAX_DEPTH)
                return kvs_fail(err, KVS_ERR_FORMAT, "header JSON nests deeper than %d",
                                KVS_JSON_MAX_DEPTH);
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return KVS_OK;
}

kvs_status kvs_json_precheck(const uint8_t *json, size_t len, kvs_error *err)
{
    /* cJSON silently skips a byte order mark; RFC 8259 parsers need not. */
    if (len >= 3 && json[0] == 0xEF && json[1] == 0xBB && json[2] == 0xBF)
        return kvs_fail(err, KVS_ERR_FORMAT, "header starts with a byte order mark");
    kvs_status st = check_utf8(json, len, err);
    if (st != KVS_OK) return st;
    return check_structure(json, len, err);
}

/* Start of the value of the k-th member (0-based) of the top-level object:
 * the k-th ':' at depth 1 outside strings, then whitespace. */
static const uint8_t *top_member_value(const uint8_t *s, size_t len, size_t k)
{
    unsigned depth = 0;
    int in_string = 0;
    size_t colons = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ':' && depth == 1 && colons++ == k) {
            i++;
            while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
            return s + i;
        }
    }
    return NULL;
}

int kvs_json_member_is_plain_uint(const uint8_t *json, size_t len, size_t k)
{
    const uint8_t *v = top_member_value(json, len, k);
    const uint8_t *end = json + len;
    if (!v || v >= end || *v < '1' || *v > '9') return 0; /* no sign, no leading zero */
    while (v < end && *v >= '0' && *v <= '9') v++;
    return v == end || *v == ',' || *v == '}' || *v == ' ' || *v == '\t' || *v == '\n' ||
           *v == '\r';
}
