/* Unit tests for store/store.c that need no server: the thread's guard (store_set_guard()),
 * which the leader's passes set to leader_valid() so that a replaced leader sends nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

static bool allow;
static int asked;

static bool guard(void)
{
    asked++;
    return allow;
}

/* A refusing guard: nothing is sent (not even a connection attempt: the code says so), every
 * statement but ROLLBACK. An allowing guard: the statement goes on (to a store that is not
 * there here: unavailable). */
static void test_guard(void **state)
{
    static const char sql[] = "SELECT 1";
    struct err e;
    PGresult *res;

    (void)state;
    store_init("host=/nonexistent-dbaas-test port=1 connect_timeout=1");
    store_set_guard(guard, 0);
    allow = false;
    res = store_exec(&e, sql, 0, NULL);
    assert_null(res);
    assert_int_equal(e.code, STORE_E_GUARD);
    assert_int_equal(asked, 1);
    res = store_exec_simple(&e, "COMMIT");
    assert_null(res);
    assert_int_equal(e.code, STORE_E_GUARD);
    /* ROLLBACK is never refused: it reaches for the store */
    res = store_exec_simple(&e, "ROLLBACK");
    assert_null(res);
    assert_int_equal(e.code, STORE_E_UNAVAILABLE);
    assert_int_equal(asked, 2);
    allow = true;
    res = store_exec(&e, sql, 0, NULL);
    assert_null(res);
    assert_int_equal(e.code, STORE_E_UNAVAILABLE);
    assert_int_equal(asked, 3);
    /* no guard: not asked */
    store_set_guard(NULL, 0);
    res = store_exec(&e, sql, 0, NULL);
    assert_null(res);
    assert_int_equal(e.code, STORE_E_UNAVAILABLE);
    assert_int_equal(asked, 3);
    store_shutdown();
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
