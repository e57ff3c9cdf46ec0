/* Unit tests for lib/connuri: client URIs per engine (from the catalogue), percent-encoding,
 * IPv6 addresses, and URIs without a host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/connuri.h"

static const struct connuri_host two[] = {{"10.0.0.1", 20000}, {"10.0.0.2", 20001}};

static void expect_uri(const struct catalog_engine *ce, const char *user, const char *password,
                       const struct connuri_host *hosts, int n, enum connuri_target target,
                       const char *want)
{
    struct buf b = BUF_INIT;

    connuri_build(&b, ce, user, password, hosts, n, target);
    assert_string_equal(buf_str(&b), want);
    buf_free(&b);
}

static void test_postgres(void **state)
{
    (void)state;
    expect_uri(&catalog_postgres, "app", "pw", two, 2, CONNURI_READ_WRITE,
               "postgresql://app:pw@10.0.0.1:20000,10.0.0.2:20001/app"
               "?target_session_attrs=read-write");
    expect_uri(&catalog_postgres, "app", NULL, two, 2, CONNURI_PREFER_STANDBY,
               "postgresql://app@10.0.0.1:20000,10.0.0.2:20001/app"
               "?target_session_attrs=prefer-standby");
    expect_uri(&catalog_postgres, "app", NULL, two, 1, CONNURI_ANY,
               "postgresql://app@10.0.0.1:20000/app");
    /* not placed yet: no host */
    expect_uri(&catalog_postgres, "app", "pw", NULL, 0, CONNURI_READ_WRITE,
               "postgresql://app:pw@/app?target_session_attrs=read-write");
}

static void test_single_host_engines(void **state)
{
    (void)state;
    /* MariaDB and Redis clients take one host: the primary, and no option */
    expect_uri(&catalog_mysql, "app", "pw", two, 2, CONNURI_READ_WRITE,
               "mysql://app:pw@10.0.0.1:20000/app");
    expect_uri(&catalog_redis, "app", "pw", two, 2, CONNURI_READ_WRITE,
               "redis://app:pw@10.0.0.1:20000");
    expect_uri(&catalog_redis, NULL, NULL, two, 1, CONNURI_ANY, "redis://10.0.0.1:20000");
}

static void test_escaping(void **state)
{
    static const struct connuri_host v6[] = {{"fd00::1", 5432}, {"db.example", 5433}};
    struct buf b = BUF_INIT;

    (void)state;
    expect_uri(&catalog_postgres, "a b", "p@ss:w/rd%?#&=", v6, 2, CONNURI_READ_WRITE,
               "postgresql://a%20b:p%40ss%3Aw%2Frd%25%3F%23%26%3D@[fd00::1]:5432,db.example:5433"
               "/a%20b?target_session_attrs=read-write");
    connuri_escape(&b, "Az09-._~\xc3\xa9");
    assert_string_equal(buf_str(&b), "Az09-._~%C3%A9");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres),
        cmocka_unit_test(test_single_host_engines),
        cmocka_unit_test(test_escaping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
