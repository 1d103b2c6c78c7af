/* The REST blob store from several threads at once (run again under
 * ThreadSanitizer by scripts/test.sh): staged blocks and ranged reads share
 * one store, its HTTP pool and, with Entra ID, its token cache. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/rest_store.h"
#include "fake_clock.h"
#include "fake_transport.h"
#include "testutil.h"

#define BASE "https://acct1.blob.core.windows.net/con/b.kvs"
#define NTHREADS 8
#define ROUNDS 25

static kvs_blob_store *store;
static int failures[NTHREADS];
static int reading;

static void *worker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    uint8_t data[64], buf[5];
    kvs_error e;
    memset(data, (int)t, sizeof(data));
    for (int i = 0; i < ROUNDS; i++) {
        if (reading) {
            if (store->ops->read_range(store, 10, buf, 5, "\"e\"", &e) != KVS_OK ||
                memcmp(buf, "hello", 5) != 0)
                failures[t]++;
        } else if (store->ops->put_block(store, "QUFBQQ==", data, sizeof(data), &e) != KVS_OK) {
            failures[t]++;
        }
    }
    return NULL;
}

static void run_threads(void)
{
    pthread_t th[NTHREADS];
    for (size_t t = 0; t < NTHREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t), 0);
    for (size_t t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    for (size_t t = 0; t < NTHREADS; t++) ck_assert_int_eq(failures[t], 0);
}

static void setup(void)
{
    static const char *const scrub[] = {
        "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
        "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET_FILE",
        "KVSEAL_CREDENTIAL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT",
        "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING", "KVSEAL_ALLOWED_HOSTS"};
    for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) unsetenv(scrub[i]);
    setenv("PATH", "/nonexistent", 1);
    setenv("AZURE_STORAGE_ACCOUNT", "acct1", 1);
    setenv("AZURE_STORAGE_KEY", "c2VjcmV0LWtleQ==", 1);
    memset(failures, 0, sizeof(failures));
    fake_clock_install(1800000000);
    fake_transport_install();
}

static void teardown(void)
{
    fake_transport_uninstall();
    fake_clock_uninstall();
}

/* Every thread's calls answered by reply: all succeed, none mismatched. */
static void run_case(int read, fake_reply reply)
{
    kvs_error e;
    reading = read;
    fake_queue(reply);
    ck_assert_int_eq(kvs_blob_store_open(BASE, NULL, &store, &e), KVS_OK);
    run_threads();
    ck_assert_uint_eq(fake_request_count(), NTHREADS * ROUNDS);
    ck_assert_uint_eq(fake_mismatches(), 0);
    store->ops->free(store);
}

START_TEST(test_parallel_put_block)
{
    run_case(0, (fake_reply){"PUT", BASE "?comp=block", 201, KVS_NET_NONE, NULL, NULL, 0, -1});
}
END_TEST

START_TEST(test_parallel_read_range)
{
    run_case(1, (fake_reply){"GET", BASE, 206, KVS_NET_NONE, "Content-Range: bytes 10-14/99\r\n",
                             "hello", 0, -1});
}
END_TEST

START_TEST(test_parallel_entra)
{
    kvs_error e;
    reading = 0;
    setenv("AZURE_CLIENT_ID", "app1", 1);
    setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
    setenv("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47", 1);
    fake_queue((fake_reply){"POST", "https://login.microsoftonline.com/", 200, KVS_NET_NONE, NULL,
                            "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"t\"}",
                            0, 1});
    fake_queue((fake_reply){"PUT", BASE "?comp=block", 201, KVS_NET_NONE, NULL, NULL, 0, -1});
    ck_assert_int_eq(kvs_blob_store_open(BASE, NULL, &store, &e), KVS_OK);
    run_threads();
    /* One token for every thread (single flight), then each call. */
    ck_assert_uint_eq(fake_request_count(), 1 + NTHREADS * ROUNDS);
    for (size_t i = 1; i < fake_request_count(); i++)
        ck_assert_int_eq(fake_request_at(i).bearer, 1);
    ck_assert_uint_eq(fake_mismatches(), 0);
    store->ops->free(store);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blob_rest_threads");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parallel_put_block);
    tcase_add_test(tc, test_parallel_read_range);
    tcase_add_test(tc, test_parallel_entra);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
