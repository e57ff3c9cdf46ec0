/* Unit tests for lib/istate: names, parsing, the full transition table and the predicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/istate.h"

/* Written out independently of lib/istate.c, from the list in lib/istate.h and docs/states.md.
 * Row = from, column = to, in enum order:
 * pending provisioning running resizing failing_over degraded deleting deleted failed */
static const bool expected[IST__COUNT][IST__COUNT] = {
    /* pending */ {0, 1, 0, 0, 0, 0, 1, 0, 1},
    /* provisioning */ {0, 0, 1, 0, 0, 0, 1, 0, 1},
    /* running */ {0, 0, 0, 1, 1, 1, 1, 0, 1},
    /* resizing */ {0, 0, 1, 0, 0, 1, 1, 0, 1},
    /* failing_over */ {0, 0, 1, 0, 0, 1, 1, 0, 1},
    /* degraded */ {0, 0, 1, 1, 1, 0, 1, 0, 1},
    /* deleting */ {0, 0, 0, 0, 0, 0, 0, 1, 0},
    /* deleted */ {0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* failed */ {0, 1, 0, 0, 0, 0, 1, 0, 0},
};

static const char *const expected_names[IST__COUNT] = {
    "pending",  "provisioning", "running", "resizing", "failing_over",
    "degraded", "deleting",     "deleted", "failed",
};

static void test_names(void **state)
{
    enum istate s, parsed;
    int i;

    (void)state;
    for (i = 0; i < IST__COUNT; i++) {
        s = (enum istate)i;
        assert_non_null(istate_name(s));
        assert_string_equal(istate_name(s), expected_names[i]);
        parsed = IST__COUNT;
        assert_int_equal(istate_parse(expected_names[i], &parsed), 0);
        assert_int_equal(parsed, s);
    }
    assert_null(istate_name(IST__COUNT));
    assert_null(istate_name((enum istate)(-1)));
    assert_null(istate_name((enum istate)1000));
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",         "Running",      "RUNNING",     "running ", " running",    "run",
        "runningx", "failing-over", "failingover", "unknown",  "IST_RUNNING",
    };
    enum istate out = IST_DELETED;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(istate_parse(bad[i], &out), -1);
        assert_int_equal(out, IST_DELETED);
    }
    assert_int_equal(istate_parse(NULL, &out), -1);
    assert_int_equal(istate_parse("running", NULL), -1);
}

static void test_transition_table(void **state)
{
    int from, to;

    (void)state;
    for (from = 0; from < IST__COUNT; from++) {
        for (to = 0; to < IST__COUNT; to++) {
            bool got = istate_can_transition((enum istate)from, (enum istate)to);

            if (got != expected[from][to])
                fail_msg("%s -> %s: got %s, want %s", expected_names[from], expected_names[to],
                         got ? "allowed" : "refused", expected[from][to] ? "allowed" : "refused");
        }
    }
}

static void test_transition_properties(void **state)
{
    int s;

    (void)state;
    for (s = 0; s < IST__COUNT; s++) {
        /* staying put is not a transition */
        assert_false(istate_can_transition((enum istate)s, (enum istate)s));
        /* nothing leads back to pending */
        assert_false(istate_can_transition((enum istate)s, IST_PENDING));
        /* only deleting reaches deleted */
        assert_int_equal(istate_can_transition((enum istate)s, IST_DELETED), s == IST_DELETING);
        /* every state but deleting and deleted can start a delete */
        assert_int_equal(istate_can_transition((enum istate)s, IST_DELETING),
                         s != IST_DELETING && s != IST_DELETED);
        /* deleted is terminal */
        assert_false(istate_can_transition(IST_DELETED, (enum istate)s));
        /* out-of-range values allow nothing */
        assert_false(istate_can_transition((enum istate)s, IST__COUNT));
        assert_false(istate_can_transition(IST__COUNT, (enum istate)s));
        assert_false(istate_can_transition((enum istate)(-1), (enum istate)s));
    }
}

static void test_predicates(void **state)
{
    int s;

    (void)state;
    for (s = 0; s < IST__COUNT; s++) {
        enum istate st = (enum istate)s;

        assert_int_equal(istate_counts_against_quota(st), st != IST_DELETED);
        assert_int_equal(istate_can_resize(st),
                         st == IST_PENDING || st == IST_RUNNING || st == IST_DEGRADED);
        assert_int_equal(istate_can_delete(st), st != IST_DELETING && st != IST_DELETED);
        /* a client delete is allowed exactly when the machine has the transition */
        assert_int_equal(istate_can_delete(st), istate_can_transition(st, IST_DELETING));
    }
    assert_false(istate_counts_against_quota(IST__COUNT));
    assert_false(istate_can_resize(IST__COUNT));
    assert_false(istate_can_delete(IST__COUNT));
    assert_false(istate_can_delete((enum istate)(-1)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_transition_properties),
        cmocka_unit_test(test_predicates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
