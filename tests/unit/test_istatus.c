/* Unit tests for control/istatus: the instance status its members show, as one table of cases
 * written from docs/states.md, and properties over every combination of facts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/istatus.h"

#define PROBLEM "replica 13 on host \"h2\" is not connected to the primary"
#define ERRORS "initdb: could not create directory"
#define RESIZE_FAILED                                                                              \
    "resize failed: the primary (member 12) on host \"h1\": could not update cgroup: Device or "   \
    "resource busy"

struct decision {
    const char *what;
    enum istate from;
    struct istatus_facts f;
    enum istate to;
    const char *reason; /* expected; "KEEP" when the reason is left as it is */
};

/* facts: all_current, primary_running, primary_failed, pending_restart, failed_errors,
 * replica_problem, resize_failed */
static const struct decision cases[] = {
    {"provisioning, all up and healthy",
     IST_PROVISIONING,
     {true, true, false, false, NULL, NULL, NULL},
     IST_RUNNING,
     NULL},
    {"provisioning, all up, a replica not streaming: waits, saying why",
     IST_PROVISIONING,
     {true, true, false, false, NULL, PROBLEM, NULL},
     IST_PROVISIONING,
     PROBLEM},
    {"provisioning, still starting",
     IST_PROVISIONING,
     {false, false, false, false, NULL, NULL, NULL},
     IST_PROVISIONING,
     NULL},
    {"provisioning, the primary failed",
     IST_PROVISIONING,
     {false, false, true, false, ERRORS, NULL, NULL},
     IST_FAILED,
     ERRORS},
    {"provisioning, the primary failed without a message",
     IST_PROVISIONING,
     {false, false, true, false, NULL, NULL, NULL},
     IST_FAILED,
     "the primary failed to start"},
    {"running and healthy",
     IST_RUNNING,
     {true, true, false, false, NULL, NULL, NULL},
     IST_RUNNING,
     NULL},
    {"running, a restart pending",
     IST_RUNNING,
     {true, true, false, true, NULL, NULL, NULL},
     IST_RUNNING,
     "settings changed by the last resize apply at the next restart"},
    {"running, a replica broken",
     IST_RUNNING,
     {false, true, false, false, NULL, PROBLEM, NULL},
     IST_DEGRADED,
     PROBLEM},
    {"running, a replica lagging (all current)",
     IST_RUNNING,
     {true, true, false, false, NULL, PROBLEM, NULL},
     IST_DEGRADED,
     PROBLEM},
    {"running, the primary down: the failover is not decided here",
     IST_RUNNING,
     {false, false, false, false, NULL, PROBLEM, NULL},
     IST_RUNNING,
     NULL},
    {"running, an empty problem is no problem",
     IST_RUNNING,
     {true, true, false, false, NULL, "", NULL},
     IST_RUNNING,
     NULL},
    {"resizing, not applied yet",
     IST_RESIZING,
     {false, true, false, false, NULL, NULL, NULL},
     IST_RESIZING,
     NULL},
    {"resizing done, healthy",
     IST_RESIZING,
     {true, true, false, false, NULL, NULL, NULL},
     IST_RUNNING,
     NULL},
    {"resizing done, a replica broken",
     IST_RESIZING,
     {true, true, false, false, NULL, PROBLEM, NULL},
     IST_DEGRADED,
     PROBLEM},
    {"resizing, a member's resize failed: degraded, saying so",
     IST_RESIZING,
     {false, true, false, false, NULL, NULL, RESIZE_FAILED},
     IST_DEGRADED,
     RESIZE_FAILED},
    {"resizing, a resize failed and a replica broken: the failed resize is the reason",
     IST_RESIZING,
     {false, true, false, false, NULL, PROBLEM, RESIZE_FAILED},
     IST_DEGRADED,
     RESIZE_FAILED},
    {"resizing, an empty resize failure is none",
     IST_RESIZING,
     {false, true, false, false, NULL, NULL, ""},
     IST_RESIZING,
     NULL},
    {"degraded after a failed resize stays degraded, saying so",
     IST_DEGRADED,
     {false, true, false, false, NULL, NULL, RESIZE_FAILED},
     IST_DEGRADED,
     RESIZE_FAILED},
    {"degraded, recovered",
     IST_DEGRADED,
     {true, true, false, false, NULL, NULL, NULL},
     IST_RUNNING,
     NULL},
    {"degraded, still broken",
     IST_DEGRADED,
     {false, true, false, false, NULL, PROBLEM, NULL},
     IST_DEGRADED,
     PROBLEM},
    {"degraded, the primary down",
     IST_DEGRADED,
     {false, false, false, false, NULL, NULL, NULL},
     IST_DEGRADED,
     "the primary is not running"},
    {"degraded, a member behind its spec version",
     IST_DEGRADED,
     {false, true, false, false, NULL, NULL, NULL},
     IST_DEGRADED,
     "a member is not running at its spec version yet"},
    {"failed, every member back: a retry",
     IST_FAILED,
     {true, true, false, false, NULL, NULL, NULL},
     IST_PROVISIONING,
     NULL},
    {"failed stays failed with its reason",
     IST_FAILED,
     {false, false, true, false, ERRORS, NULL, NULL},
     IST_FAILED,
     "KEEP"},
    {"pending is the scheduler's",
     IST_PENDING,
     {true, true, false, false, NULL, NULL, NULL},
     IST_PENDING,
     "KEEP"},
    {"failing_over is the HA controller's",
     IST_FAILING_OVER,
     {true, true, false, false, NULL, NULL, NULL},
     IST_FAILING_OVER,
     "KEEP"},
    {"deleting is the deletion's",
     IST_DELETING,
     {true, true, false, false, NULL, PROBLEM, NULL},
     IST_DELETING,
     "KEEP"},
};

static void test_cases(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct decision *c = &cases[i];
        struct istatus_verdict v = istatus_decide(c->from, &c->f);

        print_message("%s\n", c->what);
        assert_int_equal(v.to, c->to);
        if (strcmp(c->reason ? c->reason : "", "KEEP") == 0) {
            assert_true(v.keep_reason);
            assert_null(v.reason);
        } else if (c->reason) {
            assert_false(v.keep_reason);
            assert_non_null(v.reason);
            assert_string_equal(v.reason, c->reason);
        } else {
            assert_false(v.keep_reason);
            assert_null(v.reason);
        }
    }
}

/* Over every state and every combination of facts: the verdict is a state the machine allows
 * (or the same one), an instance never becomes running with a broken replica, and degraded
 * always says why. */
static void test_properties(void **state)
{
    int s, bits;

    (void)state;
    for (s = 0; s < IST__COUNT; s++) {
        for (bits = 0; bits < 64; bits++) {
            struct istatus_facts f = {
                .all_current = bits & 1,
                .primary_running = bits & 2,
                .primary_failed = bits & 4,
                .pending_restart = bits & 8,
                .failed_errors = NULL,
                .replica_problem = bits & 16 ? PROBLEM : NULL,
                .resize_failed = bits & 32 ? RESIZE_FAILED : NULL,
            };
            struct istatus_verdict v = istatus_decide((enum istate)s, &f);

            assert_true(v.to == (enum istate)s || istate_can_transition((enum istate)s, v.to));
            if (v.to == IST_RUNNING && s != IST_RUNNING)
                assert_null(f.replica_problem);
            /* a failed resize never passes for a finished one */
            if (f.resize_failed && (s == IST_RESIZING || s == IST_DEGRADED))
                assert_true(v.to == IST_DEGRADED && strcmp(v.reason, RESIZE_FAILED) == 0);
            if (v.to == IST_DEGRADED)
                assert_non_null(v.reason);
            if (v.keep_reason)
                assert_null(v.reason);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_properties),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
