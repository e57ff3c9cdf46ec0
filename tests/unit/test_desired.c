/* Unit tests for agent/desired: the reconcile decision of dbaas-agent. Each case gives the
 * members the agent knows and a heartbeat reply's desired members, and checks the steps.
 * A member missing from a reply is kept (only desired "deleted" deletes), a reply older than
 * the newest applied is ignored (by its generation), and a malformed entry changes nothing.
 * test_matches_reference checks the decision against a plain reconcile loop with the same
 * rules, on random inputs. The desired members' replication fields (agent/member.c) are
 * parsed here too, and their secret never reaches a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/desired.h"
#include "agent/member.h"
#include "lib/fileio.h"
#include "lib/hbproto.h"
#include "lib/log.h"

/* ---- cases as tables; every table ends with END ---- */

struct m_in { /* a member the agent knows */
    int64_t id;
    enum hb_state state;
    int spec_version, applied_version;
    bool busy;
};

enum e_shape {
    E_ENTRY,
    E_MALFORMED /* without engine */,
    E_NOT_OBJECT,
    E_NO_LIMIT /* without limits.write_bps */,
    E_ZERO_MEMORY /* limits.memory_mb 0 */
};

struct e_in { /* a desired entry of the reply */
    int64_t id;
    const char *desired;
    int spec_version;
    enum e_shape shape;
};

struct step_out { /* an expected step */
    int64_t id;
    enum desired_action action;
    bool spec_changed;
};

/* clang-format off */
#define M(id, state, spec, applied) {id, state, spec, applied, false}
#define M_BUSY(id, state, spec, applied) {id, state, spec, applied, true}
#define E(id, desired, spec) {id, desired, spec, E_ENTRY}
#define END {.id = -1}
/* clang-format on */

/* A desired entry as dbaasd sends it (docs/agent.md); its limits grow with spec_version. */
static json_t *entry(int64_t id, const char *desired, int spec_version)
{
    return json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
        "s:{s:s,s:s}}",
        HB_F_ID, (json_int_t)id, HB_F_INSTANCE_ID, "6f1c0000-0000-4000-8000-000000000001",
        HB_F_INSTANCE, "db1", HB_F_ENGINE, "postgres", HB_F_VERSION, "15", HB_F_ROLE, "primary",
        HB_F_PORT, 20000 + (int)id, HB_F_DESIRED, desired, HB_F_SPEC_VERSION, spec_version,
        HB_F_LIMITS, HB_F_CPU_MILLIS, (json_int_t)(500 * spec_version), HB_F_MEMORY_MB,
        (json_int_t)512, HB_F_DISK_MB, (json_int_t)1024, HB_F_READ_IOPS, (json_int_t)0,
        HB_F_WRITE_IOPS, (json_int_t)0, HB_F_READ_BPS, (json_int_t)0, HB_F_WRITE_BPS, (json_int_t)0,
        HB_F_CREDENTIALS, HB_F_USERNAME, "app", HB_F_VERIFIER, "SCRAM-SHA-256$4096:x");
}

static json_t *make_reply(const struct e_in *es)
{
    json_t *reply = json_array();

    for (; es->id != -1; es++) {
        json_t *d = entry(es->id, es->desired, es->spec_version);
        if (es->shape == E_MALFORMED)
            json_object_del(d, HB_F_ENGINE);
        if (es->shape == E_NO_LIMIT)
            json_object_del(json_object_get(d, HB_F_LIMITS), HB_F_WRITE_BPS);
        if (es->shape == E_ZERO_MEMORY)
            json_object_set_new(json_object_get(d, HB_F_LIMITS), HB_F_MEMORY_MB, json_integer(0));
        if (es->shape == E_NOT_OBJECT) {
            json_decref(d);
            d = json_string("not a member");
        }
        json_array_append_new(reply, d);
    }
    return reply;
}

/* A member made from its desired entry, then observed as mi says; appended to *list. */
static struct member *add_member(struct member **list, const struct m_in *mi)
{
    json_t *d = entry(mi->id, HB_DESIRED_RUNNING, mi->spec_version);
    struct err e;
    struct member *m = member_from_desired(d, &e), **tail;

    assert_non_null(m);
    json_decref(d);
    m->state = mi->state;
    m->applied_version = mi->applied_version;
    m->provisioned = mi->state != HB_PENDING;
    m->busy = mi->busy;
    for (tail = list; *tail; tail = &(*tail)->next)
        ;
    *tail = m;
    return m;
}

static struct member *make_members(const struct m_in *ms)
{
    struct member *list = NULL;

    for (; ms->id != -1; ms++)
        add_member(&list, ms);
    return list;
}

static void free_members(struct member *list)
{
    while (list) {
        struct member *next = list->next;
        member_free(list);
        list = next;
    }
}

/* Plan and compare with want. */
static void expect_plan(const struct member *list, const json_t *reply, const struct step_out *want)
{
    struct desired_step *steps;
    size_t n = desired_plan(list, reply, &steps), i;

    assert_non_null(steps);
    for (i = 0; want[i].id != -1; i++) {
        if (i >= n)
            fail_msg("step %zu (%s of member %lld) is missing", i,
                     desired_action_name(want[i].action), (long long)want[i].id);
        if (steps[i].action != want[i].action || steps[i].id != want[i].id ||
            steps[i].spec_changed != want[i].spec_changed)
            fail_msg("step %zu: expected %s of member %lld (spec_changed %d), got %s of member "
                     "%lld (spec_changed %d)",
                     i, desired_action_name(want[i].action), (long long)want[i].id,
                     want[i].spec_changed, desired_action_name(steps[i].action),
                     (long long)steps[i].id, steps[i].spec_changed);
        /* a listed member's step points at its entry; an unlisted member's at none */
        if (steps[i].entry)
            assert_int_equal(json_integer_value(json_object_get(steps[i].entry, HB_F_ID)),
                             steps[i].id);
        else
            assert_true(steps[i].action == DESIRED_UNLISTED || steps[i].action == DESIRED_FORGET);
    }
    assert_int_equal(n, i);
    free(steps);
}

static void check(const struct m_in *ms, const struct e_in *es, const struct step_out *want)
{
    struct member *list = make_members(ms);
    json_t *reply = make_reply(es);

    expect_plan(list, reply, want);
    json_decref(reply);
    free_members(list);
}

/* ---- applying steps to the test's members, as agent/heartbeat.c does ---- */

enum effect_kind { FX_SAVE, FX_PROVISION, FX_RESIZE, FX_DELETE, FX_FORGET };

struct effects {
    struct {
        enum effect_kind kind;
        int64_t id;
    } fx[256];
    size_t n;
};

/* Record an effect on m; starting work makes m busy, as jobs_spawn() does. */
static void record(struct effects *out, enum effect_kind kind, struct member *m)
{
    assert_true(out->n < sizeof(out->fx) / sizeof(out->fx[0]));
    out->fx[out->n].kind = kind;
    out->fx[out->n++].id = m->id;
    if (kind != FX_SAVE && kind != FX_FORGET)
        m->busy = true;
}

/* Apply steps, recording their effects in out. With finish, every worker started completes
 * at once and succeeds: engines run at their spec, deletes are done. */
static void apply_steps(struct member **list, const struct desired_step *steps, size_t n,
                        struct effects *out, bool finish)
{
    static const enum effect_kind work[] = {
        [DESIRED_CREATE] = FX_PROVISION,    [DESIRED_CLEANUP] = FX_DELETE,
        [DESIRED_PROVISION] = FX_PROVISION, [DESIRED_RESIZE] = FX_RESIZE,
        [DESIRED_DELETE] = FX_DELETE,
    };

    for (size_t i = 0; i < n; i++) {
        const struct desired_step *st = &steps[i];
        struct member *m, **pp;
        struct err e;

        for (pp = list; *pp && (*pp)->id != st->id; pp = &(*pp)->next)
            ;
        m = *pp;
        switch (st->action) {
        case DESIRED_MALFORMED:
        case DESIRED_UNLISTED:
            continue;
        case DESIRED_CREATE:
        case DESIRED_CLEANUP:
            m = member_from_desired(st->entry, &e);
            assert_non_null(m);
            m->next = *list;
            *list = m;
            record(out, FX_SAVE, m);
            break;
        case DESIRED_FORGET:
            *pp = m->next;
            record(out, FX_FORGET, m);
            member_free(m);
            continue;
        default:
            assert_non_null(m);
            member_update_desired(m, st->entry);
            if (st->spec_changed)
                record(out, FX_SAVE, m);
            break;
        }
        if (st->action == DESIRED_KEEP)
            continue;
        record(out, work[st->action], m);
        if (finish) {
            m->busy = false;
            m->state = work[st->action] == FX_DELETE ? HB_DELETED : HB_RUNNING;
            m->applied_version = m->state == HB_RUNNING ? m->spec_version : m->applied_version;
        }
    }
}

static void plan_and_apply(struct member **list, const json_t *reply, struct effects *out,
                           bool finish)
{
    struct desired_step *steps;
    size_t n = desired_plan(*list, reply, &steps);

    apply_steps(list, steps, n, out, finish);
    free(steps);
}

/* ---- cases ---- */

/* A case: the members the agent knows, a reply, and the steps expected (each ends with END). */
struct scenario {
    const char *name;
    struct m_in members[6];
    struct e_in reply[6];
    struct step_out want[8];
};

static const struct scenario scenarios[] = {
    {"empty", {END}, {END}, {END}},
    /* Members the agent does not know yet: created and provisioned, or (desired deleted)
     * recorded so that whatever a crash left of them is removed; a malformed entry is
     * skipped. */
    {"added",
     {END},
     {E(1, HB_DESIRED_RUNNING, 1),
      E(2, HB_DESIRED_DELETED, 1),
      {3, HB_DESIRED_RUNNING, 1, E_MALFORMED},
      {4, HB_DESIRED_RUNNING, 1, E_NOT_OBJECT},
      END},
     {{1, DESIRED_CREATE, false},
      {2, DESIRED_CLEANUP, false},
      {3, DESIRED_MALFORMED, false},
      {0, DESIRED_MALFORMED, false}, /* no id to read */
      END}},
    /* A reply that matches what runs asks for nothing; a member still pending (its
     * provisioning did not start, say) is provisioned. A failed create stays failed, and a
     * member down and waiting for its restart is left to supervision. */
    {"unchanged",
     {M(1, HB_RUNNING, 3, 3), M(2, HB_PENDING, 1, 0), M(3, HB_FAILED, 1, 0),
      M(4, HB_STARTING, 2, 2), END},
     {E(1, HB_DESIRED_RUNNING, 3), E(2, HB_DESIRED_RUNNING, 1), E(3, HB_DESIRED_RUNNING, 1),
      E(4, HB_DESIRED_RUNNING, 2), END},
     {{1, DESIRED_KEEP, false},
      {2, DESIRED_PROVISION, false},
      {3, DESIRED_KEEP, false},
      {4, DESIRED_KEEP, false},
      END}},
    /* New limits come with a higher spec_version: a running member is resized; a resize
     * still to do (applied_version behind, no failure recorded) is done. A member that a
     * worker owns or that is down takes the new spec without work of its own (spec_changed:
     * its record is saved); its restart starts it with the new limits. */
    {"changed_limits",
     {M(1, HB_RUNNING, 3, 3), M(2, HB_RUNNING, 4, 3), M_BUSY(3, HB_RUNNING, 3, 3),
      M(4, HB_STARTING, 3, 3), END},
     {E(1, HB_DESIRED_RUNNING, 4), E(2, HB_DESIRED_RUNNING, 4), E(3, HB_DESIRED_RUNNING, 4),
      E(4, HB_DESIRED_RUNNING, 4), END},
     {{1, DESIRED_RESIZE, true},
      {2, DESIRED_RESIZE, false},
      {3, DESIRED_KEEP, true},
      {4, DESIRED_KEEP, true},
      END}},
    /* desired "deleted": a member not gone yet is deleted (also a pending or failed one, and
     * whatever its spec_version); one already deleted or owned by a worker is left alone
     * (dbaasd keeps listing it until the agent reports it deleted). */
    {"deleted",
     {M(1, HB_RUNNING, 3, 3), M(2, HB_PENDING, 1, 0), M(3, HB_DELETED, 1, 1),
      M_BUSY(4, HB_RUNNING, 1, 1), M(5, HB_FAILED, 1, 0), END},
     {E(1, HB_DESIRED_DELETED, 4), E(2, HB_DESIRED_DELETED, 1), E(3, HB_DESIRED_DELETED, 1),
      E(4, HB_DESIRED_DELETED, 1), E(5, HB_DESIRED_DELETED, 1), END},
     {{1, DESIRED_DELETE, true},
      {2, DESIRED_DELETE, false},
      {3, DESIRED_KEEP, false},
      {4, DESIRED_KEEP, false},
      {5, DESIRED_DELETE, false},
      END}},
    /* A member the reply does not list: a deleted one is forgotten (its record removed); any
     * other is kept as it is, even a running one (a reply that misses a member must not
     * delete data: only an explicit desired "deleted" does); one that a worker owns is left
     * for a later reply. These steps come after the listed entries', in list order. An entry
     * that names the member, even a malformed one, counts as listing it; a malformed entry
     * changes nothing (a missing limit must never become "unlimited"). */
    {"missing_from_reply",
     {M(1, HB_RUNNING, 1, 1), M(2, HB_DELETED, 1, 1), M_BUSY(3, HB_RUNNING, 1, 1),
      M(4, HB_FAILED, 1, 0), M(5, HB_RUNNING, 1, 1), END},
     {E(9, HB_DESIRED_RUNNING, 1), {5, HB_DESIRED_RUNNING, 1, E_MALFORMED}, END},
     {{9, DESIRED_CREATE, false},
      {5, DESIRED_MALFORMED, false},
      {1, DESIRED_UNLISTED, false},
      {2, DESIRED_FORGET, false},
      {4, DESIRED_UNLISTED, false},
      END}},
    /* An entry without a limit, or with a zero memory limit: malformed, whether the member is
     * known or new (never started or resized to "unlimited"). */
    {"missing_limit",
     {M(1, HB_RUNNING, 1, 1), END},
     {{1, HB_DESIRED_RUNNING, 2, E_NO_LIMIT}, {2, HB_DESIRED_RUNNING, 1, E_ZERO_MEMORY}, END},
     {{1, DESIRED_MALFORMED, false}, {2, DESIRED_MALFORMED, false}, END}},
    /* Two entries with one id (dbaasd does not send them: members.id is a key): the second
     * sees the member as the first left it, owned by the worker the first started. */
    {"duplicate_entries",
     {END},
     {E(1, HB_DESIRED_RUNNING, 1), E(1, HB_DESIRED_RUNNING, 2), END},
     {{1, DESIRED_CREATE, false}, {1, DESIRED_KEEP, true}, END}},
};

static void test_scenario(void **state)
{
    const struct scenario *sc = *state;

    check(sc->members, sc->reply, sc->want);
}

/* Fields other than spec_version (port, role, credentials, even limits without a new
 * spec_version) change no decision: the member takes them (member_update_desired) and its
 * record is not saved for them (spec_changed false). dbaasd raises spec_version with every
 * change of limits. */
static void test_changed_other_fields(void **state)
{
    static const struct m_in members[] = {M(1, HB_RUNNING, 3, 3), END};
    static const struct step_out want[] = {{1, DESIRED_KEEP, false}, END};
    struct member *list = make_members(members);
    json_t *reply = json_array(), *d = entry(1, HB_DESIRED_RUNNING, 3);
    struct effects fx = {.n = 0};

    (void)state;
    json_object_set_new(d, HB_F_PORT, json_integer(21000));
    json_object_set_new(d, HB_F_ROLE, json_string("replica"));
    json_object_set_new(d, HB_F_PRIMARY,
                        json_pack("{s:I,s:s,s:i}", HB_F_ID, (json_int_t)7, HB_F_HOST, "10.0.0.7",
                                  HB_F_PORT, 20007));
    json_object_set_new(d, HB_F_REPLICATION,
                        json_pack("{s:s,s:s}", HB_F_USER, "dbaas_repl", HB_F_SECRET, "s"));
    json_object_set_new(json_object_get(d, HB_F_LIMITS), HB_F_CPU_MILLIS, json_integer(2000));
    json_object_set_new(json_object_get(d, HB_F_CREDENTIALS), HB_F_VERIFIER, json_string("new"));
    json_array_append_new(reply, d);
    expect_plan(list, reply, want);
    plan_and_apply(&list, reply, &fx, false);
    assert_int_equal(fx.n, 0);
    assert_int_equal(list->port, 21000);
    assert_string_equal(list->role, "replica");
    assert_true(list->repl_dirty); /* a running engine applies the new upstream */
    assert_int_equal(list->primary.id, 7);
    assert_int_equal(list->limits.cpu_millis, 2000);
    assert_string_equal(list->verifier, "new");
    json_decref(reply);
    free_members(list);
}

/* A resize that failed (resize_failed_version is the spec_version) is not tried again by the
 * replies that follow, whatever their number; a newer spec_version (a new PATCH) is resized. */
static void test_failed_resize_not_retried(void **state)
{
    static const struct m_in members[] = {M(1, HB_RUNNING, 4, 3), END};
    static const struct step_out keep[] = {{1, DESIRED_KEEP, false}, END};
    static const struct step_out resize[] = {{1, DESIRED_RESIZE, true}, END};
    struct member *list = make_members(members);
    json_t *same = json_array(), *newer = json_array();
    int i;

    (void)state;
    list->resize_failed_version = 4;
    json_array_append_new(same, entry(1, HB_DESIRED_RUNNING, 4));
    json_array_append_new(newer, entry(1, HB_DESIRED_RUNNING, 5));
    for (i = 0; i < 3; i++)
        expect_plan(list, same, keep);
    expect_plan(list, newer, resize);
    json_decref(same);
    json_decref(newer);
    free_members(list);
}

/* The same reply again: while its work is in flight the members are busy and nothing new
 * starts; once the work is done it asks for nothing. */
static void test_replayed_reply(void **state)
{
    static const struct m_in members[] = {M(1, HB_RUNNING, 3, 3), M(2, HB_RUNNING, 1, 1), END};
    static const struct e_in entries[] = {
        E(1, HB_DESIRED_RUNNING, 4),
        E(2, HB_DESIRED_DELETED, 1),
        E(3, HB_DESIRED_RUNNING, 1),
        END,
    };
    static const struct step_out first[] = {
        {1, DESIRED_RESIZE, true},
        {2, DESIRED_DELETE, false},
        {3, DESIRED_CREATE, false},
        END,
    };
    static const struct step_out again[] = {
        {1, DESIRED_KEEP, false},
        {2, DESIRED_KEEP, false},
        {3, DESIRED_KEEP, false},
        END,
    };
    json_t *reply = make_reply(entries);

    (void)state;
    for (int finish = 0; finish <= 1; finish++) {
        struct member *list = make_members(members);
        struct effects fx = {.n = 0};
        expect_plan(list, reply, first);
        plan_and_apply(&list, reply, &fx, finish);
        expect_plan(list, reply, again);
        free_members(list);
    }
    json_decref(reply);
}

/* The decision changes nothing: the members are as they were. */
static void test_pure(void **state)
{
    static const struct m_in members[] = {M(1, HB_RUNNING, 3, 3), M(2, HB_DELETED, 1, 1), END};
    static const struct e_in entries[] = {E(1, HB_DESIRED_DELETED, 4), END};
    struct member *list = make_members(members), before = *list;
    json_t *reply = make_reply(entries);
    struct desired_step *steps;

    (void)state;
    assert_int_equal(desired_plan(list, reply, &steps), 2);
    assert_int_equal(list->spec_version, before.spec_version);
    assert_true(list->want_running);
    assert_int_equal(list->limits.cpu_millis, before.limits.cpu_millis);
    assert_false(list->busy);
    assert_int_equal(list->next->state, HB_DELETED);
    assert_null(list->next->next);
    free(steps);
    json_decref(reply);
    free_members(list);
}

/* ---- replies out of order: the generation ---- */

/* A reply older than the newest applied is ignored as a whole: here one computed before a
 * resize (spec 3) and before member 2 was placed arrives after the newer one (generation 7).
 * Applied, it would set member 1 back to its older limits. A reply of the same generation is
 * applied (a replay changes nothing); one without a generation (a dbaasd older than HA part
 * 1) is applied only until a generation was seen. */
static void test_stale_reply_ignored(void **state)
{
    static const struct e_in newer_entries[] = {E(1, HB_DESIRED_RUNNING, 4),
                                                E(2, HB_DESIRED_RUNNING, 1), END};
    static const struct e_in older_entries[] = {E(1, HB_DESIRED_RUNNING, 3), END};
    json_t *newer = json_object(), *older = json_object();
    int64_t applied = 0, g;

    (void)state;
    json_object_set_new(newer, HB_F_GENERATION, json_integer(7));
    json_object_set_new(newer, HB_F_MEMBERS, make_reply(newer_entries));
    json_object_set_new(older, HB_F_GENERATION, json_integer(6));
    json_object_set_new(older, HB_F_MEMBERS, make_reply(older_entries));

    assert_true(desired_reply_current(newer, applied, &g));
    assert_int_equal(g, 7);
    applied = g;
    assert_false(desired_reply_current(older, applied, &g)); /* stale: not planned at all */
    assert_int_equal(g, 6);
    assert_true(desired_reply_current(newer, applied, &g)); /* the same generation again */

    /* without a generation */
    json_object_del(older, HB_F_GENERATION);
    assert_true(desired_reply_current(older, 0, &g));
    assert_int_equal(g, 0);
    assert_false(desired_reply_current(older, applied, &g));
    json_decref(newer);
    json_decref(older);
}

/* Members missing from replies stay, reply after reply, and are deleted only when a reply
 * says desired "deleted"; once reported deleted and unlisted, their record goes. */
static void test_unlisted_kept(void **state)
{
    static const struct m_in members[] = {M(1, HB_RUNNING, 1, 1), M(2, HB_RUNNING, 1, 1), END};
    static const struct e_in only_1[] = {E(1, HB_DESIRED_RUNNING, 1), END};
    static const struct e_in delete_2[] = {E(1, HB_DESIRED_RUNNING, 1), E(2, HB_DESIRED_DELETED, 1),
                                           END};
    static const struct step_out kept[] = {
        {1, DESIRED_KEEP, false}, {2, DESIRED_UNLISTED, false}, END};
    static const struct step_out forgotten[] = {
        {1, DESIRED_KEEP, false}, {2, DESIRED_FORGET, false}, END};
    struct member *list = make_members(members);
    json_t *r1 = make_reply(only_1), *r2 = make_reply(delete_2), *empty = json_array();
    struct effects fx = {.n = 0};

    (void)state;
    for (int i = 0; i < 3; i++) {
        expect_plan(list, r1, kept);
        plan_and_apply(&list, r1, &fx, true);
    }
    assert_int_equal(fx.n, 0); /* no work, no delete */
    assert_int_equal(list->next->state, HB_RUNNING);
    assert_true(list->next->want_running);
    /* an empty reply keeps everyone */
    plan_and_apply(&list, empty, &fx, true);
    assert_int_equal(fx.n, 0);
    /* an explicit delete */
    plan_and_apply(&list, r2, &fx, true);
    assert_int_equal(fx.n, 1);
    assert_int_equal(fx.fx[0].kind, FX_DELETE);
    assert_int_equal(fx.fx[0].id, 2);
    expect_plan(list, r1, forgotten);
    json_decref(r1);
    json_decref(r2);
    json_decref(empty);
    free_members(list);
}

/* ---- the replication fields of a desired member ---- */

#define SECRET "Xq7-very-secret-replication-password"

/* A replica entry of member 12 streaming from member 11. */
static json_t *replica_entry(void)
{
    json_t *d = entry(12, HB_DESIRED_RUNNING, 1);

    json_object_set_new(d, HB_F_ENGINE, json_string("mysql"));
    json_object_set_new(d, HB_F_ROLE, json_string(HB_ROLE_REPLICA));
    json_object_set_new(d, HB_F_PRIMARY,
                        json_pack("{s:I,s:s,s:i}", HB_F_ID, (json_int_t)11, HB_F_HOST, "10.0.0.11",
                                  HB_F_PORT, 20011));
    json_object_set_new(d, HB_F_REPLICATION,
                        json_pack("{s:s,s:s}", HB_F_USER, "dbaas_repl", HB_F_SECRET, SECRET));
    json_object_set_new(d, HB_F_SEED,
                        json_pack("{s:s,s:i}", HB_F_HOST, "10.0.0.11", HB_F_PORT, 30000));
    return d;
}

/* A primary entry of member 11 serving replicas 12 and 13. */
static json_t *primary_entry(void)
{
    json_t *d = entry(11, HB_DESIRED_RUNNING, 1);

    json_object_set_new(d, HB_F_REPLICATION,
                        json_pack("{s:s,s:s}", HB_F_USER, "dbaas_repl", HB_F_SECRET, SECRET));
    json_object_set_new(d, HB_F_REPLICAS,
                        json_pack("[{s:I,s:s,s:i},{s:I,s:s,s:i}]", HB_F_ID, (json_int_t)12,
                                  HB_F_HOST, "10.0.0.12", HB_F_PORT, 20012, HB_F_ID, (json_int_t)13,
                                  HB_F_HOST, "10.0.0.13", HB_F_PORT, 20013));
    return d;
}

static void test_repl_fields(void **state)
{
    json_t *d = replica_entry(), *p = primary_entry();
    struct err e;
    struct member *m = member_from_desired(d, &e), *pm;
    struct member_spec *ms;

    (void)state;
    assert_non_null(m);
    assert_true(member_is_replica(m));
    assert_int_equal(m->primary.id, 11);
    assert_string_equal(m->primary.host, "10.0.0.11");
    assert_int_equal(m->primary.port, 20011);
    assert_string_equal(m->repl_user, "dbaas_repl");
    assert_string_equal(m->repl_secret, SECRET);
    assert_string_equal(m->seed_host, "10.0.0.11");
    assert_int_equal(m->seed_port, 30000);
    ms = member_spec_new(m, "/var/lib/dbaas", "10.0.0.12");
    assert_non_null(ms->spec.repl);
    assert_int_equal(ms->spec.repl->role, ENGINE_ROLE_REPLICA);
    assert_int_equal(ms->spec.repl->member_id, 12);
    assert_string_equal(ms->spec.repl->upstream.host, "10.0.0.11");
    assert_int_equal(ms->spec.repl->upstream.port, 20011);
    assert_string_equal(ms->spec.repl->secret, SECRET);
    assert_string_equal(ms->spec.data_dir, "/var/lib/dbaas/members/12");
    member_spec_free(ms);

    /* the same entry again: nothing to apply; another upstream: to apply, without a new
     * spec_version (no restart, no resize) */
    m->repl_dirty = false;
    assert_false(member_repl_differs(m, d));
    assert_false(member_update_desired(m, d));
    assert_false(m->repl_dirty);
    json_object_set_new(json_object_get(d, HB_F_PRIMARY), HB_F_HOST, json_string("10.0.0.21"));
    assert_true(member_repl_differs(m, d));
    assert_false(member_update_desired(m, d));
    assert_true(m->repl_dirty);
    assert_string_equal(m->primary.host, "10.0.0.21");

    /* a primary: its replicas; a change of the list is a change to apply */
    pm = member_from_desired(p, &e);
    assert_non_null(pm);
    assert_false(member_is_replica(pm));
    assert_int_equal(pm->n_replicas, 2);
    assert_int_equal(pm->replicas[1].id, 13);
    ms = member_spec_new(pm, "/var/lib/dbaas", "10.0.0.11");
    assert_int_equal(ms->spec.repl->role, ENGINE_ROLE_PRIMARY);
    assert_int_equal(ms->spec.repl->n_replicas, 2);
    assert_string_equal(ms->spec.repl->replicas[0].host, "10.0.0.12");
    member_spec_free(ms);
    pm->repl_dirty = false;
    {
        unsigned before = pm->repl_changes;

        /* the same list: no change counted; a shorter one: one (a job that applied the list
         * before it leaves repl_dirty set, agent/jobs.c) */
        member_update_desired(pm, p);
        assert_false(pm->repl_dirty);
        assert_int_equal(pm->repl_changes, before);
        json_array_remove(json_object_get(p, HB_F_REPLICAS), 1);
        member_update_desired(pm, p);
        assert_true(pm->repl_dirty);
        assert_int_equal(pm->repl_changes, before + 1);
    }
    assert_int_equal(pm->n_replicas, 1);

    /* a member without replication: no repl for the drivers (a standalone member) */
    {
        json_t *plain = entry(5, HB_DESIRED_RUNNING, 1);
        struct member *sm = member_from_desired(plain, &e);
        ms = member_spec_new(sm, "/d", "127.0.0.1");
        assert_null(ms->spec.repl);
        member_spec_free(ms);
        member_free(sm);
        json_decref(plain);
    }

    /* malformed: a replica without its primary, an unknown role, a bad replica */
    json_object_del(d, HB_F_PRIMARY);
    assert_int_equal(member_desired_check(d, &e), -1);
    assert_non_null(strstr(e.msg, "primary"));
    /* ... but a replica on its way out needs neither: dbaasd sends no replication for it, and
     * its primary may be gone already (deleting an instance) */
    json_object_set_new(d, HB_F_DESIRED, json_string(HB_DESIRED_DELETED));
    json_object_set_new(d, HB_F_PRIMARY, json_null());
    json_object_set_new(d, HB_F_REPLICATION, json_null());
    assert_int_equal(member_desired_check(d, &e), 0);
    json_decref(d);
    d = replica_entry();
    json_object_set_new(d, HB_F_ROLE, json_string("leader"));
    assert_int_equal(member_desired_check(d, &e), -1);
    json_decref(d);
    json_array_append_new(json_object_get(p, HB_F_REPLICAS), json_pack("{s:s}", HB_F_HOST, "x"));
    assert_int_equal(member_desired_check(p, &e), -1);
    member_free(m);
    member_free(pm);
    json_decref(p);
}

/* Whom a primary serves a seed copy: a running primary, to one of its replicas; in sync mode
 * only once its list of replicas is applied (the engine waits for the new replica). */
static void test_serves_seed(void **state)
{
    json_t *p = primary_entry();
    struct err e;
    struct member *pm = member_from_desired(p, &e);

    (void)state;
    assert_non_null(pm);
    pm->state = HB_STARTING;
    assert_int_equal(member_serves_seed(pm, 12, &e), -1);
    assert_int_equal(e.code, AGENT_E_DENIED);
    assert_non_null(strstr(e.msg, "not a running primary"));
    pm->state = HB_RUNNING;
    pm->repl_dirty = false;
    assert_int_equal(member_serves_seed(pm, 12, &e), 0);
    assert_int_equal(member_serves_seed(pm, 99, &e), -1);
    assert_non_null(strstr(e.msg, "member 99 is not one of member 11's replicas"));
    /* async: the list still to apply does not matter (nobody waits for a replica) */
    pm->repl_dirty = true;
    pm->sync = false;
    assert_int_equal(member_serves_seed(pm, 12, &e), 0);
    /* sync: not before it is applied */
    pm->sync = true;
    assert_int_equal(member_serves_seed(pm, 12, &e), -1);
    assert_int_equal(e.code, AGENT_E_DENIED);
    assert_non_null(strstr(e.msg, "has not applied its replicas' list yet"));
    pm->repl_dirty = false;
    assert_int_equal(member_serves_seed(pm, 12, &e), 0);
    /* a replica serves nobody */
    snprintf(pm->role, sizeof(pm->role), "%s", HB_ROLE_REPLICA);
    assert_int_equal(member_serves_seed(pm, 12, &e), -1);
    member_free(pm);
    json_decref(p);
}

/* The replication secret reaches no log line and no error message: the agent logs the error
 * of every malformed entry (heartbeat.c) and the members' state changes. The log module
 * writes to stderr: the test points stderr at a file. The secret is kept in the member's
 * record, which is root's, mode 0600. */
static void test_secret_not_logged(void **state)
{
    char dir[] = "/tmp/test-desired-XXXXXX", *path, *text;
    json_t *d = replica_entry();
    struct member *m;
    struct err e;
    struct stat st;
    int saved, fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    path = NULL;
    assert_true(asprintf(&path, "%s/log", dir) > 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);

    /* every way an entry can be refused, logged as apply_step() logs it */
    json_object_del(d, HB_F_PRIMARY);
    assert_int_equal(member_desired_check(d, &e), -1);
    log_warn("event=bad_desired_member error=\"%s\"", e.msg);
    json_object_set_new(json_object_get(d, HB_F_REPLICATION), HB_F_USER, json_string(""));
    assert_int_equal(member_desired_check(d, &e), -1);
    log_warn("event=bad_desired_member error=\"%s\"", e.msg);
    json_decref(d);
    d = replica_entry();
    json_object_set_new(d, HB_F_SEED, json_string(SECRET));
    assert_int_equal(member_desired_check(d, &e), -1);
    log_warn("event=bad_desired_member error=\"%s\"", e.msg);
    json_decref(d);

    dup2(saved, STDERR_FILENO);
    close(saved);
    text = fileio_read(path, 1 << 20, 0, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "bad_desired_member")); /* the capture works */
    assert_null(strstr(text, SECRET));
    assert_null(strstr(text, "very-secret"));
    free(text);

    /* the record: 0600, holds the secret (re-adoption needs it), read back as it was */
    d = replica_entry();
    m = member_from_desired(d, &e);
    assert_non_null(m);
    {
        char *mdir = NULL;
        struct member *back;
        assert_true(asprintf(&mdir, "%s/members", dir) > 0);
        assert_int_equal(mkdir(mdir, 0700), 0);
        assert_int_equal(member_save(m, dir, &e), 0);
        free(path);
        assert_true(asprintf(&path, "%s/12.json", mdir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_uid, geteuid());
        back = member_load_all(dir);
        assert_non_null(back);
        assert_string_equal(back->repl_secret, SECRET);
        assert_int_equal(back->primary.id, 11);
        assert_string_equal(back->seed_host, "10.0.0.11");
        assert_true(back->repl_dirty);
        member_free(back);
        unlink(path);
        rmdir(mdir);
        free(mdir);
    }
    member_free(m);
    json_decref(d);
    free(path);
    assert_true(asprintf(&path, "%s/log", dir) > 0);
    unlink(path);
    free(path);
    rmdir(dir);
}

/* ---- the reference: the reconcile loop as agent/agent.c had it before the decision became
 * a pure function, with its effects recorded instead of carried out, and with today's rules:
 * a malformed entry changes nothing, a member missing from the reply is kept ---- */

static void reference(struct member **members, const json_t *desired, struct effects *out)
{
    struct member *m, **pp;
    struct err e;
    size_t i;
    json_t *d;

    json_array_foreach(desired, i, d)
    {
        int64_t id = json_integer_value(json_object_get(d, HB_F_ID));
        for (m = *members; m && m->id != id; m = m->next)
            ;
        if (m && member_desired_check(d, NULL) < 0)
            continue;
        if (!m) {
            m = member_from_desired(d, &e);
            if (!m)
                continue;
            m->next = *members;
            *members = m;
            record(out, FX_SAVE, m);
            record(out, m->want_running ? FX_PROVISION : FX_DELETE, m);
            continue;
        }
        if (member_update_desired(m, d))
            record(out, FX_SAVE, m);
        if (m->busy)
            continue;
        if (!m->want_running) {
            if (m->state != HB_DELETED)
                record(out, FX_DELETE, m);
        } else if (m->state == HB_RUNNING && m->applied_version != m->spec_version) {
            record(out, FX_RESIZE, m);
        } else if (m->state == HB_PENDING) {
            record(out, FX_PROVISION, m);
        }
    }
    for (pp = members; (m = *pp) != NULL;) {
        bool listed = false;
        json_array_foreach(desired, i, d)
        {
            if (json_integer_value(json_object_get(d, HB_F_ID)) == m->id)
                listed = true;
        }
        if (!listed && !m->busy && m->state == HB_DELETED) {
            *pp = m->next;
            record(out, FX_FORGET, m);
            member_free(m);
            continue;
        }
        pp = &m->next;
    }
}

static uint32_t rnd(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/* Random member lists and replies over a few ids (so that entries and members meet, and some
 * entries repeat an id or are malformed): the plan's effects and the members it leaves must be
 * the reference's. */
static void test_matches_reference(void **state)
{
    uint32_t seed = 42;

    (void)state;
    for (int round = 0; round < 5000; round++) {
        struct member *a = NULL, *b = NULL, *ma, *mb;
        json_t *reply = json_array();
        struct effects ea = {.n = 0}, eb = {.n = 0};
        int n_members = (int)rnd(&seed) % 5, n_entries = (int)rnd(&seed) % 6;

        for (int i = 0; i < n_members; i++) {
            struct m_in mi = {1 + i * 2 + (int64_t)(rnd(&seed) % 2), /* unique, ascending */
                              (enum hb_state)(rnd(&seed) % HB__COUNT), 1 + (int)rnd(&seed) % 3,
                              1 + (int)rnd(&seed) % 3, rnd(&seed) % 4 == 0};
            bool want = rnd(&seed) % 4 != 0;
            add_member(&a, &mi)->want_running = want;
            add_member(&b, &mi)->want_running = want;
        }
        for (int i = 0; i < n_entries; i++) {
            json_t *d = entry(1 + (int64_t)(rnd(&seed) % 10),
                              rnd(&seed) % 3 ? HB_DESIRED_RUNNING : HB_DESIRED_DELETED,
                              1 + (int)rnd(&seed) % 3);
            if (rnd(&seed) % 8 == 0)
                json_object_del(d, HB_F_PORT);
            json_array_append_new(reply, d);
        }
        reference(&a, reply, &ea);
        plan_and_apply(&b, reply, &eb, false);
        assert_int_equal(ea.n, eb.n);
        for (size_t i = 0; i < ea.n; i++) {
            assert_int_equal(ea.fx[i].kind, eb.fx[i].kind);
            assert_int_equal(ea.fx[i].id, eb.fx[i].id);
        }
        for (ma = a, mb = b; ma && mb; ma = ma->next, mb = mb->next) {
            assert_int_equal(ma->id, mb->id);
            assert_int_equal(ma->state, mb->state);
            assert_int_equal(ma->spec_version, mb->spec_version);
            assert_int_equal(ma->want_running, mb->want_running);
            assert_int_equal(ma->busy, mb->busy);
            assert_int_equal(ma->port, mb->port);
        }
        assert_null(ma);
        assert_null(mb);
        free_members(a);
        free_members(b);
        json_decref(reply);
    }
}

/* What reconcile() keeps of a reply besides its members: the whole hash or none, the
 * interval within its bounds; and which members a reply lists (leasing_reply()). */
static void test_reply_info(void **state)
{
    struct desired_reply_info info;
    json_t *reply;

    (void)state;
    reply = json_pack("{s:s, s:i, s:[{s:i}, {s:s}, {s:I}]}", HB_F_DESIRED_HASH, "abc",
                      HB_F_HEARTBEAT_INTERVAL_MS, 250, HB_F_MEMBERS, HB_F_ID, 3, HB_F_ID, "4",
                      HB_F_ID, (json_int_t)INT64_MAX);
    desired_reply_info(reply, &info);
    assert_string_equal(info.hash, "abc");
    assert_int_equal(info.heartbeat_ms, 250);
    assert_true(desired_lists(json_object_get(reply, HB_F_MEMBERS), 3));
    assert_false(desired_lists(json_object_get(reply, HB_F_MEMBERS), 4)); /* "4" is no id */
    assert_true(desired_lists(json_object_get(reply, HB_F_MEMBERS), INT64_MAX));
    assert_false(desired_lists(reply, 3)); /* not an array */
    assert_false(desired_lists(NULL, 3));
    json_decref(reply);

    /* too long a hash would be cut and never match: none; intervals held within bounds */
    reply = json_pack("{s:s, s:I}", HB_F_DESIRED_HASH,
                      "0123456789012345678901234567890123456789012345678901234567890123X",
                      HB_F_HEARTBEAT_INTERVAL_MS, (json_int_t)INT64_MAX);
    desired_reply_info(reply, &info);
    assert_string_equal(info.hash, "");
    assert_int_equal(info.heartbeat_ms, DESIRED_INTERVAL_MAX_MS);
    json_decref(reply);
    reply = json_pack("{s:i, s:i}", HB_F_DESIRED_HASH, 5, HB_F_HEARTBEAT_INTERVAL_MS, -1);
    desired_reply_info(reply, &info);
    assert_string_equal(info.hash, "");
    assert_int_equal(info.heartbeat_ms, DESIRED_INTERVAL_MIN_MS);
    json_decref(reply);
    reply = json_pack("{s:f}", HB_F_HEARTBEAT_INTERVAL_MS, 500.0);
    desired_reply_info(reply, &info);
    assert_int_equal(info.heartbeat_ms, 0); /* not an integer: the interval stays */
    json_decref(reply);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(desired_action_name(DESIRED_KEEP), "keep");
    assert_string_equal(desired_action_name(DESIRED_FORGET), "forget");
    assert_null(desired_action_name((enum desired_action)99));
}

/* The role decision (desired_role_decide()): what a member's desired role, fence and the
 * lease ask of it, running or down. */
static void test_role_decide(void **state)
{
    static struct member_peer one_replica = {2, "10.0.0.2", 20001};
    struct member m;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.id = 1;
    m.want_running = true;
    snprintf(m.role, sizeof(m.role), "primary");
    m.state = HB_RUNNING;
    /* a primary without replicas needs no lease: never held, never fenced */
    assert_false(member_fenceable(&m));
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_NONE);
    m.state = HB_STARTING;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_NONE);
    /* with replicas: down, it starts only with the lease */
    m.replicas = &one_replica;
    m.n_replicas = 1;
    assert_true(member_fenceable(&m));
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_HOLD);
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_NONE);
    /* fenced by the guard: held even with a lease, until a fresh reply clears it */
    m.guard_fenced = true;
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_HOLD);
    m.guard_fenced = false;
    /* a desired fence: running -> fence; fenced -> nothing more; down -> held */
    m.fence_wanted = true;
    m.state = HB_RUNNING;
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_FENCE);
    m.fenced = true;
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_NONE);
    m.state = HB_STARTING;
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_HOLD);
    /* fence lifted on a running fenced primary: restart it, with the lease only */
    m.fence_wanted = false;
    m.state = HB_RUNNING;
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_UNFENCE);
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_NONE);
    m.fenced = false;
    /* replica -> primary: promote with the lease; without, it stays a running replica */
    snprintf(m.run_role, sizeof(m.run_role), "replica");
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_PROMOTE);
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_NONE);
    m.state = HB_STARTING;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_HOLD);
    assert_int_equal(desired_role_decide(&m, true), DESIRED_ROLE_PROMOTE);
    /* primary -> replica: rejoin, running or down, with or without a lease, fenced or not */
    snprintf(m.role, sizeof(m.role), "replica");
    snprintf(m.run_role, sizeof(m.run_role), "primary");
    m.replicas = NULL;
    m.n_replicas = 0;
    m.fence_wanted = m.fenced = true;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_REJOIN);
    m.state = HB_RUNNING;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_REJOIN);
    /* a replica that runs as one: nothing, and a fence asked of a replica means nothing */
    snprintf(m.run_role, sizeof(m.run_role), "replica");
    m.fenced = false;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_NONE);
    /* ... unless its data forked off its primary's: rejoin (rewind), running or down */
    m.diverged = true;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_REJOIN);
    m.state = HB_STARTING;
    assert_int_equal(desired_role_decide(&m, false), DESIRED_ROLE_REJOIN);
    m.state = HB_RUNNING;
    m.diverged = false;
    assert_string_equal(desired_role_name(DESIRED_ROLE_REJOIN), "rejoin");
    assert_null(desired_role_name((enum desired_role)99));
}

int main(void)
{
    static const struct CMUnitTest others[] = {
        cmocka_unit_test(test_changed_other_fields),
        cmocka_unit_test(test_replayed_reply),
        cmocka_unit_test(test_failed_resize_not_retried),
        cmocka_unit_test(test_pure),
        cmocka_unit_test(test_stale_reply_ignored),
        cmocka_unit_test(test_unlisted_kept),
        cmocka_unit_test(test_repl_fields),
        cmocka_unit_test(test_serves_seed),
        cmocka_unit_test(test_secret_not_logged),
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_reply_info),
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_role_decide),
    };
    enum { N_SCENARIOS = sizeof(scenarios) / sizeof(scenarios[0]) };
    struct CMUnitTest tests[N_SCENARIOS + sizeof(others) / sizeof(others[0])];
    size_t i;

    /* One test per scenario, named after it, then the others. */
    memset(tests, 0, sizeof(tests));
    for (i = 0; i < N_SCENARIOS; i++) {
        tests[i].name = scenarios[i].name;
        tests[i].test_func = test_scenario;
        tests[i].initial_state = (void *)&scenarios[i];
    }
    memcpy(&tests[i], others, sizeof(others));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
