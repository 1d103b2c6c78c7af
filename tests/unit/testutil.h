/* Shared helpers for the Check unit suites. */
#ifndef KVS_TESTUTIL_H
#define KVS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Run one suite with CK_NORMAL output; returns the process exit status. */
int kvs_test_run_suite(Suite *s);

/* Parse hex text (even length, [0-9a-fA-F]) into out; returns bytes or -1. */
long kvs_test_unhex(const char *hex, uint8_t *out, size_t out_cap);

/* Path of a file in the source tree (KVSEAL_SRC or the compile-time dir). */
const char *kvs_test_src_path(const char *relative, char *buf, size_t cap);

#endif
