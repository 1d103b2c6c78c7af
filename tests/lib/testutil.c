/* Suites, hex and the source tree (testutil.h). */
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void kvs_test_chomp(char *line)
{
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
}

FILE *kvs_test_open_vectors(const char *env_var, const char *default_dir, const char *file)
{
    char path[1024];
    const char *dir = getenv(env_var);
    snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : default_dir, file);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL,
                  "test vectors missing: %s (run: apt-get install python3-cryptography-vectors)",
                  path);
    return f;
}

const char *kvs_test_src_path(const char *relative, char *buf, size_t cap)
{
    const char *root = getenv("KVSEAL_SRC");
    if (!root || !*root) root = KVSEAL_TEST_SOURCE_DIR; /* run by hand, outside ctest */
    snprintf(buf, cap, "%s/%s", root, relative);
    return buf;
}

int kvs_test_slowdown(void)
{
    const char *text = getenv("KVSEAL_TEST_SLOWDOWN");
    if (text == NULL || *text == '\0') return 1;
    char *end = NULL;
    long factor = strtol(text, &end, 10);
    ck_assert_msg(*end == '\0' && factor >= 1 && factor <= 1000,
                  "KVSEAL_TEST_SLOWDOWN must be a whole number from 1 to 1000");
    return (int)factor;
}
