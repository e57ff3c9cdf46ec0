/* Unit tests for ha/failover: hand-made cases for every rule of ha/failover.h (detection, the
 * blip within the grace, the choice and its refusals, sync mode, fencing, the switchover's
 * catch-up and deadline, no flapping), then a property test with fixed seeds that compares
 * failover_choose() with a brute force written here from the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ha/failover.h"

#define NOW 1000000
#define MAXM 8

static struct failover_config cfg;

/* A healthy member on a ready host whose agent renewed its lease just now. */
static struct failover_member member(int64_t id, bool primary, int64_t position)
{
    struct failover_member m;

    memset(&m, 0, sizeof(m));
    m.id = id;
    m.primary = primary;
    m.lease_capable = true;
    m.last_renewal_ms = NOW - 100;
    m.host_ready = true;
    m.running = true;
    m.alive = FAILOVER_YES;
    m.has_position = true;
    m.position = position;
    m.has_lag = !primary;
    m.since_demoted_ms = -1;
    m.maybe_sync = !primary;
    return m;
}

struct fixture {
    struct failover_member m[MAXM];
    struct failover_instance inst;
};

/* A primary (id 1, position 1000) and n replicas (ids 2.., positions given). */
static void setup(struct fixture *f, int n, const int64_t *positions)
{
    int i;

    memset(f, 0, sizeof(*f));
    f->m[0] = member(1, true, 1000);
    for (i = 0; i < n; i++)
        f->m[i + 1] = member(i + 2, false, positions[i]);
    f->inst.sync = false;
    f->inst.max_lag_bytes = 16 << 20;
    f->inst.members = f->m;
    f->inst.n_members = n + 1;
}

static struct failover_flight idle(void)
{
    struct failover_flight fl = {.active = false, .since_abort_ms = -1};
    return fl;
}

static struct failover_flight flight(enum failover_kind kind, enum failover_state st, int64_t to,
                                     int64_t state_ms)
{
    struct failover_flight fl = {true, kind, st, 1, to, state_ms, -1};
    return fl;
}

static void test_config(void **state)
{
    struct failover_config c;
    struct err e;

    (void)state;
    failover_config_init(&c);
    assert_int_equal(c.renew_ms, 300);
    assert_int_equal(c.lease_ttl_ms, 1000);
    assert_int_equal(c.fence_margin_ms, 250);
    assert_int_equal(c.grace_ms, 10000);
    assert_int_equal(c.cooldown_ms, 60000);
    assert_int_equal(failover_config_check(&c, &e), 0);
    c.lease_ttl_ms = 599;
    assert_int_equal(failover_config_check(&c, &e), -1);
    assert_int_equal(e.code, FAILOVER_E_INVALID);
    assert_non_null(strstr(e.msg, "lease_ttl_ms must be at least twice renew_ms"));
    failover_config_init(&c);
    c.grace_ms = -1;
    assert_int_equal(failover_config_check(&c, &e), -1);
    assert_true(strncmp(e.msg, "grace_ms ", 9) == 0);
    failover_config_init(&c);
    c.renew_ms = 49;
    assert_int_equal(failover_config_check(&c, &e), -1);
    assert_true(strncmp(e.msg, "renew_ms ", 9) == 0);
}

static void test_state_names(void **state)
{
    enum failover_state s;
    int i;

    (void)state;
    for (i = 0; i < FAILOVER__STATES; i++) {
        assert_int_equal(failover_state_parse(failover_state_name(i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(failover_state_parse("nope", &s), -1);
    assert_int_equal(failover_state_parse(NULL, &s), -1);
    assert_null(failover_state_name(FAILOVER__STATES));
    assert_true(failover_in_flight(FAILOVER_DETECTED) && failover_in_flight(FAILOVER_FENCING) &&
                failover_in_flight(FAILOVER_PROMOTING));
    assert_false(failover_in_flight(FAILOVER_DONE) || failover_in_flight(FAILOVER_REFUSED) ||
                 failover_in_flight(FAILOVER_ABORTED));
}

static void test_lease_expiry(void **state)
{
    struct failover_member m = member(1, true, 0);

    (void)state;
    /* exactly ttl + margin is not expired; one ms more is */
    m.last_renewal_ms = NOW - 1250;
    assert_false(failover_lease_expired(&cfg, &m, NOW));
    m.last_renewal_ms = NOW - 1251;
    assert_true(failover_lease_expired(&cfg, &m, NOW));
    assert_false(failover_host_live(&cfg, &m, NOW));
    /* unknown renewal: never expired; an agent without leases: never expired, live when ready */
    m.last_renewal_ms = -1;
    assert_false(failover_lease_expired(&cfg, &m, NOW));
    m.last_renewal_ms = NOW - 999999;
    m.lease_capable = false;
    assert_false(failover_lease_expired(&cfg, &m, NOW));
    assert_true(failover_host_live(&cfg, &m, NOW));
    m.host_ready = false;
    assert_false(failover_host_live(&cfg, &m, NOW));
}

static void test_detect(void **state)
{
    const int64_t pos[] = {900};
    struct fixture f;
    char why[200];

    (void)state;
    setup(&f, 1, pos);
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_HEALTHY);
    assert_string_equal(why, "");
    /* lease expired */
    f.m[0].last_renewal_ms = NOW - 1300;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_LEASE);
    assert_non_null(strstr(why, "lease of the primary's host expired (no renewal for 1300 ms)"));
    /* engine down on a live host: a blip within the grace is nothing, past it a failure */
    f.m[0].last_renewal_ms = NOW - 10;
    f.m[0].running = false;
    f.m[0].unhealthy_ms = 2000;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_HEALTHY);
    f.m[0].unhealthy_ms = 2001;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_ENGINE);
    assert_non_null(strstr(why, "primary (member 1) was down for 2001 ms"));
    /* probes failing */
    f.m[0].running = true;
    f.m[0].alive = FAILOVER_NO;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_ENGINE);
    assert_non_null(strstr(why, "failed its health probes"));
    /* an unknown probe is no evidence */
    f.m[0].alive = FAILOVER_UNKNOWN;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_HEALTHY);
    /* down, but its host is not live and its agent has no lease: nobody could fence it */
    f.m[0].alive = FAILOVER_NO;
    f.m[0].lease_capable = false;
    f.m[0].host_ready = false;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_HEALTHY);
    f.m[0].host_ready = true;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_ENGINE);
    /* no replica: never a failover */
    f.inst.n_members = 1;
    assert_int_equal(failover_detect(&cfg, &f.inst, NOW, why, sizeof(why)), FAILOVER_HEALTHY);
}

static int64_t choose(struct fixture *f, char *why, size_t n)
{
    return failover_choose(&cfg, &f->inst, NOW, FAILOVER_AUTO, 0, false, why, n);
}

static void test_choose_best(void **state)
{
    const int64_t pos[] = {900, 950, 950, 940};
    struct fixture f;
    char why[400];

    (void)state;
    setup(&f, 4, pos);
    /* highest position; between equals the lower lag, then the lower id */
    f.m[2].lag_bytes = 10;
    f.m[3].lag_bytes = 10;
    assert_int_equal(choose(&f, why, sizeof(why)), 3);
    f.m[2].lag_bytes = 11;
    assert_int_equal(choose(&f, why, sizeof(why)), 4);
    f.m[3].has_lag = false; /* unknown lag ranks last */
    assert_int_equal(choose(&f, why, sizeof(why)), 3);
    /* each exclusion */
    f.m[2].last_renewal_ms = NOW - 2000;
    assert_int_equal(choose(&f, why, sizeof(why)), 4);
    f.m[3].alive = FAILOVER_NO;
    assert_int_equal(choose(&f, why, sizeof(why)), 5);
    f.m[4].seeding = true;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
    f.m[1].since_demoted_ms = 59999;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "no replica can be promoted: replica 2: it lost the primary role less"
                             " than failover_cooldown_ms ago; replica 3: its host's lease expired;"
                             " replica 4: its last probe did not answer; replica 5: it is being"
                             " seeded");
    f.m[1].since_demoted_ms = 60000;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
    f.m[1].running = false;
    f.m[4].seeding = false;
    f.m[4].fenced = true;
    f.m[3].alive = FAILOVER_UNKNOWN;
    f.m[2].last_renewal_ms = NOW;
    f.m[2].host_ready = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "replica 2: it is not running"));
    assert_non_null(strstr(why, "replica 3: its host is not ready"));
    assert_non_null(strstr(why, "replica 4: it has not been probed"));
    assert_non_null(strstr(why, "replica 5: it is fenced"));
    f.m[4].fenced = false;
    f.m[4].has_position = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "replica 5: its position is unknown"));
    /* no replica at all */
    f.inst.n_members = 1;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "no replica can be promoted: the instance has none");
}

static void test_choose_lag_bound(void **state)
{
    const int64_t pos[] = {900, 400};
    struct fixture f;
    char why[400];

    (void)state;
    setup(&f, 2, pos);
    f.inst.max_lag_bytes = 100;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
    f.inst.max_lag_bytes = 99;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "the most advanced replica (2) lags more than max_lag_bytes (99)"
                             " behind the primary's last known position");
    /* the primary's position unknown: no bound can be checked */
    f.m[0].has_position = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
    /* a switchover waits for the catch-up instead */
    f.m[0].has_position = true;
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 0, false, why, sizeof(why)), 2);
}

static void test_choose_sync(void **state)
{
    const int64_t pos[] = {900, 950, 800};
    struct fixture f;
    char why[400];

    (void)state;
    setup(&f, 3, pos);
    f.inst.sync = true;
    assert_int_equal(choose(&f, why, sizeof(why)), 3);
    /* a synchronous standby out of reach may hold an acknowledged write: refused */
    f.m[3].last_renewal_ms = NOW - 5000;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "replica 4 may hold acknowledged writes and cannot be reached");
    /* one that was not a synchronous standby does not matter */
    f.m[3].maybe_sync = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 3);
    /* one that cannot be promoted (cooldown) but is ahead of the best: refused */
    f.m[2].since_demoted_ms = 10;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "replica 3 may hold acknowledged writes and cannot be promoted");
    /* not ahead: the best of the others is safe */
    f.m[2].position = 900;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
    /* none was a synchronous standby */
    f.m[1].maybe_sync = f.m[2].maybe_sync = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 0);
    assert_string_equal(why, "sync mode and no replica was a synchronous standby");
    /* asynchronous mode ignores all of this */
    f.inst.sync = false;
    assert_int_equal(choose(&f, why, sizeof(why)), 2);
}

static void test_choose_target(void **state)
{
    const int64_t pos[] = {900, 950};
    struct fixture f;
    char why[400];

    (void)state;
    setup(&f, 2, pos);
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 2, false, why, sizeof(why)), 2);
    /* an explicit target is exempt from the cooldown, not from health */
    f.m[1].since_demoted_ms = 0;
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 2, false, why, sizeof(why)), 2);
    f.m[1].alive = FAILOVER_NO;
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 2, false, why, sizeof(why)), 0);
    assert_string_equal(why, "member 2 cannot be promoted: its last probe did not answer");
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 1, false, why, sizeof(why)), 0);
    assert_string_equal(why, "member 1 cannot be promoted: it is the primary");
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 99, false, why, sizeof(why)), 0);
    assert_string_equal(why, "member 99 cannot be promoted: it is not a member meant to run");
    /* draining hosts avoided when asked */
    f.m[1].alive = FAILOVER_YES;
    f.m[1].since_demoted_ms = -1;
    f.m[2].host_draining = true;
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 0, true, why, sizeof(why)), 2);
    f.m[1].host_draining = true;
    assert_int_equal(
        failover_choose(&cfg, &f.inst, NOW, FAILOVER_SWITCHOVER, 0, true, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "replica 3: its host is draining"));
}

static void test_fenced(void **state)
{
    struct failover_member p = member(1, true, 0);
    bool by_lease;

    (void)state;
    assert_false(failover_fenced(&cfg, &p, NOW, &by_lease));
    p.fenced = true;
    assert_true(failover_fenced(&cfg, &p, NOW, &by_lease));
    assert_false(by_lease);
    p.fenced = false;
    p.stopped = true;
    assert_true(failover_fenced(&cfg, &p, NOW, &by_lease));
    p.stopped = false;
    p.last_renewal_ms = NOW - 1251;
    assert_true(failover_fenced(&cfg, &p, NOW, &by_lease));
    assert_true(by_lease);
}

/* A whole automatic failover, step by step, as the loop applies it. */
static void test_failover_steps(void **state)
{
    const int64_t pos[] = {900, 950};
    struct failover_flight fl = idle();
    struct failover_step s;
    struct fixture f;

    (void)state;
    setup(&f, 2, pos);
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_NONE);
    /* the primary's engine down past the grace: start (fence asked) */
    f.m[0].running = false;
    f.m[0].unhealthy_ms = 2500;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_START);
    assert_non_null(strstr(s.reason, "was down for 2500 ms"));
    /* fencing: nothing until the agent confirms or the lease runs out */
    fl = flight(FAILOVER_AUTO, FAILOVER_FENCING, 0, 100);
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    f.m[0].fenced = true;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_FENCED);
    assert_false(s.lease_expired);
    f.m[0].fenced = false;
    f.m[0].last_renewal_ms = NOW - 1300;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_FENCED);
    assert_true(s.lease_expired);
    /* promoting: the best replica */
    fl.state = FAILOVER_PROMOTING;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 3);
    /* the candidates died meanwhile: refused (the old primary stays) */
    f.m[1].alive = f.m[2].alive = FAILOVER_NO;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_REFUSE);
    assert_non_null(strstr(s.reason, "no replica can be promoted"));
    /* the fence never confirmed: aborted at the step deadline */
    f.m[0].last_renewal_ms = NOW;
    fl = flight(FAILOVER_AUTO, FAILOVER_FENCING, 0, 30000);
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    fl.state_ms = 30001;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_ABORT);
    assert_string_equal(s.reason, "the primary was not fenced within step_timeout_ms (30000)");
    /* the primary changed under a flight: aborted */
    f.m[0].primary = false;
    f.m[1].primary = true;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_ABORT);
    assert_string_equal(s.reason, "the primary changed meanwhile");
}

/* After the fence, a failover waits for the replicas' final positions: a replica whose last
 * probe still saw its upstream may hold more than it reported. */
static void test_promote_on_final_positions(void **state)
{
    const int64_t pos[] = {900, 900, 500};
    struct failover_flight fl = flight(FAILOVER_AUTO, FAILOVER_PROMOTING, 0, 100);
    struct failover_step s;
    struct fixture f;

    (void)state;
    setup(&f, 3, pos);
    f.inst.sync = true;
    f.m[0].last_renewal_ms = NOW - 1300; /* fenced by its lease */
    f.m[1].upstream = FAILOVER_YES;      /* probed before the primary's end */
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_NONE);
    /* its probe after the end: it holds more than the other; it is chosen */
    f.m[1].upstream = FAILOVER_NO;
    f.m[1].position = 950;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 2);
    /* unknown (an agent that does not say) or not counted (down, seeding, its host's lease
     * gone): no wait */
    f.m[1].upstream = FAILOVER_UNKNOWN;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_PROMOTE);
    f.m[3].upstream = FAILOVER_YES;
    f.m[3].seeding = true;
    f.m[3].maybe_sync = false;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_PROMOTE);
    f.m[3].seeding = false;
    f.m[3].last_renewal_ms = NOW - 5000;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_PROMOTE);
    f.m[3].maybe_sync = true; /* sync mode's own rule: out of reach, may hold a write */
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_REFUSE);
    f.m[3].last_renewal_ms = NOW - 100;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    /* a primary fenced by its agent, with its final position: a replica there has it all */
    f.m[0].last_renewal_ms = NOW - 100;
    f.m[0].fenced = true;
    f.m[0].position = 500;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 2);
    f.m[0].position = 1000;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    /* the wait ends FAILOVER_SETTLE_MS after the fence: what is known decides (by then the
     * positions come from probes taken after the fence; probes run every second) */
    fl.state_ms = FAILOVER_SETTLE_MS;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 2);
    f.m[3].position = 960;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 4);
}

/* Detected but nothing to promote: a refusal, and no flight. */
static void test_refusal_and_cooldown(void **state)
{
    const int64_t pos[] = {100};
    struct failover_flight fl = idle();
    struct failover_step s;
    struct fixture f;

    (void)state;
    setup(&f, 1, pos);
    f.inst.max_lag_bytes = 10;
    f.m[0].last_renewal_ms = NOW - 2000;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_REFUSE);
    assert_non_null(strstr(s.reason, "lags more than max_lag_bytes (10)"));
    /* after an aborted one of this primary: nothing within the cooldown */
    f.inst.max_lag_bytes = 1000;
    fl.since_abort_ms = 59999;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    fl.since_abort_ms = 60000;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_START);
}

static void test_switchover_steps(void **state)
{
    const int64_t pos[] = {900, 950};
    struct failover_flight fl = flight(FAILOVER_SWITCHOVER, FAILOVER_DETECTED, 0, 0);
    struct failover_step s;
    struct fixture f;

    (void)state;
    setup(&f, 2, pos);
    /* no target given: the best; fence asked */
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_FENCE);
    assert_int_equal(s.target, 3);
    /* a given target */
    fl.to = 2;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_FENCE);
    assert_int_equal(s.target, 2);
    /* fenced: wait for the target to reach the primary's final position */
    fl.state = FAILOVER_FENCING;
    f.m[0].fenced = true;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_FENCED);
    fl.state = FAILOVER_PROMOTING;
    fl.state_ms = 10;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    f.m[1].position = 1000;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_PROMOTE);
    assert_int_equal(s.target, 2);
    /* the primary's final position unknown: wait, then abort at the deadline */
    f.m[0].has_position = false;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    fl.state_ms = 30001;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_ABORT);
    assert_non_null(strstr(s.reason, "replica 2 did not reach the primary's final position"));
    /* the target died: aborted at once */
    fl.state_ms = 0;
    f.m[1].running = false;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_ABORT);
    assert_string_equal(s.reason, "member 2 cannot be promoted: it is not running");
    /* detected with no candidate: refused */
    fl = flight(FAILOVER_SWITCHOVER, FAILOVER_DETECTED, 0, 0);
    f.m[2].running = false;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_REFUSE);
}

static void test_drain(void **state)
{
    const int64_t pos[] = {900, 950};
    struct failover_flight fl = idle();
    struct failover_step s;
    struct fixture f;

    (void)state;
    setup(&f, 2, pos);
    f.m[0].host_draining = true;
    s = failover_decide(&cfg, &f.inst, &fl, NOW);
    assert_int_equal(s.op, FAILOVER_OP_DRAIN);
    assert_string_equal(s.reason, "the primary's host is draining");
    /* every replica also on a draining host: wait (a replacement will come) */
    f.m[1].host_draining = f.m[2].host_draining = true;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    /* no replica: nothing */
    f.inst.n_members = 1;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
    /* after an aborted switchover: not again within the cooldown */
    f.inst.n_members = 3;
    f.m[1].host_draining = false;
    fl.since_abort_ms = 100;
    assert_int_equal(failover_decide(&cfg, &f.inst, &fl, NOW).op, FAILOVER_OP_NONE);
}

/* ---- property test: failover_choose against a brute force from the rules ---- */

static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int rnd(uint64_t *s, int n)
{
    return (int)(rnd_next(s) % (uint64_t)n);
}

static bool brute_eligible(const struct failover_member *m)
{
    bool expired = m->lease_capable && m->last_renewal_ms >= 0 &&
                   NOW - m->last_renewal_ms > cfg.lease_ttl_ms + cfg.fence_margin_ms;
    bool cooling = m->since_demoted_ms >= 0 && m->since_demoted_ms < cfg.cooldown_ms;

    return !m->primary && !expired && m->host_ready && !m->seeding && m->running &&
           m->alive == FAILOVER_YES && !m->fenced && m->has_position && !cooling;
}

/* Every eligible replica that no other eligible one beats, by brute force. */
static int64_t brute_choose(const struct failover_instance *inst)
{
    const struct failover_member *p = NULL, *best = NULL;
    int i, j;

    for (i = 0; i < inst->n_members; i++)
        if (inst->members[i].primary)
            p = &inst->members[i];
    for (i = 0; i < inst->n_members; i++) {
        const struct failover_member *a = &inst->members[i];
        bool beaten = false;
        if (!brute_eligible(a))
            continue;
        for (j = 0; j < inst->n_members && !beaten; j++) {
            const struct failover_member *b = &inst->members[j];
            int64_t la = a->has_lag ? a->lag_bytes : INT64_MAX;
            int64_t lb = b->has_lag ? b->lag_bytes : INT64_MAX;
            if (j == i || !brute_eligible(b))
                continue;
            beaten = b->position > a->position || (b->position == a->position && lb < la) ||
                     (b->position == a->position && lb == la && b->id < a->id);
        }
        if (!beaten)
            best = a;
    }
    if (!best)
        return 0;
    if (inst->sync) {
        bool any = false;
        for (i = 0; i < inst->n_members; i++) {
            const struct failover_member *r = &inst->members[i];
            bool expired = r->lease_capable && r->last_renewal_ms >= 0 &&
                           NOW - r->last_renewal_ms > cfg.lease_ttl_ms + cfg.fence_margin_ms;
            bool live = r->lease_capable ? !expired : r->host_ready;
            if (r->primary || !r->maybe_sync)
                continue;
            any = true;
            if (!live || !r->host_ready || !r->running || r->alive != FAILOVER_YES ||
                !r->has_position || r->position > best->position)
                return 0;
        }
        if (!any)
            return 0;
    }
    if (p && p->has_position && p->position - best->position > inst->max_lag_bytes)
        return 0;
    return best->id;
}

static void test_choose_properties(void **state)
{
    uint64_t seed = 20261201;
    int round, i, agreed = 0, promoted = 0;

    (void)state;
    for (round = 0; round < 200000; round++) {
        struct fixture f;
        int64_t pos[MAXM], got, want;
        char why[400];
        int n = 1 + rnd(&seed, 6);

        for (i = 0; i < n; i++)
            pos[i] = 1000 - rnd(&seed, 4) * 10;
        setup(&f, n, pos);
        f.inst.sync = rnd(&seed, 3) == 0;
        f.inst.max_lag_bytes = rnd(&seed, 4) * 10;
        f.m[0].has_position = rnd(&seed, 4) != 0;
        for (i = 1; i <= n; i++) {
            struct failover_member *m = &f.m[i];
            m->lease_capable = rnd(&seed, 5) != 0;
            m->last_renewal_ms = rnd(&seed, 6) == 0 ? NOW - 2000 : NOW - rnd(&seed, 1200);
            m->host_ready = rnd(&seed, 8) != 0;
            m->seeding = rnd(&seed, 10) == 0;
            m->running = rnd(&seed, 8) != 0;
            m->alive = rnd(&seed, 8) == 0 ? (enum failover_tri)(rnd(&seed, 2) - 1) : FAILOVER_YES;
            m->fenced = rnd(&seed, 15) == 0;
            m->has_position = rnd(&seed, 10) != 0;
            m->has_lag = rnd(&seed, 4) != 0;
            m->lag_bytes = rnd(&seed, 3);
            m->since_demoted_ms = rnd(&seed, 6) == 0 ? rnd(&seed, 2) * 70000 : -1;
            m->maybe_sync = rnd(&seed, 3) != 0;
        }
        got = choose(&f, why, sizeof(why));
        want = brute_choose(&f.inst);
        if (got != want)
            fail_msg("round %d: failover_choose %lld, brute force %lld (%s)", round, (long long)got,
                     (long long)want, why);
        agreed++;
        promoted += got != 0;
        if (got == 0)
            assert_true(why[0] != '\0');
    }
    /* the generator exercises both outcomes */
    assert_true(promoted > 10000 && agreed - promoted > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_lease_expiry),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_choose_best),
        cmocka_unit_test(test_choose_lag_bound),
        cmocka_unit_test(test_choose_sync),
        cmocka_unit_test(test_choose_target),
        cmocka_unit_test(test_fenced),
        cmocka_unit_test(test_failover_steps),
        cmocka_unit_test(test_promote_on_final_positions),
        cmocka_unit_test(test_refusal_and_cooldown),
        cmocka_unit_test(test_switchover_steps),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_choose_properties),
    };

    failover_config_init(&cfg);
    cfg.grace_ms = 2000; /* the cases below were written for a 2 s grace */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
