/* WWW-Authenticate challenge parsing (incl. hostile input), derivation of
 * tenant/scope, and resource verification. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "azure/challenge.h"
#include "testutil.h"

static int parse(const char *h, kvs_challenge *c)
{
    return kvs_challenge_parse(h, strlen(h), c);
}

START_TEST(test_key_vault_challenge)
{
    kvs_challenge c;
    const char *h = "Bearer authorization=\"https://login.windows.net/72f988bf-86f1-41af-91ab-"
                    "2d7cd011db47\", resource=\"https://vault.azure.net\"";
    ck_assert_int_eq(parse(h, &c), 0);
    ck_assert_str_eq(c.authorization,
                     "https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47");
    ck_assert_str_eq(c.resource, "https://vault.azure.net");
    ck_assert_str_eq(c.scope, "");

    kvs_challenge_info ci;
    ck_assert_int_eq(kvs_challenge_derive(&c, &ci), 0);
    ck_assert_str_eq(ci.tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    ck_assert_str_eq(ci.scope, "https://vault.azure.net/.default");
    ck_assert_str_eq(ci.resource, "https://vault.azure.net");
    ck_assert_str_eq(ci.audience_host, "vault.azure.net");
}
END_TEST

START_TEST(test_variants)
{
    kvs_challenge c;
    kvs_challenge_info ci;
    /* authorization_uri and scope, Managed HSM */
    ck_assert_int_eq(parse("Bearer authorization_uri=\"https://login.microsoftonline.com/t1\", "
                           "scope=\"https://managedhsm.azure.net/.default\"", &c), 0);
    ck_assert_int_eq(kvs_challenge_derive(&c, &ci), 0);
    ck_assert_str_eq(ci.tenant, "t1");
    ck_assert_str_eq(ci.scope, "https://managedhsm.azure.net/.default");
    ck_assert_str_eq(ci.resource, "https://managedhsm.azure.net");

    /* case, spacing, token values, unknown params, escapes */
    ck_assert_int_eq(parse("  bEaReR   realm=\"\" ,error=\"invalid_token\",AUTHORIZATION = "
                           "\"https://login.windows.net/t\\2\"  ,  resource=https://x.example",
                           &c), 0);
    ck_assert_str_eq(c.authorization, "https://login.windows.net/t2");
    ck_assert_str_eq(c.resource, "https://x.example");

    /* resource with a trailing slash, both resource and scope on one host */
    ck_assert_int_eq(parse("Bearer authorization=\"https://a/t\", resource=\"https://vault.azure.net/\", "
                           "scope=\"https://vault.azure.net/.default\"", &c), 0);
    ck_assert_int_eq(kvs_challenge_derive(&c, &ci), 0);
    ck_assert_str_eq(ci.scope, "https://vault.azure.net/.default");

    ck_assert_int_eq(parse("Bearer authorization=\"https://a/t\", resource=\"https://vault.azure.net/\"", &c), 0);
    ck_assert_int_eq(kvs_challenge_derive(&c, &ci), 0);
    ck_assert_str_eq(ci.scope, "https://vault.azure.net/.default");
    ck_assert_str_eq(ci.resource, "https://vault.azure.net");

    /* a duplicate with the same value is harmless */
    ck_assert_int_eq(parse("Bearer resource=\"https://r.net\", authorization=\"https://a/t\", "
                           "resource=https://r.net", &c), 0);
}
END_TEST

START_TEST(test_several_challenges)
{
    kvs_challenge c;
    ck_assert_int_eq(parse("Basic realm=\"x\", Bearer authorization=\"https://a/t\", "
                           "resource=\"https://r.net\"", &c), 0);
    ck_assert_str_eq(c.resource, "https://r.net");
    /* token68 of another scheme before Bearer */
    ck_assert_int_eq(parse("Negotiate abc123==, Bearer authorization=\"https://a/t\", "
                           "resource=\"https://r.net\"", &c), 0);
    /* parameters after the Bearer challenge belong to the next scheme */
    ck_assert_int_eq(parse("Bearer authorization=\"https://a/t\", resource=\"https://r.net\", "
                           "PoP resource=\"https://evil.example\"", &c), 0);
    ck_assert_str_eq(c.resource, "https://r.net");
    /* only the first Bearer challenge counts */
    ck_assert_int_eq(parse("Bearer authorization=\"https://a/t\", resource=\"https://r.net\", "
                           "Bearer authorization=\"https://a/u\", resource=\"https://s.net\"", &c), 0);
    ck_assert_str_eq(c.authorization, "https://a/t");
}
END_TEST

START_TEST(test_hostile_rejected)
{
    static const char *const bad[] = {
        "",
        "Bearer",
        "Basic realm=\"x\"",
        "Bearer resource=\"https://r.net\"",                     /* no authorization */
        "Bearer authorization=\"https://a/t\"",                  /* no resource/scope */
        "Bearer authorization=\"https://a/t\", resource=\"https://r.net", /* unterminated */
        "Bearer authorization=\"https://a/t\", resource=\"https://r.net\\",
        "Bearer authorization=\"https://a/t\", resource=\"https://r\x01.net\"",
        "Bearer authorization=\"https://a/t\", resource=\"https://r\x7f.net\"",
        "Bearer authorization=\"https://a/t\", resource=\"https://r\xc3\xa9.net\"",
        "Bearer authorization=\"https://a/t\", resource=\"https://r.net\" junk",
        "Bearer authorization=\"https://a/t\", resource=\"https://r.net\"\"x\"",
        "Bearer authorization=\"https://a/t\", resource=",
        "Bearer authorization=\"https://a/t\", resource=,",
        "Bearer authorization=\"https://a/t\", resource=\"https://r.net\", resource=\"https://s.net\"",
        "Bearer authorization=\"https://a/t\", authorization_uri=\"https://a/u\", resource=\"https://r.net\"",
        "Bearer authorization \"https://a/t\", resource=\"https://r.net\"",
        "Bearer =\"https://a/t\", resource=\"https://r.net\"",
        "Bearer authorization=\"https://a/t\" resource=\"https://r.net\"",
        ",,,,,,,,,,,,,,,,,",
        "\"\"\"\"\"\"",
        "Bearer ====",
        "Bearer authorization=\"\", resource=\"https://r.net\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kvs_challenge c;
        ck_assert_msg(parse(bad[i], &c) == -1, "accepted [%s]", bad[i]);
    }
}
END_TEST

START_TEST(test_embedded_nul_and_length)
{
    kvs_challenge c;
    const char h[] = "Bearer authorization=\"https://a/t\", resource=\"https://r.net\"\0, x=y";
    ck_assert_int_eq(kvs_challenge_parse(h, sizeof(h) - 1, &c), -1);
    ck_assert_int_eq(kvs_challenge_parse(h, strlen(h), &c), 0);
    /* not NUL-terminated input: only len bytes are read */
    ck_assert_int_eq(kvs_challenge_parse(h, 20, &c), -1);

    static char big[8192];
    size_t n = (size_t)snprintf(big, sizeof(big), "Bearer authorization=\"https://a/t\", resource=\"https://");
    memset(big + n, 'a', 3000);
    memcpy(big + n + 3000, ".net\"", 6);
    ck_assert_int_eq(parse(big, &c), -1); /* value longer than the limit */
    /* an over-long parameter kvseal ignores does not matter */
    n = (size_t)snprintf(big, sizeof(big), "Bearer authorization=\"https://a/t\", resource=\"https://r.net\", claims=\"");
    memset(big + n, 'b', 5000);
    memcpy(big + n + 5000, "\"", 2);
    ck_assert_int_eq(parse(big, &c), 0);
}
END_TEST

/* xorshift32: deterministic input for the smoke fuzzing below. */
static uint32_t xs(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

START_TEST(test_random_inputs_do_not_crash)
{
    static const char *const pieces[] = {"Bearer", " ", ",", "=", "\"", "\\", "authorization",
                                         "resource", "scope", "https://a/t", "https://r.net",
                                         "\t", "x", "\x01", "\xff", "Basic", "authorization_uri"};
    uint32_t seed = 0x12345678u;
    char buf[512];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 0, want = xs(&seed) % 40;
        for (size_t k = 0; k < want; k++) {
            const char *p = pieces[xs(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t pl = strlen(p);
            if (len + pl >= sizeof(buf)) break;
            memcpy(buf + len, p, pl);
            len += pl;
        }
        kvs_challenge c;
        kvs_challenge_info ci;
        if (kvs_challenge_parse(buf, len, &c) == 0) {
            ck_assert(strlen(c.authorization) < sizeof(c.authorization));
            (void)kvs_challenge_derive(&c, &ci);
        }
        /* random bytes too */
        for (size_t k = 0; k < 64; k++) buf[k] = (char)(xs(&seed) & 0xff);
        (void)kvs_challenge_parse(buf, 64, &c);
    }
}
END_TEST

START_TEST(test_derive_rejects)
{
    kvs_challenge c;
    kvs_challenge_info ci;
    static const char *const bad[] = {
        "Bearer authorization=\"http://login.windows.net/t\", resource=\"https://vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/\", resource=\"https://vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net\", resource=\"https://vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/t%2f..\", resource=\"https://vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/t\", resource=\"http://vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/t\", resource=\"vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/t\", resource=\"https://user@vault.azure.net\"",
        "Bearer authorization=\"https://login.windows.net/t\", scope=\"https://vault.azure.net/.default other\"",
        "Bearer authorization=\"https://login.windows.net/t\", resource=\"https://vault.azure.net\", "
        "scope=\"https://evil.example/.default\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(bad[i], &c) == 0, "parse [%s]", bad[i]);
        ck_assert_msg(kvs_challenge_derive(&c, &ci) == -1, "derived [%s]", bad[i]);
    }
}
END_TEST

static int verify(const char *resource, const char *host, int explicit_allow)
{
    char h[2048];
    kvs_challenge c;
    kvs_challenge_info ci;
    snprintf(h, sizeof(h), "Bearer authorization=\"https://login.windows.net/t\", resource=\"%s\"",
             resource);
    if (parse(h, &c) != 0 || kvs_challenge_derive(&c, &ci) != 0) return -1;
    return kvs_challenge_resource_ok(&ci, host, explicit_allow);
}

START_TEST(test_resource_verification)
{
    ck_assert_int_eq(verify("https://vault.azure.net", "myvault.vault.azure.net", 0), 1);
    ck_assert_int_eq(verify("https://managedhsm.azure.net", "h.managedhsm.azure.net", 0), 1);
    ck_assert_int_eq(verify("https://vault.azure.cn", "v.vault.azure.cn", 0), 1);
    ck_assert_int_eq(verify("https://azure.net", "myvault.vault.azure.net", 0), 1); /* SDK rule */
    /* wrong audience: a hostile vault fishing for another resource's token */
    ck_assert_int_eq(verify("https://management.azure.com", "myvault.vault.azure.net", 0), 0);
    ck_assert_int_eq(verify("https://evil.example", "myvault.vault.azure.net", 0), 0);
    ck_assert_int_eq(verify("https://vault.azure.net", "myvault.vault.azure.net.evil.example", 0), 0);
    ck_assert_int_eq(verify("https://vault.azure.net", "xvault.azure.net", 0), 0);
    ck_assert_int_eq(verify("https://net", "myvault.vault.azure.net", 0), 0);
    /* equality only for explicitly allowed hosts (the loopback test server) */
    ck_assert_int_eq(verify("https://localhost", "localhost", 0), 0);
    ck_assert_int_eq(verify("https://localhost", "localhost", 1), 1);
    ck_assert_int_eq(verify("https://localhost:8443", "localhost", 1), 1);
    ck_assert_int_eq(verify("https://vault.azure.net", "localhost", 1), 0);
    ck_assert_int_eq(verify("https://myvault.vault.azure.net", "myvault.vault.azure.net", 0), 0);
    ck_assert_int_eq(verify("https://myvault.vault.azure.net", "myvault.vault.azure.net", 1), 1);
    /* scope form is verified the same way */
    kvs_challenge c;
    kvs_challenge_info ci;
    ck_assert_int_eq(parse("Bearer authorization=\"https://a/t\", scope=\"https://evil.example/.default\"", &c), 0);
    ck_assert_int_eq(kvs_challenge_derive(&c, &ci), 0);
    ck_assert_int_eq(kvs_challenge_resource_ok(&ci, "v.vault.azure.net", 0), 0);
}
END_TEST

static Suite *challenge_suite(void)
{
    Suite *s = suite_create("azure_challenge");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_key_vault_challenge);
    tcase_add_test(tc, test_variants);
    tcase_add_test(tc, test_several_challenges);
    tcase_add_test(tc, test_hostile_rejected);
    tcase_add_test(tc, test_embedded_nul_and_length);
    tcase_add_test(tc, test_random_inputs_do_not_crash);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("verify");
    tcase_add_test(tv, test_derive_rejects);
    tcase_add_test(tv, test_resource_verification);
    suite_add_tcase(s, tv);
    return s;
}

int main(void)
{
    return kvs_test_run_suite(challenge_suite());
}
