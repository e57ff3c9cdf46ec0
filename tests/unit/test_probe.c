/* Unit tests for agent/probe: the health probes run each on its own thread, so that a hung
 * engine (a probe that takes far longer than its deadline, as a driver stuck in a connect
 * would) never delays another member's probe, and a member whose probe is still in flight is
 * skipped, not probed twice. The probe function is the test's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/member.h"
#include "agent/probe.h"
#include "lib/clock.h"

static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static int calls[4];

/* Member 1's engine hangs for 1.5 s; member 2's answers at once as a healthy replica; member
 * 3's does not answer. */
static int fake_probe(const char *engine, const struct engine_spec *spec, int timeout_ms,
                      struct engine_health *out, struct err *e)
{
    int port = spec->port;

    (void)engine;
    assert_int_equal(timeout_ms, 800);
    pthread_mutex_lock(&calls_lock);
    calls[port - 20000]++;
    pthread_mutex_unlock(&calls_lock);
    if (port == 20001) {
        clock_sleep_ms(1500);
        return err_set(e, ENGINE_E_UNAVAILABLE, "timeout");
    }
    if (port == 20003)
        return err_set(e, ENGINE_E_UNAVAILABLE, "connection refused");
    *out =
        (struct engine_health){true, ENGINE_ROLE_REPLICA, false, "0/3000060", 50331744, -1, 1, 0, 0.0};
    return 0;
}

static struct member *add(struct agent *a, int64_t id)
{
    struct member *m = calloc(1, sizeof(*m));

    m->id = id;
    m->state = HB_RUNNING;
    m->want_running = true;
    m->port = 20000 + (int)id;
    snprintf(m->engine, sizeof(m->engine), "postgres");
    snprintf(m->instance_id, sizeof(m->instance_id), "i1");
    m->next = a->members;
    a->members = m;
    return m;
}

static int helpers(struct agent *a)
{
    int n;

    pthread_mutex_lock(&a->lock);
    n = a->helpers;
    pthread_mutex_unlock(&a->lock);
    return n;
}

static void test_hung_probe_isolated(void **state)
{
    struct agent_config cfg;
    struct agent a;
    volatile sig_atomic_t stop = 0;
    struct member *m1, *m2, *m3;
    int64_t t0;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.data_dir = "/var/lib/dbaas";
    cfg.advertise = "127.0.0.1";
    memset(&a, 0, sizeof(a));
    a.cfg = &cfg;
    a.stopping = &stop;
    pthread_mutex_init(&a.lock, NULL);
    pthread_cond_init(&a.wake, NULL);
    pthread_cond_init(&a.report_wake, NULL);
    m1 = add(&a, 1);
    m2 = add(&a, 2);
    m3 = add(&a, 3);
    add(&a, 4)->state = HB_STARTING; /* not running: not probed */

    t0 = clock_now_ms();
    assert_int_equal(probe_round(&a, fake_probe, 800), 3);
    assert_true(clock_now_ms() - t0 < 200); /* the round itself does not wait */
    /* member 2's result arrives while member 1's probe hangs */
    while (helpers(&a) > 1 && clock_now_ms() - t0 < 1000)
        clock_sleep_ms(5);
    assert_true(clock_now_ms() - t0 < 1000);
    pthread_mutex_lock(&a.lock);
    assert_true(m2->health.done);
    assert_int_equal(m2->health.code, 0);
    assert_int_equal(m2->health.h.role, ENGINE_ROLE_REPLICA);
    assert_string_equal(m2->health.h.position, "0/3000060");
    assert_true(m3->health.done);
    assert_int_equal(m3->health.code, ENGINE_E_UNAVAILABLE);
    assert_string_equal(m3->health.error, "connection refused");
    assert_true(a.report_now); /* a first result is a change */
    assert_true(m1->health.in_flight);
    assert_false(m1->health.done);
    pthread_mutex_unlock(&a.lock);

    /* the next round skips member 1, still in flight, and probes the others again */
    assert_int_equal(probe_round(&a, fake_probe, 800), 2);
    while (helpers(&a) > 0 && clock_now_ms() - t0 < 5000)
        clock_sleep_ms(5);
    assert_int_equal(helpers(&a), 0);
    assert_int_equal(calls[1], 1);
    assert_int_equal(calls[2], 2);
    assert_int_equal(calls[3], 2);
    assert_int_equal(calls[0], 0);
    assert_true(m1->health.done);
    assert_int_equal(m1->health.code, ENGINE_E_UNAVAILABLE);
    assert_false(m1->health.in_flight);

    /* a member forgotten while its probe runs: the result is dropped, nothing breaks */
    assert_int_equal(probe_round(&a, fake_probe, 800), 3);
    pthread_mutex_lock(&a.lock);
    assert_ptr_equal(m2->next, m1); /* m1, added first, is last: forgotten */
    m2->next = NULL;
    pthread_mutex_unlock(&a.lock);
    while (helpers(&a) > 0 && clock_now_ms() - t0 < 8000)
        clock_sleep_ms(5);
    assert_int_equal(helpers(&a), 0);

    while (a.members) {
        struct member *m = a.members;
        a.members = m->next;
        member_free(m);
    }
    member_free(m1);
    pthread_cond_destroy(&a.wake);
    pthread_cond_destroy(&a.report_wake);
    pthread_mutex_destroy(&a.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hung_probe_isolated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
