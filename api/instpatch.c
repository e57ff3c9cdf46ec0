/* Handler: PATCH /v1/instances/{id}, the changes a tenant makes to an instance: its plan (a
 * resize of every member), its number of replicas (new ones are placed by the scheduler, the
 * highest are let go), max_lag_bytes and sync (synchronous replication), alone or together, in one
 * transaction under the instance's row lock with the quota re-checked (docs/api.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"
#include "api/instcheck.h"
#include "api/instview.h"
#include "control/notify.h"
#include "control/placement.h"
#include "control/reconcile.h"
#include "store/store.h"
#include "lib/catalog.h"
#include "lib/istate.h"
#include "lib/valid.h"

static const char sql_patch_lock[] =
    "SELECT i.status, i.replicas, i.tenant_id, p.cpu_millis, p.memory_mb, p.disk_mb, i.plan_name,"
    " i.engine, i.max_lag_bytes, (SELECT count(*) FROM members m WHERE m.instance_id = i.id"
    "  AND m.role = 'replica' AND m.desired = 'running'), i.sync"
    " FROM instances i JOIN plans p ON p.id = i.plan_id"
    " WHERE i.id = $1::uuid AND ($2::bigint IS NULL OR i.tenant_id = $2::bigint)"
    " FOR UPDATE OF i";
static const char sql_patch_quota[] =
    "UPDATE tenants SET used_cpu_millis = used_cpu_millis + $2::bigint,"
    " used_memory_mb = used_memory_mb + $3::bigint, used_disk_mb = used_disk_mb + $4::bigint"
    " WHERE id = $1::bigint"
    " AND ($2::bigint <= 0 OR max_cpu_millis IS NULL OR used_cpu_millis + $2::bigint <= "
    "max_cpu_millis)"
    " AND ($3::bigint <= 0 OR max_memory_mb IS NULL OR used_memory_mb + $3::bigint <= "
    "max_memory_mb)"
    " AND ($4::bigint <= 0 OR max_disk_mb IS NULL OR used_disk_mb + $4::bigint <= max_disk_mb)"
    " RETURNING id";
/* Fewer replicas: the highest ones are let go (the primary's agent drops their slots). */
static const char sql_patch_drop[] =
    "UPDATE members SET desired = 'deleted', spec_version = spec_version + 1"
    " WHERE id IN (SELECT id FROM members WHERE instance_id = $1::uuid AND role = 'replica'"
    "  AND desired = 'running' ORDER BY id DESC LIMIT $2::int) RETURNING id";
static const char sql_patch_hosts[] =
    "WITH ms AS (SELECT host_id FROM members WHERE instance_id = $1::uuid AND desired = 'running'),"
    " u AS (UPDATE hosts h SET alloc_cpu_millis = alloc_cpu_millis + $2::bigint,"
    "  alloc_memory_mb = alloc_memory_mb + $3::bigint, alloc_disk_mb = alloc_disk_mb + $4::bigint"
    "  FROM ms WHERE h.id = ms.host_id"
    "  AND ($2::bigint <= 0 OR alloc_cpu_millis + $2::bigint <= floor(cpu_millis *"
    "   (SELECT value::numeric FROM settings WHERE key = 'cpu_ratio')))"
    "  AND ($3::bigint <= 0 OR alloc_memory_mb + $3::bigint <= floor(memory_mb *"
    "   (SELECT value::numeric FROM settings WHERE key = 'memory_ratio')))"
    "  AND ($4::bigint <= 0 OR alloc_disk_mb + $4::bigint <= floor(disk_mb *"
    "   (SELECT value::numeric FROM settings WHERE key = 'disk_ratio')))"
    "  RETURNING h.id)"
    " SELECT (SELECT count(*) FROM ms) = (SELECT count(*) FROM u),"
    " (SELECT string_agg(h.name, ', ') FROM hosts h JOIN ms ON ms.host_id = h.id"
    "  WHERE h.id NOT IN (SELECT id FROM u))";
/* The hosts of the members meant to run that cannot enforce plan $2's IO limits; NULL when
 * none. */
static const char sql_patch_io[] =
    "SELECT string_agg(h.name, ', ' ORDER BY h.name) FROM members m"
    " JOIN hosts h ON h.id = m.host_id JOIN plans p ON p.name = $2"
    " WHERE m.instance_id = $1::uuid AND m.desired = 'running'"
    " AND " PLACEMENT_SQL_PLAN_IO("p") " AND " PLACEMENT_SQL_HOST_NO_IO("h");
static const char sql_patch_members[] =
    "UPDATE members SET cpu_millis = $2::bigint, memory_mb = $3::bigint, disk_mb = $4::bigint,"
    " spec_version = spec_version + 1 WHERE instance_id = $1::uuid AND desired = 'running'"
    " RETURNING id";
static const char sql_patch_apply[] =
    "WITH u AS (UPDATE instances SET plan_id = p.id, plan_name = p.name, replicas = $3::int,"
    "  max_lag_bytes = $4::bigint, status = $5, replicas_pending = $6::boolean, sync = "
    "$11::boolean,"
    "  place_refusal = NULL, updated_at = now()"
    "  FROM plans p WHERE instances.id = $1::uuid AND p.name = $2 RETURNING instances.*),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $7, 'instance.resize', format('instance \"%s\" resized from plan %s"
    "  to %s', name, $8::text, plan_name) FROM u WHERE plan_name <> $8::text),"
    " f AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $7, 'instance.replicas', format('instance \"%s\": replicas %s -> %s',"
    "  name, $9::int, replicas) FROM u WHERE replicas <> $9::int)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, $7, 'instance.max_lag_bytes', format('instance \"%s\": max_lag_bytes"
    " %s -> %s', name, $10::bigint, max_lag_bytes) FROM u WHERE max_lag_bytes <> $10::bigint"
    " UNION ALL SELECT tenant_id, id, $7, 'instance.sync', format('instance \"%s\": sync %s -> %s',"
    " name, $12::boolean, sync) FROM u WHERE sync <> $12::boolean"
    " RETURNING id";

/* What the PATCH asks for (api/instcheck.h), and the plan's size it comes to. */
struct patch {
    struct instcheck_patch b;
    int64_t new_size[3]; /* the plan's size (given or current) */
};

/* The instance as locked: sql_patch_lock's row. */
struct current {
    enum istate status;
    int64_t replicas, live_replicas, max_lag, size[3];
    bool sync;
    char tenant_id[24], plan[64], engine[16];
};

/* Lock the instance and read it into cur. 0, or -1 after replying (404, 409). */
static int lock_instance(struct req *r, const char *id, const struct patch *p, struct current *cur)
{
    PGresult *res = dbq_ok(r, sql_patch_lock, id, instview_scope(r));
    int k;

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return http_error(r, 404, "not_found", NULL, "instance not found");
    }
    if (istate_parse(PQgetvalue(res, 0, 0), &cur->status) < 0 || !istate_can_resize(cur->status)) {
        http_error(r, 409, "conflict", p->b.field, "an instance in state %s cannot be changed",
                   PQgetvalue(res, 0, 0));
        PQclear(res);
        return -1;
    }
    cur->replicas = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    snprintf(cur->tenant_id, sizeof(cur->tenant_id), "%s", PQgetvalue(res, 0, 2));
    for (k = 0; k < 3; k++)
        cur->size[k] = strtoll(PQgetvalue(res, 0, 3 + k), NULL, 10);
    snprintf(cur->plan, sizeof(cur->plan), "%s", PQgetvalue(res, 0, 6));
    snprintf(cur->engine, sizeof(cur->engine), "%s", PQgetvalue(res, 0, 7));
    cur->max_lag = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    cur->live_replicas = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    cur->sync = PQgetvalue(res, 0, 10)[0] == 't';
    PQclear(res);
    return 0;
}

/* Charge the tenant the difference between the new and the current size (plan x members), with
 * the quota re-checked in the same statement. 0, or -1 after replying (409 quota_exceeded); the
 * caller rolls back. */
static int charge_quota(struct req *r, const struct current *cur, const struct patch *p,
                        int64_t replicas)
{
    int64_t add[4] = {0, 0, 0, 0};
    char d[3][24];
    PGresult *res;
    int k;

    for (k = 0; k < 3; k++) {
        add[k + 1] = p->new_size[k] * (replicas + 1) - cur->size[k] * (cur->replicas + 1);
        dbq_i64(add[k + 1], d[k]);
    }
    res = dbq_ok(r, sql_patch_quota, cur->tenant_id, d[0], d[1], d[2]);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        PQclear(res);
        return 0;
    }
    PQclear(res);
    if (instcheck_quota(r, cur->tenant_id, add) == 0)
        http_error(r, 409, "conflict", NULL, "the tenant's usage changed concurrently; retry");
    return -1;
}

/* The members meant to run take the new plan: it must fit on each one's host. 0, or -1 after
 * replying (409 naming the hosts). */
static int resize_members(struct req *r, const char *id, const struct current *cur,
                          const struct patch *p)
{
    char per[3][24], sz[3][24];
    PGresult *res;
    int k;

    for (k = 0; k < 3; k++) {
        dbq_i64(p->new_size[k] - cur->size[k], per[k]);
        dbq_i64(p->new_size[k], sz[k]);
    }
    res = dbq_ok(r, sql_patch_io, id, p->b.plan);
    if (!res)
        return -1;
    if (!PQgetisnull(res, 0, 0)) {
        http_error(r, 409, "conflict", "plan",
                   "plan \"%s\" has IO limits, which the instance's host(s) cannot enforce (the "
                   "agent's data directory is on no block device): %s",
                   p->b.plan, PQgetvalue(res, 0, 0));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    res = dbq_ok(r, sql_patch_hosts, id, per[0], per[1], per[2]);
    if (!res)
        return -1;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        http_error(r, 409, "conflict", "plan",
                   "plan \"%s\" does not fit on the instance's current host(s): %s", p->b.plan,
                   PQgetvalue(res, 0, 1));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    res = dbq_ok(r, sql_patch_members, id, sz[0], sz[1], sz[2]);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

void h_instance_resize(struct req *r)
{
    const char *id = r->params[0];
    struct patch p;
    struct current cur;
    int64_t replicas, max_lag, drop;
    char reps[24], lag[24], old_reps[24], old_lag[24], drop_n[24];
    const char *plan;
    bool plan_changed, placed, pending_replicas, sync;
    enum istate next;
    PGresult *res;

    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    if (body_parse(r, true) < 0 || instcheck_patch_body(r, &p.b) < 0)
        return;
    if (p.b.plan && instcheck_plan_size(r, p.b.plan, p.new_size) < 0)
        return;
    if (dbq_begin(r) < 0)
        return;
    if (lock_instance(r, id, &p, &cur) < 0)
        goto fail;
    if (p.b.plan) {
        const struct catalog_engine *ce = catalog_find(cur.engine);
        struct err pe;
        if (ce && catalog_check_plan(ce, p.new_size[1], &pe) < 0) {
            http_error(r, 422, "plan_too_small", "plan", "%s", pe.msg);
            goto fail;
        }
    } else {
        memcpy(p.new_size, cur.size, sizeof(cur.size));
    }
    plan = p.b.plan ? p.b.plan : cur.plan;
    plan_changed = strcmp(plan, cur.plan) != 0;
    replicas = p.b.replicas >= 0 ? p.b.replicas : cur.replicas;
    max_lag = p.b.max_lag >= 0 ? p.b.max_lag : cur.max_lag;
    sync = p.b.sync >= 0 ? p.b.sync == 1 : cur.sync;
    if (!plan_changed && replicas == cur.replicas && max_lag == cur.max_lag && sync == cur.sync) {
        dbq_rollback();
        instview_reply(r, 202, id);
        return;
    }
    if (replicas > cur.replicas && instcheck_hosts(r, cur.engine, plan, replicas + 1, NULL) < 0)
        goto fail;
    if (charge_quota(r, &cur, &p, replicas) < 0)
        goto fail;
    placed = cur.status != IST_PENDING;
    drop = placed && cur.live_replicas > replicas ? cur.live_replicas - replicas : 0;
    if (drop > 0) {
        dbq_i64(drop, drop_n);
        res = dbq_ok(r, sql_patch_drop, id, drop_n);
        if (!res)
            goto fail;
        PQclear(res);
    }
    if (plan_changed && resize_members(r, id, &cur, &p) < 0)
        goto fail;
    /* Unplaced instances take the change as they are; a placed one goes through resizing when
     * its members get a new plan, and the scheduler places the replicas it lacks. */
    next = placed && plan_changed ? IST_RESIZING : cur.status;
    if (next != cur.status && !istate_can_transition(cur.status, next)) {
        http_error(r, 409, "conflict", "plan", "an instance in state %s cannot be resized",
                   istate_name(cur.status));
        goto fail;
    }
    pending_replicas = placed && cur.live_replicas - drop < replicas;
    dbq_i64(replicas, reps);
    dbq_i64(max_lag, lag);
    dbq_i64(cur.replicas, old_reps);
    dbq_i64(cur.max_lag, old_lag);
    res = dbq_ok(r, sql_patch_apply, id, plan, reps, lag, istate_name(next),
                 pending_replicas ? "true" : "false", r->who.actor, cur.plan, old_reps, old_lag,
                 sync ? "true" : "false", cur.sync ? "true" : "false");
    if (!res)
        goto fail;
    PQclear(res);
    if (dbq_commit(r) < 0)
        return;
    instview_reply(r, 202, id);
    notify_bump_instance(id);
    if (pending_replicas)
        reconcile_kick();
    return;
fail:
    dbq_rollback();
}
