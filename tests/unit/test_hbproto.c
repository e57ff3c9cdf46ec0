/* Unit tests for lib/hbproto: the heartbeat's state names, written out here independently of
 * lib/hbproto.c from docs/agent.md, and their parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/hbproto.h"

static const char *const expected_states[HB__COUNT] = {
    "pending", "starting", "running", "failed", "stopped", "deleted",
};

static void test_state_names(void **state)
{
    enum hb_state s;
    int i;

    (void)state;
    for (i = 0; i < HB__COUNT; i++) {
        assert_string_equal(hb_state_name((enum hb_state)i), expected_states[i]);
        assert_int_equal(hb_state_parse(expected_states[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(hb_state_name(HB_RUNNING), HB_STATE_RUNNING);
    assert_string_equal(hb_state_name(HB_DELETED), HB_STATE_DELETED);
}

static void test_state_unknown(void **state)
{
    enum hb_state s = HB_RUNNING;

    (void)state;
    assert_null(hb_state_name(HB__COUNT));
    assert_null(hb_state_name((enum hb_state) - 1));
    assert_int_equal(hb_state_parse("Running", &s), -1);
    assert_int_equal(hb_state_parse("", &s), -1);
    assert_int_equal(hb_state_parse("provisioning", &s), -1);
    assert_int_equal(hb_state_parse(NULL, &s), -1);
    assert_int_equal(s, HB_RUNNING); /* untouched on failure */
}

static void test_desired(void **state)
{
    enum hb_desired d;

    (void)state;
    assert_string_equal(hb_desired_name(HB_WANT_RUNNING), "running");
    assert_string_equal(hb_desired_name(HB_WANT_DELETED), "deleted");
    assert_null(hb_desired_name(HB_WANT__COUNT));
    assert_int_equal(hb_desired_parse("running", &d), 0);
    assert_int_equal(d, HB_WANT_RUNNING);
    assert_int_equal(hb_desired_parse("deleted", &d), 0);
    assert_int_equal(d, HB_WANT_DELETED);
    assert_int_equal(hb_desired_parse("stopped", &d), -1);
    assert_int_equal(hb_desired_parse(NULL, &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_state_unknown),
        cmocka_unit_test(test_desired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
