/* Unit tests for lib/osuser: looking up root, nobody and a missing user, and their groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/osuser.h"

static void test_root(void **state)
{
    struct osuser u;
    struct err e = {0};
    gid_t *groups = NULL;
    int n = 0;
    bool has_root = false;

    (void)state;
    assert_int_equal(osuser_lookup("root", &u, &e), 0);
    assert_string_equal(u.name, "root");
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, getpwnam("root")->pw_dir);
    assert_int_equal(osuser_groups(&u, &groups, &n, &e), 0);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++)
        has_root = has_root || groups[i] == 0;
    assert_true(has_root);
    free(groups);
}

/* An unprivileged user, as the engines and the embedded store run. */
static void test_nobody(void **state)
{
    const struct passwd *pw = getpwnam("nobody");
    struct osuser u;
    struct err e = {0};
    gid_t *groups = NULL;
    int n = 0;

    (void)state;
    if (!pw)
        skip();
    assert_int_equal(osuser_lookup("nobody", &u, &e), 0);
    assert_int_equal(u.uid, pw->pw_uid);
    assert_int_equal(u.gid, pw->pw_gid);
    assert_string_equal(u.home, pw->pw_dir[0] ? pw->pw_dir : "/");
    assert_int_equal(osuser_groups(&u, &groups, &n, &e), 0);
    assert_true(n >= 1);
    assert_int_equal(groups[0], pw->pw_gid);
    free(groups);
}

static void test_missing(void **state)
{
    struct osuser u;
    struct err e = {0};

    (void)state;
    memset(&u, 0x55, sizeof(u));
    assert_int_equal(osuser_lookup("no-such-user-here", &u, &e), -1);
    assert_int_equal(e.code, LIB_E_NOENT);
    assert_string_equal(e.msg, "user \"no-such-user-here\" does not exist");
    assert_int_equal(u.uid, 0);
    assert_string_equal(u.name, "");

    assert_int_equal(osuser_lookup("", &u, &e), -1);
    assert_int_equal(e.code, LIB_E_INVALID);
    assert_int_equal(osuser_lookup(NULL, &u, &e), -1);
    assert_int_equal(e.code, LIB_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_nobody),
        cmocka_unit_test(test_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
