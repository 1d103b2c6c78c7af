/* Credential source checks that need no network: the tenants the Azure CLI
 * credential passes to az. */
#include "azure/cred_sources.h"
#include "testutil.h"

START_TEST(test_cli_tenant)
{
    ck_assert(kvs_cli_tenant_ok("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    ck_assert(kvs_cli_tenant_ok("00000000-0000-0000-0000-00000000test")); /* test server */
    ck_assert(kvs_cli_tenant_ok("contoso.onmicrosoft.com"));
    ck_assert(kvs_cli_tenant_ok("a-b.example"));
    ck_assert(!kvs_cli_tenant_ok(""));
    ck_assert(!kvs_cli_tenant_ok("-"));
    ck_assert(!kvs_cli_tenant_ok("--help"));
    ck_assert(!kvs_cli_tenant_ok("-x.example.com"));
    ck_assert(!kvs_cli_tenant_ok("contoso"));          /* one label */
    ck_assert(!kvs_cli_tenant_ok("contoso..com"));
    ck_assert(!kvs_cli_tenant_ok("contoso.com."));
    ck_assert(!kvs_cli_tenant_ok("contoso-.com"));
    ck_assert(!kvs_cli_tenant_ok("not_a.tenant"));
    ck_assert(!kvs_cli_tenant_ok("a b.com"));
    ck_assert(!kvs_cli_tenant_ok("72f988bf-86f1-41af-91ab-2d7cd011db4"));  /* short */
    ck_assert(!kvs_cli_tenant_ok("72f988bf-86f1-41af-91ab2-d7cd011db47")); /* shifted */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("azure_cred");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_cli_tenant);
    suite_add_tcase(s, tc);
    return kvs_test_run_suite(s);
}
