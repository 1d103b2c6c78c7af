/* The Key Vault protocol logic through the real client (kvs_kv_client_call
 * and the provider's unwrap) against a scripted fake transport on virtual
 * time: challenge and resource checks, token requests and caching, 401 /
 * 403 / 404 / 429 / 5xx handling, Retry-After in its three forms, pacing,
 * the retry budget and the vault-down breaker, and which hosts the extra CA
 * file is trusted for. Each test takes milliseconds of real time. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "azure/client.h"
#include "azure/kvjson.h"
#include "fake_clock.h"
#include "fake_transport.h"
#include "keys/keyvault_file.h"
#include "kvseal/keyvault.h"
#include "testutil.h"

#define WALL0 1700000000LL
#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define VAULT "https://myvault.vault.azure.net"
#define KID VAULT "/keys/k1/0123456789abcdef"
#define UNWRAP_URL KID "/unwrapkey?api-version=7.4"
#define LOGIN "https://login.microsoftonline.com"
#define TOKEN_URL LOGIN "/" TENANT "/oauth2/v2.0/token"
#define CHALLENGE                                                                   \
    "WWW-Authenticate: Bearer authorization=\"" LOGIN "/" TENANT "\", "              \
    "resource=\"https://vault.azure.net\"\r\n"
#define TOKEN_JSON "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"tok-1\"}"
/* 32 bytes 0x01..0x20, base64url */
#define DEK_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"
#define UNWRAP_JSON "{\"kid\":\"" KID "\",\"value\":\"" DEK_B64 "\"}"
#define BODY "{\"alg\":\"RSA-OAEP-256\",\"value\":\"AAAA\"}"

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t t_start_real;

static void setup(void)
{
    static const char *const scrub[] = {
        "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_SECRET_FILE", "KVSEAL_CA_FILE",
        "KVSEAL_ALLOWED_HOSTS", "KVSEAL_CREDENTIAL", "KVSEAL_CONNECT_TIMEOUT",
        "KVSEAL_HTTP_TIMEOUT", "KVSEAL_RETRY_MAX_SECONDS", "KVSEAL_THROTTLE_MAX_SECONDS",
        "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT"};
    for (size_t i = 0; i < sizeof(scrub) / sizeof(scrub[0]); i++) unsetenv(scrub[i]);
    setenv("AZURE_CLIENT_ID", "app1", 1);
    setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
    fake_clock_install(WALL0);
    fake_transport_install();
    t_start_real = real_ms();
}

static void teardown(void)
{
    fake_transport_uninstall();
    fake_clock_uninstall();
    /* Virtual time: several tests wait 10 s to an hour virtually; on the real
     * clock they would pass this bound (generous for load; scaled for
     * valgrind, where the first test's library start-up alone takes ~15 s). */
    int64_t bound_ms = 15000LL * kvs_test_slowdown();
    ck_assert_msg(real_ms() - t_start_real < bound_ms, "test took %lld ms of real time",
                  (long long)(real_ms() - t_start_real));
}

static kvs_keyvault_config base_cfg(void)
{
    kvs_keyvault_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.credential = "env-secret";
    return cfg;
}

static kvs_kv_client *client_of(const kvs_keyvault_config *cfg)
{
    kvs_kv_client *c = NULL;
    kvs_error err;
    kvs_status st = kvs_kv_client_acquire(cfg, &c, &err);
    ck_assert_msg(st == KVS_OK, "acquire: %s", kvs_error_message(&err));
    return c;
}

static kvs_status unwrap_at(kvs_kv_client *c, const char *kid, cJSON **json, kvs_error *err)
{
    kvs_kv_keyref key;
    ck_assert_int_eq(kvs_kv_parse_key_url(kid, &key), 0);
    kvs_error_clear(err);
    return kvs_kv_client_call(c, KVS_KV_OP_UNWRAP, &key, BODY, strlen(BODY), json, err);
}

/* One unwrap of KID that must succeed. */
static void unwrap_ok(kvs_kv_client *c)
{
    cJSON *json = NULL;
    kvs_error err;
    kvs_status st = unwrap_at(c, KID, &json, &err);
    ck_assert_msg(st == KVS_OK, "unwrap: %s", kvs_error_message(&err));
    ck_assert_str_eq(kvs_json_str(json, "value"), DEK_B64);
    kvs_json_free_wiped(json);
}

static kvs_status unwrap_fails(kvs_kv_client *c, kvs_error *err)
{
    cJSON *json = NULL;
    kvs_status st = unwrap_at(c, KID, &json, err);
    ck_assert_int_ne(st, KVS_OK);
    ck_assert_ptr_null(json);
    return st;
}

/* First contact: the probe without token gets the challenge, then a token. */
static void script_challenge_and_token(void)
{
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
}

static void assert_contains(const char *hay, const char *needle)
{
    ck_assert_msg(strstr(hay, needle) != NULL, "'%s' not in '%s'", needle, hay);
}

static int64_t gap_ms(size_t a, size_t b)
{
    return fake_request_at(b).at_ms - fake_request_at(a).at_ms;
}

/* ---- challenge, token, bearer --------------------------------------------- */

START_TEST(test_challenge_then_token_then_bearer)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_uint_eq(fake_mismatches(), 0);
    fake_request probe = fake_request_at(0), tok = fake_request_at(1), call = fake_request_at(2);
    /* The first request carries neither token nor the wrapped key. */
    ck_assert(!probe.secret && !probe.body);
    ck_assert_str_eq(probe.host, "myvault.vault.azure.net");
    /* The token request goes to the authority, with the client secret. */
    ck_assert_str_eq(tok.host, "login.microsoftonline.com");
    ck_assert(tok.client_secret && !tok.secret);
    /* The retry carries the bearer token and the body; the secret never
     * goes to the vault. */
    ck_assert(call.bearer && call.body && !call.client_secret);
    ck_assert_str_eq(call.url, UNWRAP_URL);

    /* A second call reuses challenge and token: one request. */
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 4);
    ck_assert(fake_request_at(3).bearer);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_challenge_resource_mismatch_sends_no_token)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    fake_respond("POST", UNWRAP_URL, 401,
                 "WWW-Authenticate: Bearer authorization=\"" LOGIN "/" TENANT
                 "\", resource=\"https://evil.example\"\r\n",
                 "{}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "does not match");
    assert_contains(kvs_error_message(&err), "no token was sent");
    ck_assert_uint_eq(fake_request_count(), 1); /* no token request either */
    ck_assert(!fake_request_at(0).secret);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_401_without_bearer_challenge)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    fake_respond("POST", UNWRAP_URL, 401, "WWW-Authenticate: Basic realm=\"x\"\r\n", "{}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "without a usable Bearer");
    ck_assert_uint_eq(fake_request_count(), 1);
    kvs_kv_client_release(c);
}
END_TEST

/* ---- answers that are not retried --------------------------------------------- */

START_TEST(test_403_rbac_names_the_role)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 403, NULL,
                 "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not authorized\","
                 "\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "Key Vault Crypto Service Encryption User");
    assert_contains(kvs_error_message(&err), "ForbiddenByRbac");
    ck_assert_uint_eq(fake_request_count(), 3); /* not retried */
    ck_assert(!strstr(kvs_error_message(&err), "tok-1"));
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_404_is_a_key_error_not_retried)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 404, "x-ms-request-id: req-404\r\n",
                 "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"A key with (name/id) k1 "
                 "was not found\"}}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY);
    assert_contains(kvs_error_message(&err), "not found");
    assert_contains(kvs_error_message(&err), "req-404"); /* the service's request id */
    ck_assert_uint_eq(fake_request_count(), 3);
    kvs_kv_client_release(c);
}
END_TEST

/* ---- throttling ----------------------------------------------------------- */

/* 429 with the given header, then 200: returns the virtual gap. */
static int64_t throttled_once(const char *header)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 429, header, "{\"error\":{\"code\":\"Throttled\"}}");
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 4);
    ck_assert(fake_request_at(3).bearer);
    kvs_kv_client_release(c);
    return gap_ms(2, 3);
}

START_TEST(test_429_retry_after_seconds)
{
    ck_assert_int_eq(throttled_once("Retry-After: 7\r\n"), 7000);
}
END_TEST

START_TEST(test_429_retry_after_http_date)
{
    char hdr[128];
    time_t when = (time_t)(WALL0 + 12);
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(hdr, sizeof(hdr), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    ck_assert_int_eq(throttled_once(hdr), 12000);
}
END_TEST

START_TEST(test_429_x_ms_retry_after_ms)
{
    /* The milliseconds header wins over a coarser Retry-After. */
    ck_assert_int_eq(throttled_once("x-ms-retry-after-ms: 1500\r\nRetry-After: 2\r\n"), 1500);
}
END_TEST

START_TEST(test_429_without_retry_after_is_paced)
{
    /* No Retry-After: the pacer learns the vault admitted one request (the
     * probe) in the 10 s window and holds the retry until that one leaves
     * the window -- and holds the next call the same way. */
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 429, NULL, "{}");
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 4);
    ck_assert_int_eq(gap_ms(0, 3), 10000 + 50);
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_int_eq(gap_ms(3, 4), 10000 + 50);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_429_beyond_the_throttle_budget_gives_up_at_once)
{
    kvs_keyvault_config cfg = base_cfg();
    cfg.retry_max_seconds = 5;
    cfg.throttle_max_seconds = 60;
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 429, "Retry-After: 3600\r\n", "{}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_UNAVAILABLE);
    assert_contains(kvs_error_message(&err), "throttled");
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_int_eq(fake_clock_slept_ms(), 0); /* did not wait for nothing */
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_429_extends_the_budget_to_the_throttle_budget)
{
    /* A 5 s retry budget, but throttling may take up to 60 s in total. */
    kvs_keyvault_config cfg = base_cfg();
    cfg.retry_max_seconds = 5;
    cfg.throttle_max_seconds = 60;
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_queue((fake_reply){"POST", UNWRAP_URL, 429, KVS_NET_NONE, "Retry-After: 20\r\n", "{}",
                            0, 2});
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_int_eq(gap_ms(2, 4), 40000);
    kvs_kv_client_release(c);
}
END_TEST

/* ---- server errors, the retry budget and the breaker ------------------------ */

START_TEST(test_5xx_retried_with_backoff)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    static const long retried[] = {503, 500, 502, 504, 408};
    for (size_t i = 0; i < 5; i++) fake_respond("POST", UNWRAP_URL, retried[i], NULL, "{}");
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 2 + 6);
    ck_assert_uint_eq(fake_mismatches(), 0);
    /* about 1, 2, 4, 8, 16 s, each with +-20 % jitter */
    for (size_t i = 0; i < 5; i++) {
        int64_t base = 1000LL << i, g = gap_ms(2 + i, 3 + i);
        ck_assert_msg(g >= base * 8 / 10 && g <= base * 12 / 10, "gap %zu: %lld", i,
                      (long long)g);
    }
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_503_with_retry_after_is_honoured)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 503, "Retry-After: 3\r\n", "{}");
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_int_eq(gap_ms(2, 3), 3000);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_5xx_gives_up_within_budget_then_breaker)
{
    kvs_keyvault_config cfg = base_cfg();
    cfg.retry_max_seconds = 10;
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_queue((fake_reply){"POST", UNWRAP_URL, 503, KVS_NET_NONE, NULL, "{}", 0, -1});
    kvs_error err;
    int64_t t0 = fake_clock_mono_ms();
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_NETWORK);
    assert_contains(kvs_error_message(&err), "HTTP 503");
    /* Back-off 1, 2, 4 s (+-20 %): the fourth attempt's next wait of about
     * 8 s would pass the 10 s budget, so it gives up without waiting. */
    ck_assert_uint_eq(fake_request_count(), 2 + 4);
    ck_assert(fake_clock_mono_ms() - t0 <= 10000);

    /* The breaker: the vault is skipped, with no request, for 60 s. */
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_UNAVAILABLE);
    assert_contains(kvs_error_message(&err), "is skipped");
    assert_contains(kvs_error_message(&err), "myvault.vault.azure.net");
    ck_assert_uint_eq(fake_request_count(), 6);
    fake_clock_advance(59000);
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_UNAVAILABLE);
    ck_assert_uint_eq(fake_request_count(), 6);

    /* After 60 s it is tried again (challenge and token still cached). */
    fake_clock_advance(2000);
    fake_transport_install();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 1);
    ck_assert(fake_request_at(0).bearer);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_connect_failures_retried_then_breaker)
{
    kvs_keyvault_config cfg = base_cfg();
    cfg.retry_max_seconds = 10;
    kvs_kv_client *c = client_of(&cfg);
    fake_queue((fake_reply){"POST", UNWRAP_URL, 0, KVS_NET_CONNECT, NULL, NULL, 0, -1});
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_NETWORK);
    assert_contains(kvs_error_message(&err), "cannot connect to myvault.vault.azure.net");
    assert_contains(kvs_error_message(&err), "after 4 attempts");
    ck_assert_uint_eq(fake_request_count(), 4);
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_UNAVAILABLE);
    assert_contains(kvs_error_message(&err), "is skipped");
    ck_assert_uint_eq(fake_request_count(), 4);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_timeout_retried_within_budget)
{
    /* A stalled request costs the request timeout, then is retried. */
    kvs_keyvault_config cfg = base_cfg();
    cfg.request_timeout = 2;
    cfg.retry_max_seconds = 6;
    kvs_kv_client *c = client_of(&cfg);
    fake_queue((fake_reply){"POST", UNWRAP_URL, 0, KVS_NET_TIMEOUT, NULL, NULL, 0, 0});
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_int_eq(fake_request_at(0).timeout_ms, 2000);
    ck_assert(gap_ms(0, 1) >= 2000 + 800 && gap_ms(0, 1) <= 2000 + 1200);

    /* Stalled for good: it gives up within the budget, saying so. */
    kvs_kv_client_release(c);
    fake_transport_install();
    cfg.retry_max_seconds = 4; /* another client: nothing cached */
    c = client_of(&cfg);
    fake_queue((fake_reply){"POST", UNWRAP_URL, 0, KVS_NET_TIMEOUT, NULL, NULL, 0, -1});
    int64_t t0 = fake_clock_mono_ms();
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_NETWORK);
    assert_contains(kvs_error_message(&err), "timed out");
    ck_assert(fake_clock_mono_ms() - t0 <= 4000);
    /* 2 s, about 1 s back-off, then only what was left of the budget */
    ck_assert_uint_eq(fake_request_count(), 2);
    ck_assert(fake_request_at(1).timeout_ms >= 800 && fake_request_at(1).timeout_ms <= 1200);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_4xx_is_not_retried)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 400, NULL,
                 "{\"error\":{\"code\":\"BadParameter\",\"message\":\"bad\"}}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY);
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_int_eq(fake_clock_slept_ms(), 0);
    kvs_kv_client_release(c);
}
END_TEST

/* ---- tokens ---------------------------------------------------------------- */

START_TEST(test_token_cached_until_five_minutes_before_expiry)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    /* expires_in 3600: still used 3299 s later ... */
    fake_clock_advance(3299 * 1000);
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 4);
    /* ... but not within the last 300 s: a new token first. */
    fake_clock_advance(2 * 1000);
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 6);
    ck_assert_uint_eq(fake_mismatches(), 0);
    ck_assert_str_eq(fake_request_at(4).host, "login.microsoftonline.com");
    ck_assert(fake_request_at(5).bearer);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_later_401_refreshes_the_token_once)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    /* The vault forgot the token: one 401, one new token, one retry. */
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    unwrap_ok(c);
    ck_assert_uint_eq(fake_request_count(), 6);
    ck_assert_uint_eq(fake_mismatches(), 0);
    ck_assert(fake_request_at(3).bearer && fake_request_at(5).bearer);

    /* A fresh token rejected too: no loop, a message naming tenant and
     * audience. */
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    fake_respond("POST", TOKEN_URL, 200, NULL, TOKEN_JSON);
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "rejected a fresh access token");
    assert_contains(kvs_error_message(&err), "tenant " TENANT);
    assert_contains(kvs_error_message(&err), "audience https://vault.azure.net/.default");
    ck_assert_uint_eq(fake_request_count(), 9);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_token_endpoint_refusal)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    fake_respond("POST", TOKEN_URL, 401, NULL,
                 "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                 "Invalid client secret provided.\"}");
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "AADSTS7000215");
    ck_assert(!strstr(kvs_error_message(&err), "s3cret"));
    ck_assert_uint_eq(fake_request_count(), 2); /* the vault never saw a token */
    kvs_kv_client_release(c);
}
END_TEST

/* ---- the provider's unwrap --------------------------------------------------- */

static kvs_recipient recipient_of(const char *kid)
{
    kvs_recipient r;
    memset(&r, 0, sizeof(r));
    memcpy(r.type, KVS_RECIPIENT_AZURE, sizeof(KVS_RECIPIENT_AZURE));
    memcpy(r.alg, KVS_ALG_OAEP_256, sizeof(KVS_ALG_OAEP_256));
    snprintf(r.key_id, sizeof(r.key_id), "%s", kid);
    memset(r.wrapped, 0x33, 256);
    r.wrapped_len = 256;
    return r;
}

START_TEST(test_provider_unwrap)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_provider *p = NULL;
    kvs_error err;
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, NULL, &p, &err), KVS_OK);
    ck_assert_uint_eq(fake_request_count(), 0); /* nothing fetched up front */
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    kvs_recipient r = recipient_of(KID);
    uint8_t dek[KVS_DEK_LEN];
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, dek, &err), KVS_OK);
    for (int i = 0; i < KVS_DEK_LEN; i++) ck_assert_uint_eq(dek[i], (unsigned)i + 1);
    /* The same wrapped key again: the DEK cache answers. */
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, dek, &err), KVS_OK);
    ck_assert_uint_eq(fake_request_count(), 3);
    /* A value that is not 32 bytes is refused. */
    r.wrapped[0] = 0x44;
    fake_respond("POST", UNWRAP_URL, 200, NULL, "{\"kid\":\"" KID "\",\"value\":\"AQID\"}");
    /* FORMAT.md: a value that is not a DEK fails like a bad header tag. */
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, dek, &err), KVS_ERR_AUTH);
    assert_contains(kvs_error_message(&err), "not a 32-byte data key");
    /* A file naming a host that is not allowed: refused, nothing sent. */
    kvs_recipient evil = recipient_of("https://evil.example.com/keys/k1/0123456789abcdef");
    ck_assert_int_eq(kvs_provider_unwrap(p, &evil, dek, &err), KVS_ERR_KEY_ACCESS);
    assert_contains(kvs_error_message(&err), "refusing to contact evil.example.com");
    ck_assert_uint_eq(fake_request_count(), 4);
    kvs_provider_free(p);
}
END_TEST

/* Unwrapping ahead of a decryption (restore prefetching) is a parameter, not
 * thread state: the key fetched ahead is not a DEK-cache saving on its first
 * use by the decryption, only on later ones. */
START_TEST(test_unwrap_ahead_is_not_a_cache_saving)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_provider *p = NULL;
    kvs_error err;
    ck_assert_int_eq(kvs_keyvault_any_provider_new(&cfg, NULL, &p, &err), KVS_OK);
    script_challenge_and_token();
    fake_respond("POST", UNWRAP_URL, 200, NULL, UNWRAP_JSON);
    kvs_recipient r = recipient_of(KID);
    r.wrapped[0] = 0x55; /* a data key no other test cached */
    uint8_t dek[KVS_DEK_LEN];
    kvs_keyvault_counts n;
    kvs_keyvault_stats_reset();
    ck_assert_int_eq(kvs_keyvault_unwrap_until(p, &r, dek, 0, 1, &err), KVS_OK);
    ck_assert_int_eq(kvs_keyvault_unwrap_until(p, &r, dek, 0, 1, &err), KVS_OK);
    kvs_keyvault_stats(&n);
    ck_assert_uint_eq(n.unwrap, 1);
    ck_assert_uint_eq(n.dek_cache_hits, 0); /* ahead, twice: no saving yet */
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, dek, &err), KVS_OK);
    kvs_keyvault_stats(&n);
    ck_assert_uint_eq(n.dek_cache_hits, 0); /* the decryption it was fetched for */
    ck_assert_int_eq(kvs_provider_unwrap(p, &r, dek, &err), KVS_OK);
    kvs_keyvault_stats(&n);
    ck_assert_uint_eq(n.dek_cache_hits, 1); /* a second decryption: saved */
    ck_assert_uint_eq(n.unwrap, 1);
    for (int i = 0; i < KVS_DEK_LEN; i++) ck_assert_uint_eq(dek[i], (unsigned)i + 1);
    kvs_provider_free(p);
}
END_TEST

/* ---- TLS: which hosts the extra CA file vouches for ------------------------ */

#define OWN_HOST "kv.example.test:8443"
#define OWN_KID "https://" OWN_HOST "/keys/k1/0123456789abcdef"
#define OWN_UNWRAP OWN_KID "/unwrapkey?api-version=7.4"

/* The whole flow against host kid; returns the extra_ca flags of probe,
 * token request and call as a 3-digit number (1 = the CA file applied). */
static int ca_flags(const kvs_keyvault_config *cfg, const char *kid, const char *unwrap_url,
                    const char *challenge, const char *token_url)
{
    kvs_kv_client *c = client_of(cfg);
    fake_respond("POST", unwrap_url, 401, challenge, "{}");
    fake_respond("POST", token_url, 200, NULL, TOKEN_JSON);
    fake_respond("POST", unwrap_url, 200, NULL, UNWRAP_JSON);
    cJSON *json = NULL;
    kvs_error err;
    kvs_status st = unwrap_at(c, kid, &json, &err);
    ck_assert_msg(st == KVS_OK, "unwrap: %s", kvs_error_message(&err));
    kvs_json_free_wiped(json);
    ck_assert_uint_eq(fake_request_count(), 3);
    ck_assert_uint_eq(fake_mismatches(), 0);
    kvs_kv_client_release(c);
    return fake_request_at(0).extra_ca * 100 + fake_request_at(1).extra_ca * 10 +
           fake_request_at(2).extra_ca;
}

#define OWN_CHALLENGE                                                               \
    "WWW-Authenticate: Bearer authorization=\"" LOGIN "/" TENANT "\", "              \
    "resource=\"https://kv.example.test\"\r\n"

#define OWN_LOGIN "https://login.example.test"
#define OWN_TOKEN_URL OWN_LOGIN "/" TENANT "/oauth2/v2.0/token"
#define CA_FILE "/nonexistent/private-ca.pem" /* the fake never loads it */

typedef struct ca_case {
    const char *what;
    const char *ca_file, *allowed, *authority; /* the configuration */
    int own_vault;   /* OWN_HOST (1) or the known-cloud vault KID (0) */
    const char *token_url;
    int want;        /* extra_ca of probe, token request, call: 101 = vault only */
} ca_case;

static const ca_case ca_cases[] = {
    {"the allowed vault gets the private CA, the Entra sign-in host does not", CA_FILE,
     OWN_HOST, LOGIN, 1, TOKEN_URL, 101},
    {"a known cloud's vault never gets it", CA_FILE, OWN_HOST, NULL, 0, TOKEN_URL, 0},
    {"an authority listed in the allow-list gets it", CA_FILE, OWN_HOST ", login.example.test",
     OWN_LOGIN, 1, OWN_TOKEN_URL, 111},
    {"an entry with a port vouches for that port only", CA_FILE,
     OWN_HOST ", login.example.test:8444", OWN_LOGIN, 1, OWN_TOKEN_URL, 101},
    {"no CA file: nothing extra for anyone", NULL, OWN_HOST, LOGIN, 1, TOKEN_URL, 0},
};

START_TEST(test_ca_file_only_for_allowed_hosts)
{
    const ca_case *t = &ca_cases[_i];
    kvs_keyvault_config cfg = base_cfg();
    cfg.ca_file = t->ca_file;
    cfg.allowed_hosts = t->allowed;
    cfg.authority_host = t->authority;
    int got = t->own_vault ? ca_flags(&cfg, OWN_KID, OWN_UNWRAP, OWN_CHALLENGE, t->token_url)
                           : ca_flags(&cfg, KID, UNWRAP_URL, CHALLENGE, t->token_url);
    ck_assert_msg(got == t->want, "%s: got %03d, want %03d", t->what, got, t->want);
}
END_TEST

START_TEST(test_tls_verify_failure_is_config_not_retried)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    fake_queue((fake_reply){"POST", UNWRAP_URL, 0, KVS_NET_TLS_VERIFY, NULL, NULL, 0, 0});
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_CONFIG);
    assert_contains(kvs_error_message(&err), "certificate verification failed");
    assert_contains(kvs_error_message(&err), "myvault.vault.azure.net");
    ck_assert_uint_eq(fake_request_count(), 1);
    ck_assert_int_eq(fake_clock_slept_ms(), 0);

    /* The same at the sign-in host: the token request is not retried either. */
    fake_transport_install();
    fake_respond("POST", UNWRAP_URL, 401, CHALLENGE, "{}");
    fake_queue((fake_reply){"POST", TOKEN_URL, 0, KVS_NET_TLS_VERIFY, NULL, NULL, 0, 0});
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_CONFIG);
    assert_contains(kvs_error_message(&err), "login.microsoftonline.com");
    ck_assert_uint_eq(fake_request_count(), 2);
    kvs_kv_client_release(c);
}
END_TEST

START_TEST(test_tls_handshake_failure_is_config)
{
    kvs_keyvault_config cfg = base_cfg();
    kvs_kv_client *c = client_of(&cfg);
    fake_queue((fake_reply){"POST", UNWRAP_URL, 0, KVS_NET_TLS_HANDSHAKE, NULL, NULL, 0, 0});
    kvs_error err;
    ck_assert_int_eq(unwrap_fails(c, &err), KVS_ERR_CONFIG);
    assert_contains(kvs_error_message(&err), "TLS handshake");
    ck_assert_uint_eq(fake_request_count(), 1);
    kvs_kv_client_release(c);
}
END_TEST

static Suite *protocol_suite(void)
{
    Suite *s = suite_create("azure_protocol");
    TCase *tc = tcase_create("challenge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_challenge_then_token_then_bearer);
    tcase_add_test(tc, test_challenge_resource_mismatch_sends_no_token);
    tcase_add_test(tc, test_401_without_bearer_challenge);
    tcase_add_test(tc, test_403_rbac_names_the_role);
    tcase_add_test(tc, test_404_is_a_key_error_not_retried);
    tcase_add_test(tc, test_4xx_is_not_retried);
    suite_add_tcase(s, tc);

    tc = tcase_create("throttling");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_429_retry_after_seconds);
    tcase_add_test(tc, test_429_retry_after_http_date);
    tcase_add_test(tc, test_429_x_ms_retry_after_ms);
    tcase_add_test(tc, test_429_without_retry_after_is_paced);
    tcase_add_test(tc, test_429_beyond_the_throttle_budget_gives_up_at_once);
    tcase_add_test(tc, test_429_extends_the_budget_to_the_throttle_budget);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_5xx_retried_with_backoff);
    tcase_add_test(tc, test_503_with_retry_after_is_honoured);
    tcase_add_test(tc, test_5xx_gives_up_within_budget_then_breaker);
    tcase_add_test(tc, test_connect_failures_retried_then_breaker);
    tcase_add_test(tc, test_timeout_retried_within_budget);
    suite_add_tcase(s, tc);

    tc = tcase_create("tokens");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_token_cached_until_five_minutes_before_expiry);
    tcase_add_test(tc, test_later_401_refreshes_the_token_once);
    tcase_add_test(tc, test_token_endpoint_refusal);
    tcase_add_test(tc, test_provider_unwrap);
    tcase_add_test(tc, test_unwrap_ahead_is_not_a_cache_saving);
    suite_add_tcase(s, tc);

    tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_ca_file_only_for_allowed_hosts, 0,
                        (int)(sizeof(ca_cases) / sizeof(ca_cases[0])));
    tcase_add_test(tc, test_tls_verify_failure_is_config_not_retried);
    tcase_add_test(tc, test_tls_handshake_failure_is_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(protocol_suite());
}
