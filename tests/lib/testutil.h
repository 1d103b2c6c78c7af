/* The shared helpers of the Check unit suites (library kvseal_testutil,
 * tests/lib/): running a suite, hex, paths in the source tree, temporary
 * directories and files, and the checked-in test keys (tests/keys/). Every
 * helper that can fail asserts with Check, so callers need no error paths. */
#ifndef KVS_TESTUTIL_H
#define KVS_TESTUTIL_H

#include <check.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "kvseal/kvseal.h"

/* --- testutil.c: suites, hex, the source tree */

/* Run one suite with CK_NORMAL output; returns the process exit status. */
int kvs_test_run_suite(Suite *s);

/* Parse hex text (even length, [0-9a-fA-F]) into out; returns bytes or -1. */
long kvs_test_unhex(const char *hex, uint8_t *out, size_t out_cap);

/* Strip trailing white space (a line read with fgets). */
void kvs_test_chomp(char *line);

/* Open a vector file read-only: $env_var/file, else default_dir/file (the
 * Debian python3-cryptography-vectors package); asserts that it exists. */
FILE *kvs_test_open_vectors(const char *env_var, const char *default_dir, const char *file);

/* Path of a file in the source tree (KVSEAL_SRC, else the tree the tests
 * were configured from). */
const char *kvs_test_src_path(const char *relative, char *buf, size_t cap);

/* How much slower than native this run is (KVSEAL_TEST_SLOWDOWN, a whole
 * number >= 1; default 1): scripts/valgrind-unit.sh sets it so that bounds
 * on real time, which catch a real sleep where a virtual one was meant,
 * hold under an emulating tool too. */
int kvs_test_slowdown(void);

/* --- testfs.c: temporary directories and whole files */

/* Create a private temporary directory from a "...XXXXXX" template (the
 * template is overwritten with the name). */
void kvs_test_mkdtemp(char *dir_template);

/* Remove a directory tree (the suites' teardown). */
void kvs_test_rmtree(const char *dir);

/* dir/name in one of 8 rotating static buffers: valid until 8 more calls. */
char *kvs_test_path(const char *dir, const char *name);

/* Write n bytes to path (created or truncated). */
void kvs_test_write_file(const char *path, const void *data, size_t n);

/* The whole file, in a malloc'd buffer one byte longer than *n (the caller
 * frees it). */
uint8_t *kvs_test_read_file(const char *path, size_t *n);

/* --- testkeys.c: the checked-in test keys (tests/keys/README.md) */

/* The passphrase of tests/keys/rsa2048-enc.pem (also in rsa2048-enc.pass). */
#define KVS_TEST_KEY_PASSPHRASE "kvseal-test-passphrase"

/* Path of tests/keys/<file>, e.g. "rsa2048-a.pem" or "rsa3072.pub.pem". */
const char *kvs_test_key_path(const char *file, char *buf, size_t cap);

/* The key tests/keys/<name>.pem (unencrypted) as a kvseal provider; the
 * caller frees it with kvs_provider_free. */
kvs_provider *kvs_test_key(const char *name);

/* The same key as an OpenSSL EVP_PKEY, for tests below the provider API;
 * the caller frees it with EVP_PKEY_free. */
EVP_PKEY *kvs_test_pkey(const char *name);

#endif
