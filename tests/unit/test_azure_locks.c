/* The Key Vault client's lock split: a token request that hangs (throttled
 * token endpoint, slow az) blocks only the callers of that same token; other
 * scopes and tenants, cached DEKs and cached public keys are served at once.
 * Also the token cache's single flight and its scope independence, and the
 * DEK single flight. A stub credential stands in for Entra ID. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azure/client_impl.h"
#include "azure/retry.h"
#include "core/error.h"
#include "keys/keyvault_file.h"
#include "testutil.h"

#define SCOPE_KV "https://vault.azure.net/.default"
#define SCOPE_STORAGE "https://storage.azure.com/.default"
#define AUTH "https://login.microsoftonline.com"

/* ---- a stub credential whose requests for one token hang until released -- */

typedef struct stub_cred {
    kvs_cred base;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;         /* get_token calls */
    int slow_inside;   /* callers stuck in a slow request */
    int release;       /* let slow requests finish */
    int fail_next;     /* the next request fails */
    const char *slow_scope; /* requests for this scope and tenant "t1" hang */
} stub_cred;

static kvs_status stub_token(kvs_cred *c, kvs_http *http, const kvs_token_req *r,
                             kvs_token *tok, kvs_error *err)
{
    stub_cred *s = (stub_cred *)c;
    char text[256];
    (void)http;
    pthread_mutex_lock(&s->lock);
    int n = ++s->calls;
    int fail = s->fail_next;
    s->fail_next = 0;
    if (s->slow_scope && strcmp(r->scope, s->slow_scope) == 0 && strcmp(r->tenant, "t1") == 0) {
        s->slow_inside++;
        pthread_cond_broadcast(&s->cond);
        while (!s->release) pthread_cond_wait(&s->cond, &s->lock);
        s->slow_inside--;
    }
    pthread_mutex_unlock(&s->lock);
    if (fail) return kvs_fail(err, KVS_ERR_KEY_ACCESS, "stub refused");
    snprintf(text, sizeof(text), "tok-%d-%s-%s", n, r->tenant, r->scope);
    kvs_sbuf_puts(&tok->text, text);
    tok->issued_at = kvs_wall_s();
    tok->expires_on = tok->issued_at + 3600;
    return KVS_OK;
}

static const char *stub_describe(const kvs_cred *c)
{
    (void)c;
    return "stub";
}

static void stub_free(kvs_cred *c)
{
    stub_cred *s = (stub_cred *)c;
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const kvs_cred_ops stub_ops = {stub_token, stub_describe, stub_free};

static stub_cred *stub_new(const char *slow_scope)
{
    stub_cred *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    s->base.ops = &stub_ops;
    s->slow_scope = slow_scope;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    return s;
}

/* Wait (at most 10 s) until want callers are stuck in the slow request. */
static void stub_wait_inside(stub_cred *s, int want)
{
    int64_t end = kvs_mono_ms() + 10000;
    pthread_mutex_lock(&s->lock);
    while (s->slow_inside < want && kvs_mono_ms() < end) {
        pthread_mutex_unlock(&s->lock);
        kvs_sleep_ms(2);
        pthread_mutex_lock(&s->lock);
    }
    ck_assert_int_eq(s->slow_inside, want);
    pthread_mutex_unlock(&s->lock);
}

static void stub_release(stub_cred *s)
{
    pthread_mutex_lock(&s->lock);
    s->release = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static int stub_calls(stub_cred *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->calls;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- a caller on its own thread ----------------------------------------- */

typedef struct getter {
    kvs_token_cache *tc;
    kvs_cred *cred;
    const char *tenant, *scope;
    kvs_status st;
    char text[256];
    volatile int done;
    pthread_t thread;
} getter;

static kvs_status get_token(kvs_token_cache *tc, kvs_cred *cred, const char *tenant,
                            const char *scope, int force, char *text, size_t cap, int *fresh)
{
    kvs_token_req r = {AUTH, tenant, scope, "https://x", kvs_mono_ms() + 30000};
    kvs_sbuf out;
    kvs_error err = {0};
    int f = 0;
    kvs_sbuf_init(&out, 4096);
    kvs_status st = kvs_token_cache_get(tc, cred, NULL, &r, force, &out, &f, &err);
    snprintf(text, cap, "%s", st == KVS_OK ? out.p : kvs_error_message(&err));
    kvs_sbuf_free(&out);
    if (fresh) *fresh = f;
    return st;
}

static void *getter_main(void *arg)
{
    getter *g = arg;
    g->st = get_token(g->tc, g->cred, g->tenant, g->scope, 0, g->text, sizeof(g->text), NULL);
    __atomic_store_n(&g->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void getter_start(getter *g, kvs_token_cache *tc, kvs_cred *cred, const char *tenant,
                         const char *scope)
{
    memset(g, 0, sizeof(*g));
    g->tc = tc;
    g->cred = cred;
    g->tenant = tenant;
    g->scope = scope;
    ck_assert_int_eq(pthread_create(&g->thread, NULL, getter_main, g), 0);
}

static int getter_done(getter *g)
{
    return __atomic_load_n(&g->done, __ATOMIC_SEQ_CST);
}

/* ---- tests ---------------------------------------------------------------- */

/* While a token request for (tenant t1, Key Vault scope) hangs: a token for
 * the Storage scope, a token for another tenant, a cached DEK and a cached
 * public key of the same client are all served at once; a second caller of
 * the hanging token waits for it instead of asking again. */
START_TEST(test_slow_token_blocks_only_its_callers)
{
    kvs_keyvault_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "cli";
    cfg.allowed_hosts = "lock-split-test.invalid";
    kvs_kv_client *c = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_kv_client_acquire(&cfg, &c, &err), KVS_OK);
    stub_cred *stub = stub_new(SCOPE_KV);
    kvs_cred_free(c->cred);
    c->cred = &stub->base;

    /* A cached DEK and a cached public key. */
    kvs_recipient rec;
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.type, KVS_RECIPIENT_AZURE, sizeof(KVS_RECIPIENT_AZURE));
    memcpy(rec.alg, KVS_ALG_OAEP_256, sizeof(KVS_ALG_OAEP_256));
    snprintf(rec.key_id, sizeof(rec.key_id), "https://v.vault.azure.net/keys/k/0123");
    memset(rec.wrapped, 7, 256);
    rec.wrapped_len = 256;
    uint8_t dek[KVS_DEK_LEN], got[KVS_DEK_LEN];
    memset(dek, 0x5a, sizeof(dek));
    kvs_dek_cache_put(kvs_keyvault_deks(c), &rec, dek);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(pk);
    kvs_kv_client_key_put(c, "https://v.vault.azure.net/keys/k/0123", pk);

    getter a1, a2;
    getter_start(&a1, c->tokens, c->cred, "t1", SCOPE_KV);
    stub_wait_inside(stub, 1);
    getter_start(&a2, c->tokens, c->cred, "t1", SCOPE_KV);

    int64_t t0 = kvs_mono_ms();
    char text[256];
    int fresh = 0;
    ck_assert_int_eq(get_token(c->tokens, c->cred, "t1", SCOPE_STORAGE, 0, text, sizeof(text),
                               &fresh), KVS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_ptr_nonnull(strstr(text, SCOPE_STORAGE));
    ck_assert_int_eq(get_token(c->tokens, c->cred, "t2", SCOPE_KV, 0, text, sizeof(text),
                               &fresh), KVS_OK);
    ck_assert_ptr_nonnull(strstr(text, "-t2-"));
    ck_assert_int_eq(kvs_dek_cache_begin(kvs_keyvault_deks(c), &rec, got, 0), 1);
    ck_assert_mem_eq(got, dek, sizeof(dek));
    EVP_PKEY *again = kvs_kv_client_key_get(c, "https://v.vault.azure.net/keys/k/0123");
    ck_assert_ptr_eq(again, pk);
    EVP_PKEY_free(again);
    /* Generous for a loaded 2-core machine; the hanging request waits for
     * release, which comes only after these checks. */
    ck_assert_int_lt(kvs_mono_ms() - t0, 5000);

    /* The same token: still waiting, and not asked for a second time. */
    kvs_sleep_ms(50);
    ck_assert(!getter_done(&a1));
    ck_assert(!getter_done(&a2));
    stub_wait_inside(stub, 1);

    stub_release(stub);
    pthread_join(a1.thread, NULL);
    pthread_join(a2.thread, NULL);
    ck_assert_int_eq(a1.st, KVS_OK);
    ck_assert_int_eq(a2.st, KVS_OK);
    ck_assert_str_eq(a1.text, a2.text);
    ck_assert_int_eq(stub_calls(stub), 3); /* t1/KV once, t1/Storage, t2/KV */
    EVP_PKEY_free(pk);
    kvs_kv_client_release(c);
}
END_TEST

/* Tokens are cached per (authority, tenant, scope) and nothing assumes the
 * Key Vault scope; force asks again; a failure caches nothing. */
START_TEST(test_token_cache_scopes)
{
    kvs_token_cache *tc = kvs_token_cache_new();
    stub_cred *stub = stub_new(NULL);
    char t1[256], t2[256];
    int fresh = 0;
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_KV, 0, t1, sizeof t1, &fresh), KVS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_KV, 0, t2, sizeof t2, &fresh), KVS_OK);
    ck_assert_int_eq(fresh, 0);
    ck_assert_str_eq(t1, t2);
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_STORAGE, 0, t2, sizeof t2, &fresh),
                     KVS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_str_ne(t1, t2);
    ck_assert_int_eq(stub_calls(stub), 2);
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_KV, 1, t2, sizeof t2, &fresh), KVS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_str_ne(t1, t2);
    kvs_token_cache_drop(tc, AUTH, "t", SCOPE_STORAGE);
    stub->fail_next = 1;
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_STORAGE, 0, t2, sizeof t2, &fresh),
                     KVS_ERR_KEY_ACCESS);
    ck_assert_str_eq(t2, "stub refused");
    ck_assert_int_eq(get_token(tc, &stub->base, "t", SCOPE_STORAGE, 0, t2, sizeof t2, &fresh),
                     KVS_OK);
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(stub_calls(stub), 5);
    kvs_token_cache_free(tc);
    stub_free(&stub->base);
}
END_TEST

/* ---- DEK single flight ------------------------------------------------------ */

typedef struct dek_waiter {
    kvs_dek_cache *c;
    const kvs_recipient *r;
    int hit;
    uint8_t dek[KVS_DEK_LEN];
    pthread_t thread;
} dek_waiter;

static void *dek_waiter_main(void *arg)
{
    dek_waiter *w = arg;
    w->hit = kvs_dek_cache_begin(w->c, w->r, w->dek, 0);
    if (!w->hit) kvs_dek_cache_finish(w->c, w->r, NULL, 0);
    return NULL;
}

/* A second caller of a recipient being unwrapped waits and gets the key;
 * a prefetched key's first use by a decryption is not a saving (2). */
START_TEST(test_dek_single_flight)
{
    kvs_dek_cache *c = kvs_dek_cache_new(8);
    kvs_recipient r;
    memset(&r, 0, sizeof(r));
    memcpy(r.type, KVS_RECIPIENT_AZURE, sizeof(KVS_RECIPIENT_AZURE));
    snprintf(r.key_id, sizeof(r.key_id), "https://v.vault.azure.net/keys/k/1");
    r.wrapped_len = 16;
    uint8_t dek[KVS_DEK_LEN], got[KVS_DEK_LEN];
    memset(dek, 0x33, sizeof(dek));
    ck_assert_int_eq(kvs_dek_cache_begin(c, &r, got, 0), 0); /* this caller unwraps */
    dek_waiter w = {c, &r, -1, {0}, 0};
    ck_assert_int_eq(pthread_create(&w.thread, NULL, dek_waiter_main, &w), 0);
    kvs_sleep_ms(50);
    kvs_dek_cache_finish(c, &r, dek, 0);
    pthread_join(w.thread, NULL);
    ck_assert_int_eq(w.hit, 1);
    ck_assert_mem_eq(w.dek, dek, sizeof(dek));

    r.wrapped[0] = 1; /* another wrapped key, unwrapped ahead (prefetch) */
    ck_assert_int_eq(kvs_dek_cache_begin(c, &r, got, 1), 0);
    kvs_dek_cache_finish(c, &r, dek, 1);
    ck_assert_int_eq(kvs_dek_cache_begin(c, &r, got, 1), 1); /* prefetch again: mark kept */
    ck_assert_int_eq(kvs_dek_cache_begin(c, &r, got, 0), 2); /* its decryption */
    ck_assert_int_eq(kvs_dek_cache_begin(c, &r, got, 0), 1); /* a real saving */
    kvs_dek_cache_free(c);
}
END_TEST

/* ---- the credential interface --------------------------------------------- */

START_TEST(test_cred_interface)
{
    kvs_cred *c = NULL;
    kvs_error err = {0};
    ck_assert_int_eq(kvs_cred_new("cli", &c, &err), KVS_OK);
    ck_assert_str_eq(kvs_cred_describe(c), "Azure CLI");
    kvs_cred_free(c);
    ck_assert_int_eq(kvs_cred_new("managed-identity", &c, &err), KVS_OK);
    ck_assert_ptr_nonnull(strstr(kvs_cred_describe(c), "managed identity"));
    kvs_cred_free(c);
    ck_assert_int_eq(kvs_cred_new("nonsense", &c, &err), KVS_ERR_CONFIG);
    ck_assert_ptr_null(c);
    kvs_cred_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("azure_locks");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slow_token_blocks_only_its_callers);
    tcase_add_test(tc, test_token_cache_scopes);
    tcase_add_test(tc, test_dek_single_flight);
    tcase_add_test(tc, test_cred_interface);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
