/* The reconcile decision (pure): the steps that bring the agent's members to a heartbeat
 * reply's desired members. agent/heartbeat.c applies them under the agent's lock. */
#include "agent/desired.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hbproto.h"
#include "lib/xalloc.h"

/* What the decision needs of a member, as the steps decided so far leave it. */
struct view {
    int64_t id;
    enum hb_state state;
    int spec_version;
    int applied_version;
    int resize_failed_version;
    const char *applied_verifier; /* borrowed from the member; NULL: not known */
    bool want_running;
    bool busy; /* a worker owns it (or will, by an earlier step) */
};

static int64_t entry_id(const json_t *d)
{
    return json_integer_value(json_object_get(d, HB_F_ID));
}

static int entry_spec_version(const json_t *d)
{
    return (int)json_integer_value(json_object_get(d, HB_F_SPEC_VERSION));
}

/* The step for a member the agent knows (v), listed by entry d; updates v as the step will
 * leave the member. */
static struct desired_step decide_known(struct view *v, const json_t *d)
{
    struct desired_step st = {DESIRED_KEEP, v->id, d, false};
    const char *verifier;
    bool cred_stale;

    if (member_desired_check(d, NULL) < 0) {
        st.action = DESIRED_MALFORMED;
        return st;
    }
    /* a password reset that a job applying the same spec_version missed (it was made just
     * before the reset came) */
    verifier = json_string_value(json_object_get(json_object_get(d, HB_F_CREDENTIALS), HB_F_VERIFIER));
    cred_stale = v->applied_verifier && verifier && strcmp(v->applied_verifier, verifier) != 0;
    st.spec_changed = entry_spec_version(d) != v->spec_version;
    v->spec_version = entry_spec_version(d);
    v->want_running = member_desired_running(d);
    if (v->busy)
        return st;
    if (!v->want_running) {
        if (v->state != HB_DELETED)
            st.action = DESIRED_DELETE;
    } else if (v->state == HB_RUNNING && (v->applied_version != v->spec_version || cred_stale) &&
               v->resize_failed_version != v->spec_version) {
        st.action = DESIRED_RESIZE;
    } else if (v->state == HB_PENDING) {
        st.action = DESIRED_PROVISION;
    }
    v->busy = st.action != DESIRED_KEEP;
    return st;
}

/* The step for entry d whose id the agent does not know; a new member joins views. */
static struct desired_step decide_new(struct view *views, size_t *n, const json_t *d)
{
    struct desired_step st = {DESIRED_MALFORMED, entry_id(d), d, false};
    struct view *v;

    if (member_desired_check(d, NULL) < 0)
        return st;
    v = &views[(*n)++];
    memset(v, 0, sizeof(*v));
    v->id = st.id;
    v->state = HB_PENDING;
    v->spec_version = entry_spec_version(d);
    v->want_running = member_desired_running(d);
    v->busy = true;
    st.action = v->want_running ? DESIRED_CREATE : DESIRED_CLEANUP;
    return st;
}

static bool listed(const json_t *desired, int64_t id)
{
    size_t i;
    json_t *d;

    json_array_foreach(desired, i, d)
    {
        if (entry_id(d) == id)
            return true;
    }
    return false;
}

size_t desired_plan(const struct member *members, const json_t *desired,
                    struct desired_step **steps)
{
    const struct member *m;
    struct view *views;
    size_t n_members = 0, n_views = 0, n = 0, i, k;
    json_t *d;

    for (m = members; m; m = m->next)
        n_members++;
    views = xcalloc(n_members + json_array_size(desired) + 1, sizeof(*views));
    *steps = xcalloc(n_members + json_array_size(desired) + 1, sizeof(**steps));
    for (m = members; m; m = m->next) {
        struct view *v = &views[n_views++];
        v->id = m->id;
        v->state = m->state;
        v->spec_version = m->spec_version;
        v->applied_version = m->applied_version;
        v->resize_failed_version = m->resize_failed_version;
        v->applied_verifier = m->applied_verifier;
        v->want_running = m->want_running;
        v->busy = m->busy;
    }
    json_array_foreach(desired, i, d)
    {
        int64_t id = entry_id(d);
        for (k = 0; k < n_views && views[k].id != id; k++)
            ;
        (*steps)[n++] = k < n_views ? decide_known(&views[k], d) : decide_new(views, &n_views, d);
    }
    /* Members the reply does not list: deleted ones are forgotten; the others are kept as
     * they are: a reply that misses a member (a bug, a partial answer) must not delete data;
     * only an explicit desired "deleted" does. One that a worker owns waits for a later
     * reply. */
    for (m = members; m; m = m->next) {
        if (m->busy || listed(desired, m->id))
            continue;
        (*steps)[n++] = (struct desired_step){
            m->state == HB_DELETED ? DESIRED_FORGET : DESIRED_UNLISTED, m->id, NULL, false};
    }
    free(views);
    return n;
}

bool desired_reply_current(const json_t *reply, int64_t applied, int64_t *generation)
{
    const json_t *g = json_object_get(reply, HB_F_GENERATION);

    *generation = json_is_integer(g) ? json_integer_value(g) : 0;
    return *generation >= applied;
}

void desired_reply_info(const json_t *reply, struct desired_reply_info *out)
{
    const json_t *hash = json_object_get(reply, HB_F_DESIRED_HASH);
    const json_t *interval = json_object_get(reply, HB_F_HEARTBEAT_INTERVAL_MS);
    size_t len = json_string_length(hash);

    memset(out, 0, sizeof(*out));
    /* a hash cut short would never match: better none, which asks for the members again */
    if (json_is_string(hash) && len > 0 && len < sizeof(out->hash) &&
        !memchr(json_string_value(hash), '\0', len))
        memcpy(out->hash, json_string_value(hash), len + 1);
    if (json_is_integer(interval)) {
        json_int_t ms = json_integer_value(interval);
        out->heartbeat_ms = ms < DESIRED_INTERVAL_MIN_MS   ? DESIRED_INTERVAL_MIN_MS
                            : ms > DESIRED_INTERVAL_MAX_MS ? DESIRED_INTERVAL_MAX_MS
                                                           : (int)ms;
    }
}

bool desired_lists(const json_t *desired, int64_t id)
{
    const json_t *d;
    size_t i;

    json_array_foreach(desired, i, d)
    {
        const json_t *v = json_object_get(d, HB_F_ID);
        if (json_is_integer(v) && json_integer_value(v) == id)
            return true;
    }
    return false;
}

const char *desired_action_name(enum desired_action a)
{
    static const char *const names[] = {
        [DESIRED_KEEP] = "keep",           [DESIRED_MALFORMED] = "malformed",
        [DESIRED_CREATE] = "create",       [DESIRED_CLEANUP] = "cleanup",
        [DESIRED_PROVISION] = "provision", [DESIRED_RESIZE] = "resize",
        [DESIRED_DELETE] = "delete",       [DESIRED_UNLISTED] = "unlisted",
        [DESIRED_FORGET] = "forget",
    };

    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : NULL;
}

enum desired_role desired_role_decide(const struct member *m, bool lease_ok)
{
    bool running = m->state == HB_RUNNING;
    bool to_replica = member_is_replica(m) && (member_runs_primary(m) || m->diverged);
    bool to_primary = !member_is_replica(m) && !member_runs_primary(m);
    bool need_lease = member_fenceable(m) && !lease_ok;

    /* the guard killed it: down until a fresh reply with a valid lease says what it is */
    if (m->guard_fenced)
        return running ? DESIRED_ROLE_NONE : DESIRED_ROLE_HOLD;
    /* a former primary that must follow the new one, or a replica whose data forked off its
     * primary's: no lease needed to become a replica */
    if (to_replica)
        return DESIRED_ROLE_REJOIN;
    if (m->fence_wanted && member_runs_primary(m)) {
        if (running && !m->fenced)
            return DESIRED_ROLE_FENCE;
        return running ? DESIRED_ROLE_NONE : DESIRED_ROLE_HOLD;
    }
    if (running && m->fenced)
        return need_lease ? DESIRED_ROLE_NONE : DESIRED_ROLE_UNFENCE;
    if (to_primary)
        return need_lease ? (running ? DESIRED_ROLE_NONE : DESIRED_ROLE_HOLD)
                          : DESIRED_ROLE_PROMOTE;
    if (!running && need_lease)
        return DESIRED_ROLE_HOLD;
    return DESIRED_ROLE_NONE;
}

const char *desired_role_name(enum desired_role a)
{
    static const char *const names[] = {
        [DESIRED_ROLE_NONE] = "none",       [DESIRED_ROLE_HOLD] = "hold",
        [DESIRED_ROLE_PROMOTE] = "promote", [DESIRED_ROLE_REJOIN] = "rejoin",
        [DESIRED_ROLE_FENCE] = "fence",     [DESIRED_ROLE_UNFENCE] = "unfence",
    };

    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : NULL;
}
