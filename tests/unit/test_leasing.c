/* Unit tests for agent/leasing: when a heartbeat reply may clear the guard's fence of a member
 * and when a member that needs a lease may start. The guard fires FENCE_MARGIN_MS before the
 * lease's end and is never fed a deadline already past, so neither may happen in that last
 * margin: an engine started then would run unguarded after the lease's end (seen in CI: the
 * fence cleared, and the guard's marker removed, a few ms after the guard fired). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/fence.h"
#include "agent/leasing.h"
#include "agent/member.h"
#include "lib/clock.h"
#include "lib/hbproto.h"

/* A lease object as dbaasd's reply carries it: ttl 1000 ms, renew 300 ms. */
static json_t *lease_obj(void)
{
    return json_pack("{s:I, s:i, s:s, s:i, s:i}", HB_F_HOST_ID, (json_int_t)7, HB_F_PORT, 4000,
                     HB_F_KEY, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", HB_F_TTL_MS, 1000,
                     HB_F_RENEW_MS, 300);
}

struct rig {
    char dir[64];
    struct agent_config cfg;
    struct agent a;
    struct member m;
    json_t *lease, *desired;
};

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "/tmp/dbaas-test-leasing.XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    r->cfg.data_dir = r->dir;
    r->a.cfg = &r->cfg;
    r->a.guard_fd = -1;
    pthread_mutex_init(&r->a.lock, NULL);
    pthread_cond_init(&r->a.wake, NULL);
    pthread_cond_init(&r->a.report_wake, NULL);
    r->m.id = 1;
    r->m.state = HB_STOPPED;
    r->a.members = &r->m;
    r->lease = lease_obj();
    r->desired = json_pack("[{s:I}]", HB_F_ID, (json_int_t)1);
    /* configure the lease, then say what it was granted */
    leasing_reply(&r->a, r->lease, r->desired, 0);
    assert_int_equal(r->a.lease_mode, LEASING_ON);
}

static void rig_free(struct rig *r)
{
    char path[128];

    json_decref(r->lease);
    json_decref(r->desired);
    snprintf(path, sizeof(path), "%s/lease.json", r->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/fenced/1", r->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/fenced", r->dir);
    rmdir(path);
    rmdir(r->dir);
}

/* The lease runs until now + end_in, unbroken since now - since_ago; member 1 was fenced by
 * the guard fenced_ago ms ago (its marker written). */
static void set(struct rig *r, int64_t end_in, int64_t since_ago, int64_t fenced_ago)
{
    int64_t now = clock_now_ms();
    struct err e;

    r->a.lessee.grants = 1;
    r->a.lessee.end_ms = now + end_in;
    r->a.lessee.valid_since_ms = now - since_ago;
    r->m.guard_fenced = true;
    r->m.guard_fenced_at_ms = now - fenced_ago;
    assert_int_equal(fence_marker_write(r->dir, 1, r->m.guard_fenced_at_ms, &e), 0);
}

static bool marker(struct rig *r)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/fenced/1", r->dir);
    return access(path, F_OK) == 0;
}

static void test_fence_not_cleared_in_the_last_margin(void **state)
{
    struct rig r;
    int64_t now;

    (void)state;
    rig_init(&r);
    /* the guard fired 20 ms ago, the lease's end is 50 ms away (inside the margin): a reply to
     * a request sent after the fence does not clear it, and nothing may start */
    set(&r, FENCE_MARGIN_MS / 2, 5000, 20);
    now = clock_now_ms();
    assert_false(leasing_may_start(&r.a, now));
    leasing_reply(&r.a, r.lease, r.desired, now - 5);
    assert_true(r.m.guard_fenced);
    assert_true(marker(&r));

    /* a grant extends the lease well past the guard's deadline: the same reply clears it */
    r.a.lessee.end_ms = clock_now_ms() + 1000;
    now = clock_now_ms();
    assert_true(leasing_may_start(&r.a, now));
    leasing_reply(&r.a, r.lease, r.desired, now - 5);
    assert_false(r.m.guard_fenced);
    assert_false(marker(&r));
    rig_free(&r);
}

static void test_fence_cleared_only_by_a_reply_within_the_current_run(void **state)
{
    struct rig r;
    int64_t now;

    (void)state;
    rig_init(&r);
    /* the lease ran out after the fence and a new run began 10 ms ago: a reply to a request
     * sent before that run (500 ms ago) may have been computed before a promotion on the
     * expired lease; it does not clear the fence. (set() reads the clock itself, then writes
     * a file: the times leave room for a slow machine between the two reads.) */
    set(&r, 1000, 10, 1000);
    now = clock_now_ms();
    leasing_reply(&r.a, r.lease, r.desired, now - 500);
    assert_true(r.m.guard_fenced);
    assert_true(marker(&r));
    /* a request sent before the fence does not either */
    leasing_reply(&r.a, r.lease, r.desired, now - 2000);
    assert_true(r.m.guard_fenced);
    /* a request sent within the run does */
    leasing_reply(&r.a, r.lease, r.desired, clock_now_ms());
    assert_false(r.m.guard_fenced);
    assert_false(marker(&r));
    rig_free(&r);
}

static void test_no_lease_no_start(void **state)
{
    struct rig r;
    int64_t now;

    (void)state;
    rig_init(&r);
    now = clock_now_ms();
    assert_false(leasing_may_start(&r.a, now)); /* configured, never granted */
    r.a.lessee.grants = 1;
    r.a.lessee.end_ms = now + FENCE_MARGIN_MS + 50;
    assert_true(leasing_may_start(&r.a, now));
    assert_false(leasing_may_start(&r.a, now + 60));     /* the guard's deadline has passed */
    assert_int_equal(leasing_report(&r.a, now + 60), 1); /* the lease itself still holds */
    /* no lease handed out: members start without one */
    leasing_reply(&r.a, NULL, r.desired, now);
    assert_true(leasing_may_start(&r.a, now + 10000));
    rig_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fence_not_cleared_in_the_last_margin),
        cmocka_unit_test(test_fence_cleared_only_by_a_reply_within_the_current_run),
        cmocka_unit_test(test_no_lease_no_start),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
