/* dbaasd's HA loop: failure detection, fencing, promotion and switchovers, applied from the
 * decisions of ha/failover.h.
 *
 * NOTES: one thread with its own store connection, acting only while this dbaasd leads
 * (control/leader.c); every HA_TICK_MS it reads every instance with replicas (and every one
 * with a failover in flight) in one statement, decides, and applies each step in its own
 * transaction whose UPDATEs are conditional on the state they expect, so that a step taken
 * twice (a crash, two leaders for a moment) changes nothing the second time. The store holds
 * the failovers; this thread keeps only what it measures on its own monotonic clock: since when
 * each member looks down (the grace) and when each replica last streamed (sync mode). Both
 * restart empty at a new term, which only delays decisions. Errors are logged; the next tick
 * tries again. */
#include "control/ha.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/errc.h"
#include "control/lease.h"
#include "control/leader.h"
#include "control/notify.h"
#include "ha/failover.h"
#include "lib/clock.h"
#include "lib/istate.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define MAX_MEMBERS 16
#define STEPS_PER_TICK 4
/* How long before a failure a replica's streaming still counts as "may have acknowledged". */
#define SYNC_WINDOW_MS 10000
#define SETTINGS_EVERY_MS 1000

/* What the loop measures per member. */
struct track {
    int64_t member; /* 0: empty slot */
    int64_t first_seen_ms;
    int64_t bad_since_ms; /* 0: looks fine */
    int64_t upstream_ms;  /* last time its probe showed it streaming; 0 never */
    uint64_t tick;        /* the last tick that saw it */
};

struct loop {
    char *conninfo;
    struct failover_config cfg;
    int64_t cfg_at;
    unsigned long term;
    struct track *tracks; /* open addressing, ntracks slots (a power of two) */
    size_t ntracks, used;
    uint64_t tick;
};

static pthread_t thread;
static bool running, stopping, kicked;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;

/* ---- the per-member measurements ---- */

static struct track *track_get(struct loop *l, int64_t member, int64_t now)
{
    size_t i;

    if ((l->used + 1) * 2 > l->ntracks) {
        size_t n = l->ntracks ? l->ntracks * 2 : 256, k;
        struct track *t = xcalloc(n, sizeof(*t));
        for (k = 0; k < l->ntracks; k++) {
            if (l->tracks[k].member == 0 || l->tracks[k].tick + 100 < l->tick)
                continue; /* unseen for 100 ticks: forgotten */
            for (i = (size_t)l->tracks[k].member & (n - 1); t[i].member; i = (i + 1) & (n - 1))
                ;
            t[i] = l->tracks[k];
        }
        free(l->tracks);
        l->tracks = t;
        l->ntracks = n;
        for (l->used = 0, k = 0; k < n; k++)
            l->used += t[k].member != 0;
    }
    for (i = (size_t)member & (l->ntracks - 1);
         l->tracks[i].member && l->tracks[i].member != member; i = (i + 1) & (l->ntracks - 1))
        ;
    if (!l->tracks[i].member) {
        l->tracks[i].member = member;
        l->tracks[i].first_seen_ms = now;
        l->used++;
    }
    l->tracks[i].tick = l->tick;
    return &l->tracks[i];
}

static void tracks_clear(struct loop *l)
{
    free(l->tracks);
    l->tracks = NULL;
    l->ntracks = l->used = 0;
}

/* ---- the store ---- */

static const char sql_settings[] =
    "SELECT renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms,"
    " step_timeout_ms FROM ha_settings WHERE id = $1::boolean";

/* Every member meant to run of the instances the controller watches, by instance: with its
 * host, what its agent reported, the failover in flight and the last finished one. */
#define FLIGHT_STATES "('detected', 'fencing', 'promoting')"
static const char sql_members[] =
    "SELECT i.id, i.status, i.sync, i.max_lag_bytes,"
    " m.id, m.role = 'primary', m.host_id, coalesce(h.agent ? 'lease_valid', false),"
    " h.state = 'ready', h.draining, m.observed, v.alive,"
    " m.seeding IS NOT NULL,"
    " coalesce((m.health->>'received_bytes')::bigint, (m.health->>'position_bytes')::bigint),"
    " v.lag_bytes, v.upstream_up,"
    " (extract(epoch FROM now() - m.demoted_at) * 1000)::bigint, m.fenced,"
    " f.id, f.kind, f.state, f.from_member, f.to_member,"
    " (extract(epoch FROM now() - f.state_at) * 1000)::bigint,"
    " (extract(epoch FROM now() - f.detected_at) * 1000)::bigint,"
    " l.state, l.from_member, l.reason, (extract(epoch FROM now() - l.finished_at) * 1000)::bigint"
    " FROM instances i JOIN members m ON m.instance_id = i.id AND m.desired = 'running'"
    " JOIN hosts h ON h.id = m.host_id JOIN member_health v ON v.id = m.id"
    " LEFT JOIN failovers f ON f.instance_id = i.id AND f.state IN " FLIGHT_STATES
    " LEFT JOIN LATERAL (SELECT a.state, a.from_member, a.reason, a.finished_at FROM failovers a"
    "  WHERE a.instance_id = i.id AND a.state IN ('done', 'refused', 'aborted')"
    "  ORDER BY a.id DESC LIMIT 1) l ON true"
    " WHERE (i.status = ANY ($1::text[]) AND EXISTS (SELECT 1 FROM members r"
    "  WHERE r.instance_id = i.id AND r.role = 'replica' AND r.desired = 'running'))"
    "  OR f.id IS NOT NULL"
    " ORDER BY i.id, m.id";
enum {
    C_ID,
    C_STATUS,
    C_SYNC,
    C_MAXLAG,
    C_MID,
    C_PRIMARY,
    C_HOST,
    C_LEASED,
    C_READY,
    C_DRAINING,
    C_OBSERVED,
    C_ALIVE,
    C_SEEDING,
    C_POS,
    C_LAG,
    C_UPSTREAM,
    C_DEMOTED,
    C_FENCED,
    C_FID,
    C_FKIND,
    C_FSTATE,
    C_FFROM,
    C_FTO,
    C_FSTATE_MS,
    C_FAGE_MS,
    C_LSTATE,
    C_LFROM,
    C_LREASON,
    C_LAGO
};

static const char sql_flight_new[] =
    "INSERT INTO failovers (instance_id, kind, state, from_member, reason, actor, finished_at)"
    " VALUES ($1::uuid, $2, $3, $4::bigint, $5, 'ha',"
    "  CASE WHEN $3 IN ('done', 'refused', 'aborted') THEN now() END)"
    " ON CONFLICT (instance_id) WHERE state IN " FLIGHT_STATES " DO NOTHING RETURNING id";
/* Move a failover from one state to the next (nothing when it is no longer in state $2). */
static const char sql_flight_move[] =
    "UPDATE failovers SET state = $3, state_at = now(), to_member = coalesce($4::bigint,"
    " to_member), reason = coalesce($5, reason),"
    " fenced_at = CASE WHEN $3 = 'promoting' THEN now() ELSE fenced_at END,"
    " promoted_at = CASE WHEN $3 = 'done' THEN now() ELSE promoted_at END,"
    " promoted_position = coalesce($6::bigint, promoted_position),"
    " finished_at = CASE WHEN $3 IN ('done', 'refused', 'aborted') THEN now() END"
    " WHERE id = $1::bigint AND state = $2 RETURNING id";
/* Every step locks its instance first (as the API's PATCH and switchover do), then its failover
 * record, then members: one order, no deadlock. */
static const char sql_lock[] = "SELECT status FROM instances WHERE id = $1::uuid FOR UPDATE";
static const char sql_fence[] =
    "UPDATE members SET fence = $2::boolean WHERE id = $1::bigint AND fence <> $2::boolean"
    " RETURNING id";
/* The promotion: the old primary becomes a replica (it rejoins when its host returns; what
 * it reported as primary is forgotten), the target the primary, and the instance's host is the
 * new primary's. Both rows or none. */
static const char sql_promote[] =
    "WITH u AS (UPDATE members SET role = CASE WHEN id = $2::bigint THEN 'replica' ELSE"
    "  'primary' END, fence = false,"
    "  demoted_at = CASE WHEN id = $2::bigint THEN now() ELSE demoted_at END,"
    "  health = CASE WHEN id = $2::bigint THEN NULL ELSE health END,"
    "  health_at = CASE WHEN id = $2::bigint THEN NULL ELSE health_at END"
    "  WHERE instance_id = $1::uuid AND desired = 'running'"
    "  AND ((id = $2::bigint AND role = 'primary') OR (id = $3::bigint AND role = 'replica'))"
    "  RETURNING id, role, host_id),"
    " i AS (UPDATE instances SET host_id = u.host_id FROM u WHERE instances.id = $1::uuid"
    "  AND u.role = 'primary' AND (SELECT count(*) FROM u) = 2 RETURNING instances.id)"
    " SELECT count(*) FROM u";
static const char sql_status[] =
    "WITH u AS (UPDATE instances SET status = $2, status_reason = $3, updated_at = now()"
    "  WHERE id = $1::uuid AND status = $4"
    "  AND (status <> $2 OR status_reason IS DISTINCT FROM $3) RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'ha', 'instance.status', format('instance \"%s\": %s -> %s%s', name,"
    " $4::text, $2::text, coalesce(': ' || $3, '')) FROM u WHERE $4 <> $2 RETURNING id";
static const char sql_event[] =
    "INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'ha', $2, format('instance \"%s\": %s', name, $3::text)"
    " FROM instances WHERE id = $1::uuid RETURNING id";
/* The first write a new primary took: its position went past the one it was promoted at. */
static const char sql_first_write[] =
    "WITH u AS (UPDATE failovers f SET first_write_at = now() FROM members m"
    "  WHERE f.state = 'done' AND f.first_write_at IS NULL"
    "  AND f.promoted_at > now() - interval '1 hour' AND m.id = f.to_member"
    "  AND m.role = 'primary' AND (m.health->>'writable')::boolean"
    "  AND (m.health->>'position_bytes')::bigint > coalesce(f.promoted_position, -1)"
    "  AND $1::text IS NOT NULL"
    "  RETURNING f.instance_id, f.kind, f.to_member, f.promoted_at, f.detected_at)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT i.tenant_id, i.id, 'ha', 'instance.' || u.kind || '.first_write',"
    " format('instance \"%s\": the new primary (member %s) took its first write %s ms after its"
    " promotion, %s ms after the failure was detected', i.name, u.to_member,"
    " round(extract(epoch FROM now() - u.promoted_at) * 1000),"
    " round(extract(epoch FROM now() - u.detected_at) * 1000))"
    " FROM u JOIN instances i ON i.id = u.instance_id RETURNING id";

/* Run one statement of a transaction; NULL (e set) on error. The caller clears the result. */
static PGresult *q(struct err *e, const char *sql, int n, const char *const *params)
{
    PGresult *res = store_exec(e, sql, n, params);

    if (res && !store_ok(res)) {
        err_set(e, API_E_STORE, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* A statement whose row count matters: the count, -1 on error. */
static int qn(struct err *e, const char *sql, int n, const char *const *params)
{
    PGresult *res = q(e, sql, n, params);
    int rows;

    if (!res)
        return -1;
    rows = PQntuples(res);
    PQclear(res);
    return rows;
}

#define QN(e, sql, ...)                                                                            \
    qn((e), (sql), (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)),       \
       (const char *const[]){__VA_ARGS__})

/* Insert a failover record; its id into id. 1, 0 when one is in flight already, -1 error. */
static int flight_new(struct err *e, const char *inst, const char *kind, const char *state,
                      const char *from, const char *reason, char id[24])
{
    PGresult *res = q(e, sql_flight_new, 5, (const char *const[]){inst, kind, state, from, reason});
    int n;

    if (!res)
        return -1;
    n = PQntuples(res);
    if (n == 1)
        snprintf(id, 24, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static int tx(struct err *e, const char *what)
{
    PGresult *res = store_exec_simple(e, what);
    int rc = res && store_ok(res) ? 0 : -1;

    if (res && rc < 0)
        err_set(e, API_E_STORE, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static void rollback(void)
{
    struct err scratch;

    PQclear(store_exec_simple(&scratch, "ROLLBACK"));
}

static void load_settings(struct loop *l, int64_t now)
{
    struct failover_config c;
    struct err e;
    PGresult *res;

    if (l->cfg_at > 0 && now - l->cfg_at < SETTINGS_EVERY_MS)
        return;
    res = q(&e, sql_settings, 1, (const char *const[]){"true"});
    if (!res)
        return; /* the last values stay */
    if (PQntuples(res) == 1) {
        c.renew_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        c.lease_ttl_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        c.fence_margin_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        c.grace_ms = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        c.cooldown_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        c.step_timeout_ms = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        if (failover_config_check(&c, &e) == 0)
            l->cfg = c;
    }
    PQclear(res);
    l->cfg_at = now;
}

/* ---- one instance ---- */

/* An instance as read by sql_members (strings borrowed from the result). */
struct inst {
    const char *id;
    enum istate status;
    struct failover_member m[MAX_MEMBERS];
    struct failover_instance fi;
    struct failover_flight fl;
    char flight_id[24];
    const char *last_state, *last_reason; /* the last finished failover, NULL when none */
    int64_t last_from, detected_age_ms;
};

static int64_t col_i64(const PGresult *res, int row, int col, int64_t null_value)
{
    return PQgetisnull(res, row, col) ? null_value : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool col_true(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static const struct failover_member *inst_member(const struct inst *in, int64_t id)
{
    int i;

    for (i = 0; i < in->fi.n_members; i++)
        if (in->m[i].id == id)
            return &in->m[i];
    return NULL;
}

static const struct failover_member *inst_primary(const struct inst *in)
{
    int i;

    for (i = 0; i < in->fi.n_members; i++)
        if (in->m[i].primary)
            return &in->m[i];
    return NULL;
}

/* Read rows [row, end) of one instance into in, with the loop's measurements. */
static void read_instance(struct loop *l, const PGresult *res, int row, int end, int64_t now,
                          struct inst *in)
{
    const struct failover_member *p;
    int64_t detected;
    int r;

    memset(in, 0, sizeof(*in));
    in->id = PQgetvalue(res, row, C_ID);
    if (istate_parse(PQgetvalue(res, row, C_STATUS), &in->status) < 0)
        in->status = IST_FAILED;
    in->fi.sync = col_true(res, row, C_SYNC);
    in->fi.max_lag_bytes = col_i64(res, row, C_MAXLAG, 0);
    in->fi.members = in->m;
    in->fl.since_abort_ms = -1;
    if (!PQgetisnull(res, row, C_FID)) {
        enum failover_state st;
        in->fl.active = failover_state_parse(PQgetvalue(res, row, C_FSTATE), &st) == 0;
        in->fl.state = st;
        in->fl.kind = strcmp(PQgetvalue(res, row, C_FKIND), "switchover") == 0 ? FAILOVER_SWITCHOVER
                                                                               : FAILOVER_AUTO;
        in->fl.from = col_i64(res, row, C_FFROM, 0);
        in->fl.to = col_i64(res, row, C_FTO, 0);
        in->fl.state_ms = col_i64(res, row, C_FSTATE_MS, 0);
        in->detected_age_ms = col_i64(res, row, C_FAGE_MS, 0);
        snprintf(in->flight_id, sizeof(in->flight_id), "%s", PQgetvalue(res, row, C_FID));
    }
    if (!PQgetisnull(res, row, C_LSTATE)) {
        in->last_state = PQgetvalue(res, row, C_LSTATE);
        in->last_reason = PQgetvalue(res, row, C_LREASON);
        in->last_from = col_i64(res, row, C_LFROM, 0);
    }
    /* Streaming counts for sync mode when it was seen within the window before the failure
     * (now when none is in flight); before its first sight in this term, it may have been. */
    detected = now - (in->fl.active ? in->detected_age_ms : 0);
    for (r = row; r < end && in->fi.n_members < MAX_MEMBERS; r++) {
        struct failover_member *m = &in->m[in->fi.n_members++];
        struct track *t;

        m->id = col_i64(res, r, C_MID, 0);
        m->primary = col_true(res, r, C_PRIMARY);
        m->lease_capable = col_true(res, r, C_LEASED);
        m->last_renewal_ms = lease_last_renewal_ms(col_i64(res, r, C_HOST, 0));
        m->host_ready = col_true(res, r, C_READY);
        m->host_draining = col_true(res, r, C_DRAINING);
        m->running = strcmp(PQgetvalue(res, r, C_OBSERVED), "running") == 0;
        m->stopped = strcmp(PQgetvalue(res, r, C_OBSERVED), "stopped") == 0;
        m->alive = PQgetisnull(res, r, C_ALIVE) ? FAILOVER_UNKNOWN
                   : col_true(res, r, C_ALIVE)  ? FAILOVER_YES
                                                : FAILOVER_NO;
        m->seeding = col_true(res, r, C_SEEDING);
        m->has_position = !PQgetisnull(res, r, C_POS);
        m->position = col_i64(res, r, C_POS, 0);
        m->has_lag = !PQgetisnull(res, r, C_LAG);
        m->lag_bytes = col_i64(res, r, C_LAG, 0);
        m->since_demoted_ms = col_i64(res, r, C_DEMOTED, -1);
        m->fenced = col_true(res, r, C_FENCED);
        m->upstream = PQgetisnull(res, r, C_UPSTREAM) ? FAILOVER_UNKNOWN
                      : col_true(res, r, C_UPSTREAM)  ? FAILOVER_YES
                                                      : FAILOVER_NO;
        t = track_get(l, m->id, now);
        if (!failover_member_bad(m))
            t->bad_since_ms = 0;
        else if (t->bad_since_ms == 0)
            t->bad_since_ms = now;
        m->unhealthy_ms = t->bad_since_ms ? now - t->bad_since_ms : 0;
        if (col_true(res, r, C_UPSTREAM) && !in->fl.active)
            t->upstream_ms = now;
        m->maybe_sync = !m->primary && !m->seeding &&
                        (t->upstream_ms > 0 ? t->upstream_ms : t->first_seen_ms) >=
                            detected - SYNC_WINDOW_MS - l->cfg.lease_ttl_ms -
                                l->cfg.fence_margin_ms - l->cfg.grace_ms;
    }
    p = inst_primary(in);
    if (!in->fl.active && p && in->last_state && strcmp(in->last_state, "aborted") == 0 &&
        in->last_from == p->id)
        in->fl.since_abort_ms = col_i64(res, row, C_LAGO, -1);
}

static const char *kind_name(enum failover_kind k)
{
    return k == FAILOVER_SWITCHOVER ? "switchover" : "failover";
}

/* Set the instance's status (from the status it had when read) with its reason. */
static int set_status(struct inst *in, enum istate to, const char *reason, struct err *e)
{
    if (to != in->status && !istate_can_transition(in->status, to))
        return 0;
    if (QN(e, sql_status, in->id, istate_name(to), reason, istate_name(in->status)) < 0)
        return -1;
    in->status = to;
    return 0;
}

static int event(const struct inst *in, enum failover_kind k, const char *what, const char *msg,
                 struct err *e)
{
    char kind[64];

    snprintf(kind, sizeof(kind), "instance.%s.%s", kind_name(k), what);
    return QN(e, sql_event, in->id, kind, msg) < 0 ? -1 : 0;
}

static void i64(int64_t v, char out[24])
{
    snprintf(out, 24, "%" PRId64, v);
}

/* Apply one step in one transaction; updates in->fl. 1 applied, 0 nothing (the store moved
 * on), -1 error. */
static int apply(struct inst *in, const struct failover_step *s, struct err *e)
{
    const struct failover_member *p = inst_primary(in), *t;
    char from[24], to[24], pos[24], msg[600], reason[600];
    const char *next = NULL;
    int n = 0;

    if (!p && s->op != FAILOVER_OP_ABORT)
        return 0;
    i64(p ? p->id : in->fl.from, from);
    i64(s->target, to);
    if (tx(e, "BEGIN") < 0)
        return -1;
    n = QN(e, sql_lock, in->id);
    if (n != 1) {
        rollback();
        return n; /* 0: the instance is gone */
    }
    switch (s->op) {
    case FAILOVER_OP_START:
        n = flight_new(e, in->id, "failover", "fencing", from, s->reason, in->flight_id);
        if (n == 1 && QN(e, sql_fence, from, "true") >= 0) {
            snprintf(reason, sizeof(reason), "failover: %s", s->reason);
            snprintf(msg, sizeof(msg), "failure detected: %s; fencing the primary (member %s)",
                     s->reason, from);
            if (set_status(in, IST_FAILING_OVER, reason, e) < 0 ||
                event(in, FAILOVER_AUTO, "detected", msg, e) < 0)
                n = -1;
        }
        in->fl = (struct failover_flight){true, FAILOVER_AUTO, FAILOVER_FENCING, p->id, 0, 0, -1};
        break;
    case FAILOVER_OP_DRAIN:
        n = flight_new(e, in->id, "switchover", "detected", from, s->reason, in->flight_id);
        snprintf(msg, sizeof(msg), "switchover requested: %s", s->reason);
        if (n == 1 && event(in, FAILOVER_SWITCHOVER, "detected", msg, e) < 0)
            n = -1;
        in->fl =
            (struct failover_flight){true, FAILOVER_SWITCHOVER, FAILOVER_DETECTED, p->id, 0, 0, -1};
        break;
    case FAILOVER_OP_FENCE:
        n = QN(e, sql_flight_move, in->flight_id, "detected", "fencing", to, NULL, NULL);
        snprintf(reason, sizeof(reason), "switchover to member %s: the primary stops taking writes",
                 to);
        if (n == 1 &&
            (QN(e, sql_fence, from, "true") < 0 || set_status(in, IST_FAILING_OVER, reason, e) < 0))
            n = -1;
        in->fl.state = FAILOVER_FENCING;
        in->fl.to = s->target;
        break;
    case FAILOVER_OP_FENCED:
        n = QN(e, sql_flight_move, in->flight_id, "fencing", "promoting", NULL, NULL, NULL);
        snprintf(msg, sizeof(msg), "the primary (member %s) is fenced: %s", from,
                 s->lease_expired ? "its host's lease expired" : "its agent confirmed it");
        if (n == 1 && event(in, in->fl.kind, "fenced", msg, e) < 0)
            n = -1;
        in->fl.state = FAILOVER_PROMOTING;
        break;
    case FAILOVER_OP_PROMOTE:
        t = inst_member(in, s->target);
        i64(t ? t->position : 0, pos);
        n = QN(e, sql_flight_move, in->flight_id, "promoting", "done", to, NULL,
               t && t->has_position ? pos : NULL);
        if (n == 1) {
            PGresult *res = q(e, sql_promote, 3, (const char *const[]){in->id, from, to});
            n = res && strcmp(PQgetvalue(res, 0, 0), "2") == 0 ? 1 : res ? 0 : -1;
            PQclear(res);
        }
        snprintf(reason, sizeof(reason),
                 "%s: member %s promoted; the former primary (member %s) rejoins as a replica",
                 kind_name(in->fl.kind), to, from);
        snprintf(msg, sizeof(msg), "member %s promoted to primary; member %s is now a replica", to,
                 from);
        if (n == 1 && (set_status(in, IST_DEGRADED, reason, e) < 0 ||
                       event(in, in->fl.kind, "promoted", msg, e) < 0))
            n = -1;
        in->fl.active = false;
        break;
    case FAILOVER_OP_REFUSE:
    case FAILOVER_OP_ABORT:
        next = s->op == FAILOVER_OP_REFUSE ? "refused" : "aborted";
        if (in->fl.active) {
            n = QN(e, sql_flight_move, in->flight_id, failover_state_name(in->fl.state), next, NULL,
                   s->reason, NULL);
            if (n == 1 && in->fl.from > 0) {
                i64(in->fl.from, from);
                if (QN(e, sql_fence, from, "false") < 0)
                    n = -1;
            }
        } else {
            n = flight_new(e, in->id, "failover", next, from, s->reason, in->flight_id);
        }
        snprintf(reason, sizeof(reason), "%s %s: %s", kind_name(in->fl.kind), next, s->reason);
        if (n == 1 && event(in, in->fl.kind, next, s->reason, e) < 0)
            n = -1;
        /* An automatic failover refused leaves the instance failing over, saying why, while
         * its primary stays failed; otherwise the heartbeats take its status from here. */
        if (n == 1 && (in->fl.kind == FAILOVER_AUTO && s->op == FAILOVER_OP_REFUSE
                           ? set_status(in, IST_FAILING_OVER, reason, e)
                       : in->status == IST_FAILING_OVER ? set_status(in, IST_DEGRADED, reason, e)
                                                        : 0) < 0)
            n = -1;
        in->fl.active = false;
        break;
    default:
        break;
    }
    if (n != 1) {
        rollback();
        return n < 0 ? -1 : 0;
    }
    if (tx(e, "COMMIT") < 0) {
        rollback();
        return -1;
    }
    return 1;
}

static const char *op_name(enum failover_op op)
{
    static const char *const names[] = {"none",   "start",   "drain",  "fence",
                                        "fenced", "promote", "refuse", "abort"};
    return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* What the decision saw, for the log: each member as id:role:position:maybe_sync. */
static void members_text(const struct inst *in, char *out, size_t n)
{
    size_t len = 0;
    int i, w;

    out[0] = '\0';
    for (i = 0; i < in->fi.n_members && len < n; i++) {
        const struct failover_member *m = &in->m[i];
        w = snprintf(out + len, n - len, "%s%" PRId64 ":%s:%" PRId64 ":%s", i ? " " : "", m->id,
                     m->primary ? "p" : "r", m->has_position ? m->position : -1,
                     m->maybe_sync ? "sync" : "-");
        len = w < 0 ? n : len + (size_t)w;
    }
}

/* Decide and apply up to STEPS_PER_TICK steps for one instance. */
static void run_instance(struct loop *l, struct inst *in, int64_t now)
{
    const struct failover_member *p = inst_primary(in);
    char why[400], seen[512];
    int k;

    /* Only a flight is followed for an instance being deleted: it is aborted. */
    if (in->status == IST_DELETING || in->status == IST_DELETED) {
        if (in->fl.active) {
            struct failover_step s = {FAILOVER_OP_ABORT, 0, false, "the instance is being deleted"};
            struct err e;
            if (apply(in, &s, &e) < 0)
                log_warn("event=ha_step_failed instance=%s op=abort error=\"%s\"", in->id, e.msg);
        }
        return;
    }
    for (k = 0; k < STEPS_PER_TICK; k++) {
        struct failover_step s = failover_decide(&l->cfg, &in->fi, &in->fl, now);
        struct err e;
        int rc;

        if (s.op == FAILOVER_OP_NONE)
            break;
        /* Idle: a switchover for a drain only from a settled status; a refusal recorded once
         * per primary and reason. */
        if (s.op == FAILOVER_OP_DRAIN && in->status != IST_RUNNING && in->status != IST_DEGRADED)
            break;
        if (s.op == FAILOVER_OP_REFUSE && !in->fl.active && p && in->last_state &&
            strcmp(in->last_state, "refused") == 0 && in->last_from == p->id &&
            strcmp(in->last_reason, s.reason) == 0)
            break;
        rc = apply(in, &s, &e);
        if (rc < 0) {
            log_warn("event=ha_step_failed instance=%s op=%s error=\"%s\"", in->id, op_name(s.op),
                     e.msg);
            return;
        }
        if (rc == 0)
            return; /* the store moved on: read again at the next tick */
        members_text(in, seen, sizeof(seen));
        log_info("event=ha_step instance=%s op=%s target=%" PRId64 " reason=\"%s\" members=\"%s\"",
                 in->id, op_name(s.op), s.target, s.reason, seen);
        /* fences and roles may have changed: the instance's agents get them now */
        notify_bump_instance(in->id);
        if (!in->fl.active)
            return;
        in->fl.state_ms = 0;
    }
    /* Failing over with nothing in flight and a primary that no longer fails: back to the
     * heartbeats' care. */
    if (in->status == IST_FAILING_OVER && !in->fl.active && p &&
        failover_detect(&l->cfg, &in->fi, now, why, sizeof(why)) == FAILOVER_HEALTHY) {
        struct err e;
        if (tx(&e, "BEGIN") < 0 ||
            set_status(in, IST_DEGRADED, "the primary recovered; no failover", &e) < 0 ||
            tx(&e, "COMMIT") < 0) {
            rollback();
            log_warn("event=ha_status_failed instance=%s error=\"%s\"", in->id, e.msg);
        }
    }
}

/* One pass over every watched instance. */
static void ha_pass(struct loop *l)
{
    static const char statuses[] = "{running,degraded,failing_over}";
    int64_t now = clock_now_ms();
    struct err e;
    PGresult *res;
    int row, end, n;

    l->tick++;
    load_settings(l, now);
    res = q(&e, sql_members, 1, (const char *const[]){statuses});
    if (!res) {
        log_warn("event=ha_pass_failed error=\"%s\"", e.msg);
        return;
    }
    n = PQntuples(res);
    for (row = 0; row < n; row = end) {
        struct inst in;

        for (end = row + 1;
             end < n && strcmp(PQgetvalue(res, end, C_ID), PQgetvalue(res, row, C_ID)) == 0; end++)
            ;
        read_instance(l, res, row, end, now, &in);
        run_instance(l, &in, now);
    }
    PQclear(res);
    if (QN(&e, sql_first_write, "ha") < 0)
        log_warn("event=ha_first_write_failed error=\"%s\"", e.msg);
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct timespec until;
    unsigned long term;

    pthread_mutex_lock(&lock);
    while (!stopping) {
        kicked = false;
        pthread_mutex_unlock(&lock);
        if (leader_check(l->conninfo, &term)) {
            if (term != l->term) {
                /* A new term: every lease counts as renewed now, and the grace and the
                 * streaming history start afresh. */
                l->term = term;
                lease_note_takeover();
                tracks_clear(l);
                log_info("event=ha_takeover term=%lu", term);
            }
            store_set_guard(leader_valid, LEADER_PASS_KEY_HA);
            ha_pass(l);
            store_set_guard(NULL, 0);
        }
        pthread_mutex_lock(&lock);
        clock_deadline(&until, HA_TICK_MS);
        while (!stopping && !kicked && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static struct loop the_loop;

int ha_start(const char *conninfo, struct err *e)
{
    pthread_condattr_t attr;
    sigset_t all, old;
    int rc;

    memset(&the_loop, 0, sizeof(the_loop));
    the_loop.conninfo = xstrdup(conninfo);
    failover_config_init(&the_loop.cfg);
    stopping = false;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&thread, NULL, loop_main, &the_loop);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(the_loop.conninfo);
        return err_set(e, API_E_SYSTEM, "could not start the HA thread: error %d", rc);
    }
    running = true;
    return 0;
}

void ha_kick(void)
{
    pthread_mutex_lock(&lock);
    kicked = true;
    if (running)
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void ha_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
    tracks_clear(&the_loop);
    free(the_loop.conninfo);
    the_loop.conninfo = NULL;
}
