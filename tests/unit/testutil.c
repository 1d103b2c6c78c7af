#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

int kvs_test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long kvs_test_unhex(const char *hex, uint8_t *out, size_t out_cap)
{
    size_t n = 0;
    while (hex[0] && hex[0] != '\n' && hex[0] != '\r') {
        int hi = hexval(hex[0]);
        if (hi < 0 || !hex[1]) return -1;
        int lo = hexval(hex[1]);
        if (lo < 0 || n >= out_cap) return -1;
        out[n++] = (uint8_t)(hi << 4 | lo);
        hex += 2;
    }
    return (long)n;
}

const char *kvs_test_src_path(const char *relative, char *buf, size_t cap)
{
    const char *root = getenv("KVSEAL_SRC");
    if (!root) root = ".";
    snprintf(buf, cap, "%s/%s", root, relative);
    return buf;
}
