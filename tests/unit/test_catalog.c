/* Unit tests for lib/catalog: the one list of engines, versions, plan minimums, reserved user
 * names and verifiers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/catalog.h"

static void test_list(void **state)
{
    const struct catalog_engine *const *all = catalog_list();
    struct buf names = BUF_INIT;
    int n;

    (void)state;
    for (n = 0; all[n]; n++) {
        assert_ptr_equal(catalog_find(all[n]->name), all[n]);
        assert_true(catalog_known(all[n]->name));
        assert_true(all[n]->min_memory_mb > 0);
        assert_non_null(all[n]->server_name);
        assert_non_null(all[n]->server_program);
        assert_non_null(all[n]->default_os_user);
        assert_non_null(all[n]->verifier_new);
        assert_non_null(all[n]->verifier_ok);
        buf_printf(&names, "%s%s", n ? ", " : "", all[n]->name);
    }
    assert_int_equal(n, 3);
    /* The help-text macro names exactly the table, in order. */
    assert_string_equal(buf_str(&names), CATALOG_NAMES);
    buf_free(&names);
    assert_ptr_equal(catalog_find("postgres"), &catalog_postgres);
    assert_ptr_equal(catalog_find("mysql"), &catalog_mysql);
    assert_ptr_equal(catalog_find("redis"), &catalog_redis);
    assert_int_equal(catalog_postgres.min_memory_mb, 64);
    assert_int_equal(catalog_mysql.min_memory_mb, 128);
    assert_int_equal(catalog_redis.min_memory_mb, 32);
    assert_string_equal(catalog_mysql.server_program, "mariadbd");
}

static void test_unknown(void **state)
{
    (void)state;
    assert_null(catalog_find(NULL));
    assert_null(catalog_find(""));
    assert_null(catalog_find("Postgres"));
    assert_null(catalog_find("postgresql"));
    assert_null(catalog_find("mariadb"));
    assert_null(catalog_find("redis "));
    assert_false(catalog_known("mongodb"));
    assert_false(catalog_known(NULL));
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(catalog_version("postgres", NULL), "15");
    assert_string_equal(catalog_version("mysql", NULL), "10.11");
    assert_string_equal(catalog_version("redis", NULL), "7");
    assert_string_equal(catalog_version("postgres", "15"), "15");
    assert_string_equal(catalog_version("mysql", "10.11"), "10.11");
    assert_string_equal(catalog_version("redis", "7"), "7");

    assert_null(catalog_version("postgres", "16"));
    assert_null(catalog_version("postgres", "15.4"));
    assert_null(catalog_version("postgres", ""));
    assert_null(catalog_version("postgres", "10.11"));
    assert_null(catalog_version("mysql", "15"));
    assert_null(catalog_version("redis", "7.0"));
    assert_null(catalog_version("oracle", NULL));
    assert_null(catalog_version(NULL, NULL));
    assert_null(catalog_version(NULL, "15"));
}

static void test_check_plan(void **state)
{
    struct err e = {0};
    char min[32];

    (void)state;
    for (const struct catalog_engine *const *p = catalog_list(); *p; p++) {
        snprintf(min, sizeof(min), "minimum of %lld MB", (long long)(*p)->min_memory_mb);
        assert_int_equal(catalog_check_plan(*p, (*p)->min_memory_mb, &e), 0);
        assert_int_equal(catalog_check_plan(*p, (*p)->min_memory_mb + 1, &e), 0);
        err_clear(&e);
        assert_int_equal(catalog_check_plan(*p, (*p)->min_memory_mb - 1, &e), -1);
        assert_int_equal(e.code, CATALOG_E_PLAN);
        assert_string_equal(err_module(e.code), "lib");
        assert_non_null(strstr(e.msg, min));
        assert_non_null(strstr(e.msg, (*p)->name));
        assert_int_equal(catalog_check_plan(*p, 0, &e), -1);
    }
}

static void test_reserved(void **state)
{
    static const char *const reserved[] = {"root",       "postgres",    "mysql",
                                           "redis",      "default",     "replication",
                                           "dbaas_repl", "dbaas_admin", "pg_monitor"};
    const struct catalog_engine *const *p;

    (void)state;
    for (p = catalog_list(); *p; p++) {
        for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
            assert_true(catalog_user_reserved(*p, reserved[i]));
        assert_true(catalog_user_reserved(*p, (*p)->default_os_user));
        assert_false(catalog_user_reserved(*p, "app"));
        assert_false(catalog_user_reserved(*p, "rooted"));
    }
}

static void test_verifiers(void **state)
{
    (void)state;
    for (const struct catalog_engine *const *p = catalog_list(); *p; p++) {
        char *v = (*p)->verifier_new("correct-horse-battery");

        assert_non_null(v);
        assert_true((*p)->verifier_ok(v));
        /* A verifier of one engine is never taken by another. */
        for (const struct catalog_engine *const *q = catalog_list(); *q; q++)
            if (*q != *p)
                assert_false((*q)->verifier_ok(v));
        v[strlen(v) - 1] = '\'';
        assert_false((*p)->verifier_ok(v));
        free(v);
        assert_false((*p)->verifier_ok(""));
        assert_false((*p)->verifier_ok(NULL));
    }
    assert_false(catalog_postgres.verifier_ok("SCRAM-SHA-256$0:c2FsdA==$x:y"));
    assert_true(catalog_mysql.verifier_ok("*0123456789ABCDEF0123456789ABCDEF01234567"));
    assert_false(catalog_mysql.verifier_ok("*0123456789abcdef0123456789abcdef01234567"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),     cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_version),  cmocka_unit_test(test_check_plan),
        cmocka_unit_test(test_reserved), cmocka_unit_test(test_verifiers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
