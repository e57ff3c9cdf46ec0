/* Unit tests for agent/desired: the reconcile decision of dbaas-agent. Each case gives the
 * members the agent knows and a heartbeat reply's desired members, and checks the steps.
 * Where the decision does something one might not expect (a member missing from the reply,
 * a stale reply), the case pins today's behaviour and says so. test_matches_reference checks
 * the decision against the reconcile loop it replaced, on random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/desired.h"
#include "agent/member.h"
#include "lib/hbproto.h"

/* ---- cases as tables; every table ends with END ---- */

struct m_in { /* a member the agent knows */
    int64_t id;
    enum hb_state state;
    int spec_version, applied_version;
    bool busy;
};

enum e_shape { E_ENTRY, E_MALFORMED /* without engine */, E_NOT_OBJECT };

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
            assert_true(steps[i].action == DESIRED_ORPHAN || steps[i].action == DESIRED_FORGET);
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
        [DESIRED_DELETE] = FX_DELETE,       [DESIRED_ORPHAN] = FX_DELETE,
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
        case DESIRED_ORPHAN:
            m->want_running = false;
            break;
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
    /* New limits come with a higher spec_version: a running member is resized; a failed
     * resize (applied_version stays behind) is tried again with every reply. A member that a
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
    /* A member the reply does not list (today's behaviour, kept): a deleted one is forgotten
     * (its record removed); any other is an orphan of an instance that is gone and is
     * deleted, even a running one; one that a worker owns is left for a later reply. These
     * steps come after the listed entries', in list order. An entry that names the member,
     * even a malformed one, counts as listing it. */
    {"missing_from_reply",
     {M(1, HB_RUNNING, 1, 1), M(2, HB_DELETED, 1, 1), M_BUSY(3, HB_RUNNING, 1, 1),
      M(4, HB_FAILED, 1, 0), M(5, HB_RUNNING, 1, 1), END},
     {E(9, HB_DESIRED_RUNNING, 1), {5, HB_DESIRED_RUNNING, 1, E_MALFORMED}, END},
     {{9, DESIRED_CREATE, false},
      {5, DESIRED_KEEP, false},
      {1, DESIRED_ORPHAN, false},
      {2, DESIRED_FORGET, false},
      {4, DESIRED_ORPHAN, false},
      END}},
    /* A stale reply (computed before a newer one the agent already applied: the heartbeat
     * thread and the main thread each exchange with dbaasd, and their replies may be applied
     * out of order). Today's decision does not recognise it: it compares spec_version for
     * inequality, not order, and the reply's desired_hash plays no part. So an older
     * spec_version is applied (back to the older limits) and a member placed after the stale
     * reply was computed (2) is deleted as an orphan once no worker owns it. The next reply
     * puts things right again. Pinned here so that a change of this behaviour is deliberate. */
    {"stale_reply",
     {M(1, HB_RUNNING, 4, 4), M(2, HB_RUNNING, 1, 1), END},
     {E(1, HB_DESIRED_RUNNING, 3), END},
     {{1, DESIRED_RESIZE, true}, {2, DESIRED_ORPHAN, false}, END}},
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
    json_object_set_new(json_object_get(d, HB_F_LIMITS), HB_F_CPU_MILLIS, json_integer(2000));
    json_object_set_new(json_object_get(d, HB_F_CREDENTIALS), HB_F_VERIFIER, json_string("new"));
    json_array_append_new(reply, d);
    expect_plan(list, reply, want);
    plan_and_apply(&list, reply, &fx, false);
    assert_int_equal(fx.n, 0);
    assert_int_equal(list->port, 21000);
    assert_string_equal(list->role, "replica");
    assert_int_equal(list->limits.cpu_millis, 2000);
    assert_string_equal(list->verifier, "new");
    json_decref(reply);
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

/* ---- the reference: the reconcile loop as agent/agent.c had it before the decision became
 * a pure function, with its effects recorded instead of carried out ---- */

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
        if (!listed && !m->busy) {
            if (m->state == HB_DELETED) {
                *pp = m->next;
                record(out, FX_FORGET, m);
                member_free(m);
                continue;
            }
            m->want_running = false;
            record(out, FX_DELETE, m);
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

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(desired_action_name(DESIRED_KEEP), "keep");
    assert_string_equal(desired_action_name(DESIRED_FORGET), "forget");
    assert_null(desired_action_name((enum desired_action)99));
}

int main(void)
{
    static const struct CMUnitTest others[] = {
        cmocka_unit_test(test_changed_other_fields),
        cmocka_unit_test(test_replayed_reply),
        cmocka_unit_test(test_pure),
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_action_names),
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
