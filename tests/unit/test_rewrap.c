/* kvs_rewrap_path and shared DEK sessions with local RSA keys: recipient
 * sets, payload bytes unchanged, refusals that leave the file untouched,
 * mode and links, verbatim copies of members a v1 decoder ignores, wiped
 * secrets. Prints "N passed, M failed" last. */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/secmem.h"
#include "format/format.h"
#include "keys/unlock.h"
#include "kvseal/kvseal.h"
#include "testutil.h"

static char dir[] = "/tmp/kvs-rewrap-XXXXXX";
static kvs_provider *ka, *kb, *kc; /* private keys */

static char *path_of(const char *name)
{
    return kvs_test_path(dir, name);
}

static void suite_setup(void)
{
    kvs_test_mkdtemp(dir);
    ka = kvs_test_key("rsa2048-a");
    kb = kvs_test_key("rsa2048-b");
    kc = kvs_test_key("rsa2048-c");
}

static void suite_teardown(void)
{
    kvs_provider_free(ka);
    kvs_provider_free(kb);
    kvs_provider_free(kc);
    kvs_test_rmtree(dir);
}

static size_t payload_off(const uint8_t *file)
{
    return 44 + ((size_t)file[8] << 24 | (size_t)file[9] << 16 | (size_t)file[10] << 8 | file[11]);
}

/* A plaintext of n bytes, encrypted with 4 KiB chunks for the given keys. */
static void make_file(const char *name, size_t n, kvs_provider **keys, size_t nk)
{
    uint8_t *pt = malloc(n + 1);
    for (size_t i = 0; i < n; i++) pt[i] = (uint8_t)(i * 131 + 7);
    char plain[320];
    snprintf(plain, sizeof plain, "%s.plain", path_of(name));
    kvs_test_write_file(plain, pt, n);
    free(pt);
    kvs_context_pair ctx = {"app", "rewrap-test"};
    kvs_encrypt_options o = {4096, &ctx, 1, 0, 1};
    kvs_output_options oo = {1};
    kvs_error err = {0};
    ck_assert_int_eq(kvs_encrypt_path(plain, path_of(name), &oo, &o, keys, nk, &err), KVS_OK);
}

/* Decrypts with key and compares with the recorded plaintext. */
static kvs_status decrypts_with(const char *name, kvs_provider *key)
{
    char plain[320], out[320];
    snprintf(plain, sizeof plain, "%s.plain", path_of(name));
    snprintf(out, sizeof out, "%s.out", path_of(name));
    kvs_output_options oo = {1};
    kvs_decrypt_options o = {NULL, 0, 1};
    kvs_error err = {0};
    kvs_status st = kvs_decrypt_path(path_of(name), out, &oo, &o, &key, 1, &err);
    if (st != KVS_OK) return st;
    size_t a = 0, b = 0;
    uint8_t *x = kvs_test_read_file(plain, &a), *y = kvs_test_read_file(out, &b);
    int same = a == b && memcmp(x, y, a) == 0;
    free(x);
    free(y);
    return same ? KVS_OK : KVS_ERR_INTERNAL;
}

static kvs_header *header_of(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_header_read_fd(fileno(f), &h, &err), KVS_OK);
    fclose(f);
    return h;
}

static kvs_status rewrap(const char *name, kvs_provider *key, kvs_provider **add, size_t n_add,
                         const char *const *remove, size_t n_remove, kvs_rewrap_result *res)
{
    kvs_rewrap_options o = {remove, n_remove, 0};
    kvs_error err = {0};
    kvs_status st = kvs_rewrap_path(path_of(name), &o, &key, 1, add, n_add, res, &err);
    if (st != KVS_OK) fprintf(stderr, "# rewrap %s: %s\n", name, kvs_error_message(&err));
    return st;
}

START_TEST(test_add_keeps_payload_and_header_fields)
{
    kvs_provider *keys[] = {ka};
    make_file("f1", 20000, keys, 1);
    chmod(path_of("f1"), 0640);
    size_t n0 = 0, n1 = 0;
    uint8_t *before = kvs_test_read_file(path_of("f1"), &n0);
    kvs_header *h0 = header_of("f1");
    kvs_rewrap_result res;
    ck_assert_int_eq(rewrap("f1", ka, &kb, 1, NULL, 0, &res), KVS_OK);
    ck_assert_int_eq(res.changed, 1);
    ck_assert_uint_eq(res.added, 1);
    ck_assert_uint_eq(res.kept, 1);
    ck_assert_uint_eq(res.n_recipients, 2);
    uint8_t *after = kvs_test_read_file(path_of("f1"), &n1);
    /* The stored chunks follow the new header unchanged. */
    ck_assert_uint_eq(n0 - payload_off(before), n1 - payload_off(after));
    ck_assert_int_eq(memcmp(before + payload_off(before), after + payload_off(after),
                            n0 - payload_off(before)), 0);
    kvs_header *h1 = header_of("f1");
    ck_assert_int_eq(memcmp(h0->salt, h1->salt, KVS_SALT_LEN), 0);
    ck_assert_uint_eq(h0->chunk_size, h1->chunk_size);
    ck_assert_str_eq(h0->created, h1->created);
    ck_assert_uint_eq(h1->n_context, 1);
    ck_assert_str_eq(h1->context[0].value, "rewrap-test");
    /* The kept recipient is byte-identical. */
    ck_assert_uint_eq(h1->recipients[0].wrapped_len, h0->recipients[0].wrapped_len);
    ck_assert_int_eq(memcmp(h1->recipients[0].wrapped, h0->recipients[0].wrapped,
                            h0->recipients[0].wrapped_len), 0);
    ck_assert_int_eq(decrypts_with("f1", ka), KVS_OK);
    ck_assert_int_eq(decrypts_with("f1", kb), KVS_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path_of("f1"), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0640);
    kvs_header_free(h0);
    kvs_header_free(h1);
    free(before);
    free(after);
}
END_TEST

/* The temp-path callback names a named temp file while it exists (so a
 * signal handler could remove it), then reports NULL once it is renamed.
 * Where the directory takes O_TMPFILE the temp file is unnamed: no call. */
typedef struct temp_log {
    int calls;
    int existed;
    char path[512];
} temp_log;

static void log_temp(const char *path, void *arg)
{
    temp_log *l = arg;
    l->calls++;
    if (path) {
        snprintf(l->path, sizeof l->path, "%s", path);
        l->existed = access(path, F_OK) == 0;
    } else {
        l->path[0] = '\0';
    }
}

/* Whether the directory of path can hold an unnamed file (O_TMPFILE). */
static int dir_has_tmpfile(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int fd = open(slash ? dir : ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

START_TEST(test_temp_path_reported_then_cleared)
{
    kvs_provider *keys[] = {ka};
    make_file("tp", 5000, keys, 1);
    temp_log l = {0};
    kvs_rewrap_options o = {NULL, 0, 0, log_temp, &l};
    kvs_error err = {0};
    ck_assert_int_eq(kvs_rewrap_path(path_of("tp"), &o, &ka, 1, &kb, 1, NULL, &err), KVS_OK);
    if (dir_has_tmpfile(path_of("tp"))) {
        ck_assert_int_eq(l.calls, 0);
    } else {
        ck_assert_int_eq(l.calls, 2);
        ck_assert(l.existed);
        ck_assert_str_eq(l.path, "");
    }
    /* a file already holding kb is not touched: no temp file, no call */
    l = (temp_log){0};
    ck_assert_int_eq(kvs_rewrap_path(path_of("tp"), &o, &ka, 1, &kb, 1, NULL, &err), KVS_OK);
    ck_assert_int_eq(l.calls, 0);
}
END_TEST

START_TEST(test_remove_by_key_id)
{
    kvs_provider *keys[] = {ka, kb};
    make_file("f2", 5000, keys, 2);
    const char *rm[] = {kvs_rsa_provider_key_id(ka)};
    kvs_rewrap_result res;
    ck_assert_int_eq(rewrap("f2", ka, &kc, 1, rm, 1, &res), KVS_OK);
    ck_assert_uint_eq(res.removed, 1);
    ck_assert_uint_eq(res.added, 1);
    ck_assert_int_eq(decrypts_with("f2", ka), KVS_ERR_NO_RECIPIENT);
    ck_assert_int_eq(decrypts_with("f2", kb), KVS_OK);
    ck_assert_int_eq(decrypts_with("f2", kc), KVS_OK);
}
END_TEST

START_TEST(test_refuse_last_recipient)
{
    kvs_provider *keys[] = {ka};
    make_file("f3", 100, keys, 1);
    size_t n0 = 0, n1 = 0;
    uint8_t *before = kvs_test_read_file(path_of("f3"), &n0);
    const char *rm[] = {kvs_rsa_provider_key_id(ka)};
    ck_assert_int_eq(rewrap("f3", ka, NULL, 0, rm, 1, NULL), KVS_ERR_USAGE);
    uint8_t *after = kvs_test_read_file(path_of("f3"), &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_int_eq(memcmp(before, after, n0), 0);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_unchanged_and_wrong_key_leave_file)
{
    kvs_provider *keys[] = {ka, kb};
    make_file("f4", 3000, keys, 2);
    struct stat s0, s1;
    ck_assert_int_eq(stat(path_of("f4"), &s0), 0);
    kvs_rewrap_result res;
    ck_assert_int_eq(rewrap("f4", ka, &kb, 1, NULL, 0, &res), KVS_OK);
    ck_assert_int_eq(res.changed, 0);
    ck_assert_int_eq(rewrap("f4", kc, &kc, 1, NULL, 0, NULL), KVS_ERR_NO_RECIPIENT);
    ck_assert_int_eq(stat(path_of("f4"), &s1), 0);
    ck_assert(s0.st_ino == s1.st_ino && s0.st_mtim.tv_nsec == s1.st_mtim.tv_nsec);
}
END_TEST

START_TEST(test_symlink_followed_hardlink_refused)
{
    kvs_provider *keys[] = {ka};
    make_file("f5", 3000, keys, 1);
    ck_assert_int_eq(symlink(path_of("f5"), path_of("f5.link")), 0);
    ck_assert_int_eq(rewrap("f5.link", ka, &kb, 1, NULL, 0, NULL), KVS_OK);
    struct stat sb;
    ck_assert_int_eq(lstat(path_of("f5.link"), &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(decrypts_with("f5", kb), KVS_OK);
    ck_assert_int_eq(link(path_of("f5"), path_of("f5.hard")), 0);
    ck_assert_int_eq(rewrap("f5", ka, &kc, 1, NULL, 0, NULL), KVS_ERR_USAGE);
}
END_TEST

START_TEST(test_truncated_file_refused)
{
    kvs_provider *keys[] = {ka};
    make_file("f6", 9000, keys, 1);
    ck_assert_int_eq(truncate(path_of("f6"), 500), 0);
    kvs_status st = rewrap("f6", ka, &kb, 1, NULL, 0, NULL);
    ck_assert(st == KVS_ERR_TRUNCATED || st == KVS_ERR_FORMAT);
}
END_TEST

/* Rewrite f's header as text (members a v1 decoder ignores) under its own
 * DEK, through the library's internals. */
static void set_header_text(const char *name, kvs_provider *key, const char *json)
{
    size_t n = 0;
    uint8_t *file = kvs_test_read_file(path_of(name), &n);
    size_t off = payload_off(file), jl = strlen(json);
    kvs_header *h = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_header_parse(file + 12, off - 44, &h, &err), KVS_OK);
    kvs_file_keys *k = kvs_file_keys_new();
    int used = -1;
    ck_assert_int_eq(kvs_unlock_header(h, file, off - 32, file + off - 32, &key, 1, k, NULL,
                                       &used, &err), KVS_OK);
    uint8_t *out = malloc(44 + jl + (n - off));
    memcpy(out, file, 8);
    out[8] = (uint8_t)(jl >> 24), out[9] = (uint8_t)(jl >> 16);
    out[10] = (uint8_t)(jl >> 8), out[11] = (uint8_t)jl;
    memcpy(out + 12, json, jl);
    ck_assert_int_eq(kvs_header_tag(k, out, 12 + jl, out + 12 + jl), KVS_OK);
    memcpy(out + 44 + jl, file + off, n - off);
    kvs_test_write_file(path_of(name), out, 44 + jl + (n - off));
    kvs_file_keys_free(k);
    kvs_header_free(h);
    free(file);
    free(out);
}

START_TEST(test_unknown_members_kept_verbatim)
{
    kvs_provider *keys[] = {ka};
    make_file("f7", 2000, keys, 1);
    kvs_header *h = header_of("f7");
    char *json = malloc(4096);
    kvs_recipient *r = &h->recipients[0];
    size_t wl = 0;
    char wrapped[2048];
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < r->wrapped_len; i += 3) { /* base64url, no padding */
        uint32_t v = (uint32_t)r->wrapped[i] << 16;
        size_t left = r->wrapped_len - i;
        if (left > 1) v |= (uint32_t)r->wrapped[i + 1] << 8;
        if (left > 2) v |= r->wrapped[i + 2];
        wrapped[wl++] = b64[v >> 18 & 63];
        wrapped[wl++] = b64[v >> 12 & 63];
        if (left > 1) wrapped[wl++] = b64[v >> 6 & 63];
        if (left > 2) wrapped[wl++] = b64[v & 63];
    }
    wrapped[wl] = '\0';
    char salt[64];
    size_t sl = 0;
    for (size_t i = 0; i < KVS_SALT_LEN; i += 3) {
        uint32_t v = (uint32_t)h->salt[i] << 16;
        size_t left = KVS_SALT_LEN - i;
        if (left > 1) v |= (uint32_t)h->salt[i + 1] << 8;
        if (left > 2) v |= h->salt[i + 2];
        salt[sl++] = b64[v >> 18 & 63];
        salt[sl++] = b64[v >> 12 & 63];
        if (left > 1) salt[sl++] = b64[v >> 6 & 63];
        if (left > 2) salt[sl++] = b64[v & 63];
    }
    salt[sl] = '\0';
    snprintf(json, 4096,
             "{\"suite\":\"AES-256-GCM-HKDF-SHA256\",\"chunk_size\":4096,\"salt\":\"%s\","
             "\"recipients\":[{\"type\":\"future-kms\",\"alg\":\"RSA-OAEP-256\","
             "\"wrapped_key\":\"AAAA\",\"opaque\":{\"x\":[1,2]}},"
             "{\"type\":\"rsa\",\"alg\":\"RSA-OAEP-256\",\"key_id\":\"%s\",\"wrapped_key\":\"%s\","
             "\"note\":\"kept\"}],\"x-extension\":\"caf\xc3\xa9\"}",
             salt, r->key_id, wrapped);
    set_header_text("f7", ka, json);
    ck_assert_int_eq(decrypts_with("f7", ka), KVS_OK);
    ck_assert_int_eq(rewrap("f7", ka, &kb, 1, NULL, 0, NULL), KVS_OK);
    size_t n = 0;
    uint8_t *file = kvs_test_read_file(path_of("f7"), &n);
    char *text = strndup((const char *)file + 12, payload_off(file) - 44);
    ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"future-kms\",\"alg\":\"RSA-OAEP-256\","
                                   "\"wrapped_key\":\"AAAA\",\"opaque\":{\"x\":[1,2]}}"));
    ck_assert_ptr_nonnull(strstr(text, "\"note\":\"kept\""));
    ck_assert_ptr_nonnull(strstr(text, "\"x-extension\":\"caf\xc3\xa9\""));
    ck_assert_int_eq(decrypts_with("f7", kb), KVS_OK);
    free(text);
    free(file);
    free(json);
    kvs_header_free(h);
}
END_TEST

/* Every secure block must be zero when it is released. */
static int dirty_frees;
static void check_wiped(const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i]) {
            dirty_frees++;
            return;
        }
}

START_TEST(test_secrets_wiped)
{
    kvs_provider *keys[] = {ka};
    make_file("f8", 7000, keys, 1);
    dirty_frees = 0;
    kvs_secure_set_free_hook(check_wiped);
    ck_assert_int_eq(rewrap("f8", ka, &kb, 1, NULL, 0, NULL), KVS_OK);
    kvs_secure_set_free_hook(NULL);
    ck_assert_int_eq(dirty_frees, 0);
}
END_TEST

/* Files of one session share the wrapped DEK but not the salt; a limit
 * draws a new DEK. */
START_TEST(test_dek_session_shares_and_rotates)
{
    kvs_dek_session *s = NULL;
    kvs_dek_session_limits lim = {2, 0, 0};
    kvs_error err = {0};
    ck_assert_int_eq(kvs_dek_session_new(&ka, 1, &lim, &s, &err), KVS_OK);
    const char *names[] = {"s1", "s2", "s3"};
    for (int i = 0; i < 3; i++) {
        char plain[320];
        snprintf(plain, sizeof plain, "%s.plain", path_of(names[i]));
        kvs_test_write_file(plain, (const uint8_t *)"shared", 6);
        kvs_encrypt_options o = {0};
        o.dek_session = s;
        kvs_output_options oo = {1};
        ck_assert_int_eq(kvs_encrypt_path(plain, path_of(names[i]), &oo, &o, NULL, 0, &err),
                         KVS_OK);
        ck_assert_int_eq(decrypts_with(names[i], ka), KVS_OK);
    }
    kvs_header *h1 = header_of("s1"), *h2 = header_of("s2"), *h3 = header_of("s3");
    ck_assert_int_eq(memcmp(h1->recipients[0].wrapped, h2->recipients[0].wrapped,
                            h1->recipients[0].wrapped_len), 0);
    ck_assert_int_ne(memcmp(h1->salt, h2->salt, KVS_SALT_LEN), 0);
    ck_assert_int_ne(memcmp(h1->recipients[0].wrapped, h3->recipients[0].wrapped,
                            h1->recipients[0].wrapped_len), 0);
    ck_assert_uint_eq(kvs_dek_session_deks(s), 2);
    kvs_header_free(h1);
    kvs_header_free(h2);
    kvs_header_free(h3);
    kvs_dek_session_free(s);
}
END_TEST

START_TEST(test_dek_session_byte_limit)
{
    kvs_dek_session *s = NULL;
    kvs_dek_session_limits lim = {0, 10000, 0};
    kvs_error err = {0};
    ck_assert_int_eq(kvs_dek_session_new(&ka, 1, &lim, &s, &err), KVS_OK);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "b%d", i);
        char plain[320];
        snprintf(plain, sizeof plain, "%s.plain", path_of(name));
        uint8_t big[6000] = {0};
        kvs_test_write_file(plain, big, sizeof big);
        kvs_encrypt_options o = {0};
        o.dek_session = s;
        kvs_output_options oo = {1};
        ck_assert_int_eq(kvs_encrypt_path(plain, path_of(name), &oo, &o, NULL, 0, &err), KVS_OK);
    }
    /* 6000 + 6000 crosses 10000: the third file gets a new DEK. */
    ck_assert_uint_eq(kvs_dek_session_deks(s), 2);
    kvs_dek_session_free(s);
}
END_TEST

static Suite *rewrap_suite(void)
{
    Suite *s = suite_create("rewrap");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_add_keeps_payload_and_header_fields);
    tcase_add_test(tc, test_temp_path_reported_then_cleared);
    tcase_add_test(tc, test_remove_by_key_id);
    tcase_add_test(tc, test_refuse_last_recipient);
    tcase_add_test(tc, test_unchanged_and_wrong_key_leave_file);
    tcase_add_test(tc, test_symlink_followed_hardlink_refused);
    tcase_add_test(tc, test_truncated_file_refused);
    tcase_add_test(tc, test_unknown_members_kept_verbatim);
    tcase_add_test(tc, test_secrets_wiped);
    tcase_add_test(tc, test_dek_session_shares_and_rotates);
    tcase_add_test(tc, test_dek_session_byte_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rewrap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
