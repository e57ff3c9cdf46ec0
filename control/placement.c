/* The scheduler's loop in dbaasd.
 *
 * NOTES: runs on the controller thread of the leader only (control/reconcile.c). Each pass loads a
 * fresh view of the hosts into a place_cluster (the store is the truth; the view lives for one
 * pass), asks scheduler/place for hosts, and commits every placement in one transaction that
 * re-checks each host's capacity with a conditional UPDATE of its allocation counters, so that
 * concurrent writers (another dbaasd, a resize) can never over-commit a host: a stale decision
 * fails, rolls back and the pass ends (the next pass sees the new state).
 *
 * Three queues, each in turn order (the instance tried longest ago first, then the oldest): pending
 * instances (all their members), replicas a PATCH asked for, replicas to rebuild off draining or
 * unreachable hosts. An instance that cannot be placed is marked tried and goes to the back, so
 * that it never keeps the ones behind it waiting, however many wait. In the first two queues
 * tenants take turns (TENANT_TURNS): one tenant's backlog does not hold up the others. */
#include "control/placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control/errc.h"
#include "control/notify.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "scheduler/place.h"
#include "store/store.h"

#define BATCH 200

struct view {
    struct place_cluster *cluster;
    char **host_ids; /* by cluster index: hosts.id as text */
    int nhosts;
};

static void view_free(struct view *v)
{
    int i;

    place_cluster_free(v->cluster);
    for (i = 0; i < v->nhosts; i++)
        free(v->host_ids[i]);
    free(v->host_ids);
    memset(v, 0, sizeof(*v));
}

static const char sql_settings[] = "SELECT key, value FROM settings WHERE key <> $1";
static const char sql_hosts[] =
    "SELECT h.id, h.name, h.zone, array_to_json(h.engines)::text, h.cpu_millis, h.memory_mb,"
    " h.disk_mb, h.alloc_cpu_millis, h.alloc_memory_mb, h.alloc_disk_mb, h.state, h.draining, "
    PLACEMENT_SQL_HOST_NO_IO("h") " FROM hosts h WHERE h.id > $1::bigint ORDER BY h.id";
#define PLAN_IO PLACEMENT_SQL_PLAN_IO("p")

/* The scheduler configuration from the settings table. */
static int load_config(struct place_config *cfg, struct err *e)
{
    PGresult *res = store_exec(e, sql_settings, 1, (const char *const[]){""});
    int i;

    if (!res)
        return -1;
    place_config_init(cfg);
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "could not read settings: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    for (i = 0; i < PQntuples(res); i++) {
        const char *k = PQgetvalue(res, i, 0), *v = PQgetvalue(res, i, 1);
        if (strcmp(k, "policy") == 0)
            cfg->policy = strcmp(v, "spread") == 0 ? PLACE_SPREAD : PLACE_BINPACK;
        else if (strcmp(k, "cpu_ratio") == 0)
            cfg->cpu_ratio = atof(v);
        else if (strcmp(k, "memory_ratio") == 0)
            cfg->memory_ratio = atof(v);
        else if (strcmp(k, "disk_ratio") == 0)
            cfg->disk_ratio = atof(v);
    }
    PQclear(res);
    if (place_config_check(cfg, NULL) < 0)
        place_config_init(cfg);
    return 0;
}

static int load_view(struct view *v, const struct place_config *cfg, struct err *e)
{
    struct err perr;
    PGresult *res;
    int i, k;

    memset(v, 0, sizeof(*v));
    v->cluster = place_cluster_new(cfg, &perr);
    if (!v->cluster)
        return err_set(e, API_E_PLACE, "could not make the cluster view: %s", perr.msg);
    res = store_exec(e, sql_hosts, 1, (const char *const[]){"0"});
    if (!res)
        goto fail;
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "could not load hosts: %s", PQresultErrorMessage(res));
        goto fail;
    }
    v->host_ids = xcalloc((size_t)PQntuples(res) + 1, sizeof(char *));
    for (i = 0; i < PQntuples(res); i++) {
        json_t *engines = json_loads(PQgetvalue(res, i, 3), 0, NULL);
        const char *names[PLACE_ENGINES_MAX];
        struct place_host_spec spec;
        const char *state = PQgetvalue(res, i, 10);
        size_t j;
        json_t *en;
        int idx;

        memset(&spec, 0, sizeof(spec));
        spec.name = PQgetvalue(res, i, 1);
        spec.zone = PQgetvalue(res, i, 2);
        json_array_foreach(engines, j, en)
        {
            if (j < PLACE_ENGINES_MAX)
                names[spec.n_engines++] = json_string_value(en);
        }
        spec.engines = names;
        for (k = 0; k < PLACE_RES__COUNT; k++) {
            static const int cap_col[] = {4, 5, 6}, alloc_col[] = {7, 8, 9};
            spec.capacity[k] = strtoll(PQgetvalue(res, i, cap_col[k]), NULL, 10);
            spec.allocated[k] = strtoll(PQgetvalue(res, i, alloc_col[k]), NULL, 10);
        }
        spec.state = strcmp(state, "ready") == 0         ? PLACE_HOST_READY
                     : strcmp(state, "unreachable") == 0 ? PLACE_HOST_UNREACHABLE
                                                         : PLACE_HOST_UNKNOWN;
        spec.draining = PQgetvalue(res, i, 11)[0] == 't';
        spec.no_io_limits = PQgetvalue(res, i, 12)[0] == 't';
        idx = place_host_add(v->cluster, &spec, &perr);
        json_decref(engines);
        if (idx < 0) {
            err_set(e, API_E_PLACE, "could not add host \"%s\" to the view: %s", spec.name,
                    perr.msg);
            goto fail;
        }
        if (idx >= v->nhosts)
            v->nhosts = idx + 1;
        v->host_ids[idx] = xstrdup(PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return 0;
fail:
    PQclear(res);
    view_free(v);
    return -1;
}

/* Tenants take turns: the queue ranks each instance within its tenant (never tried or tried
 * longest ago first, then the oldest), and serves every tenant's first before anyone's second,
 * so that a tenant with thousands waiting delays another's by one place each, not thousands.
 * WHERE is the queue (pending instances, or placed ones short of replicas). */
#define TENANT_TURNS(WHERE)                                                                        \
    "(SELECT id, row_number() OVER (PARTITION BY tenant_id"                                       \
    " ORDER BY place_tried_at NULLS FIRST, seq) AS turn FROM instances WHERE " WHERE ") q"
#define TENANT_TURNS_ORDER " ORDER BY q.turn, i.place_tried_at NULLS FIRST, i.seq LIMIT $1"

/* The placement queue: pending instances in tenant turns. */
static const char sql_pending[] =
    "SELECT i.id, i.engine, i.replicas, p.cpu_millis, p.memory_mb, p.disk_mb,"
    " coalesce(i.status_reason, ''), i.tenant_id, " PLAN_IO
    " FROM " TENANT_TURNS("status = 'pending'") " JOIN instances i ON i.id = q.id"
    " JOIN plans p ON p.id = i.plan_id" TENANT_TURNS_ORDER;
static const char sql_alloc[] =
    "UPDATE hosts SET alloc_cpu_millis = alloc_cpu_millis + $2::bigint,"
    " alloc_memory_mb = alloc_memory_mb + $3::bigint, alloc_disk_mb = alloc_disk_mb + $4::bigint"
    " WHERE id = $1::bigint AND state = 'ready' AND NOT draining"
    " AND alloc_cpu_millis + $2::bigint <= floor(cpu_millis * $5::numeric)"
    " AND alloc_memory_mb + $3::bigint <= floor(memory_mb * $6::numeric)"
    " AND alloc_disk_mb + $4::bigint <= floor(disk_mb * $7::numeric)"
    " RETURNING name, port_min, port_max";
static const char sql_member_insert[] =
    "INSERT INTO members (instance_id, role, host_id, port, cpu_millis, memory_mb, disk_mb,"
    " replaces)"
    " SELECT $1::uuid, $2, $3::bigint, p, $5::bigint, $6::bigint, $7::bigint, $8::bigint"
    " FROM generate_series($4::int, $9::int) p"
    " WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.host_id = $3::bigint AND m.port = p)"
    " ORDER BY p LIMIT 1 RETURNING id, port";
static const char sql_instance_placed[] =
    "WITH u AS (UPDATE instances SET status = 'provisioning', status_reason = NULL,"
    "  host_id = $2::bigint, updated_at = now() WHERE id = $1::uuid AND status = 'pending'"
    "  RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'scheduler', 'instance.placed', format('instance \"%s\" placed: %s',"
    " name, $3::text) FROM u RETURNING id";
/* New replicas of a placed instance: its flag stays while it still lacks some. */
static const char sql_replicas_placed[] =
    "WITH u AS (UPDATE instances i SET place_refusal = NULL, replicas_pending = i.replicas >"
    "  (SELECT count(*) FROM members m WHERE m.instance_id = i.id AND m.role = 'replica'"
    "  AND m.desired = 'running') WHERE i.id = $1::uuid AND i.replicas_pending"
    "  RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'scheduler', 'instance.placed', format('instance \"%s\" placed: %s',"
    " name, $2::text) FROM u RETURNING id";
/* A pending instance that could not be placed: its turn is over (it goes to the back of the
 * queue); the reason and an event when the reason changed. */
static const char sql_refused[] =
    "WITH o AS (SELECT id, status_reason FROM instances WHERE id = $1::uuid AND status = "
    "'pending'),"
    " u AS (UPDATE instances i SET place_tried_at = clock_timestamp(),"
    "  status_reason = coalesce($2, i.status_reason),"
    "  updated_at = CASE WHEN o.status_reason IS DISTINCT FROM coalesce($2, o.status_reason)"
    "  THEN now() ELSE i.updated_at END FROM o WHERE i.id = o.id"
    "  RETURNING i.tenant_id, i.id, i.name,"
    "  o.status_reason IS DISTINCT FROM coalesce($2, o.status_reason) AS changed)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'scheduler', 'instance.unplaced', format('instance \"%s\" waits: %s',"
    " name, $2::text) FROM u WHERE changed RETURNING id";
/* The same for the replicas a placed instance lacks (the reason goes to place_refusal). */
static const char sql_refused_replicas[] =
    "WITH o AS (SELECT id, place_refusal FROM instances WHERE id = $1::uuid AND replicas_pending),"
    " u AS (UPDATE instances i SET place_tried_at = clock_timestamp(),"
    "  place_refusal = coalesce($2, i.place_refusal) FROM o WHERE i.id = o.id"
    "  RETURNING i.tenant_id, i.id, i.name,"
    "  o.place_refusal IS DISTINCT FROM coalesce($2, o.place_refusal) AS changed)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'scheduler', 'instance.unplaced', format('instance \"%s\": a new"
    " replica waits: %s', name, $2::text) FROM u WHERE changed RETURNING id";
/* Replicas asked for: flags that no longer apply are cleared (enough replicas, or the instance
 * is going away), then the instances that still lack some, in turn order, with the hosts of
 * all their members (anti-affinity: a member on its way out still holds its host). */
static const char sql_short_clear[] =
    "UPDATE instances i SET replicas_pending = false, place_refusal = NULL"
    " WHERE i.replicas_pending AND (i.status IN ('deleting', 'deleted', 'failed')"
    "  OR i.replicas <= (SELECT count(*) FROM members m WHERE m.instance_id = i.id"
    "  AND m.role = 'replica' AND m.desired = 'running')) AND $1::int IS NOT NULL RETURNING i.id";
static const char sql_short[] =
    "SELECT i.id, i.engine, i.replicas - (SELECT count(*) FROM members m"
    "  WHERE m.instance_id = i.id AND m.role = 'replica' AND m.desired = 'running'),"
    " p.cpu_millis, p.memory_mb, p.disk_mb,"
    " (SELECT coalesce(json_agg(o.host_id), '[]') FROM members o"
    "  WHERE o.instance_id = i.id)::text, " PLAN_IO
    " FROM " TENANT_TURNS("replicas_pending AND status IN ('running', 'degraded', 'resizing')")
    " JOIN instances i ON i.id = q.id JOIN plans p ON p.id = i.plan_id" TENANT_TURNS_ORDER;

static int exec_ok(const char *sql, int n, const char *const *params, PGresult **out, struct err *e)
{
    PGresult *res = store_exec(e, sql, n, params);

    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static void ratio_text(double r, char out[24])
{
    snprintf(out, 24, "%.3f", r);
}

/* What a placement is for. */
enum job_kind {
    JOB_INSTANCE,    /* a pending instance: its primary and replicas */
    JOB_REPLICAS,    /* replicas a PATCH asked for */
    JOB_REPLACEMENT, /* a replica rebuilt off a draining or unreachable host */
};

/* One placement to make (strings borrowed from the queue's result). */
struct job {
    enum job_kind kind;
    const char *instance_id;
    const char *replaces; /* JOB_REPLACEMENT: the member rebuilt */
    const char *engine;
    const char *others; /* JSON array of the host ids of the instance's members; NULL: none */
    int64_t need[PLACE_RES__COUNT];
    bool io; /* the plan has IO limits */
    int n;   /* members to place */
};

/* Commit the job's members on hosts[]: allocation re-checked per host, one member row each, the
 * instance moved to provisioning (JOB_INSTANCE) or its replica flag updated (JOB_REPLICAS) and an
 * event. Returns 1 when committed, 0 when the store changed under us (rolled back), -1 on
 * error. */
static int commit_members(const struct view *v, const struct place_config *cfg,
                          const struct job *job, const int *hosts, struct err *e)
{
    char cpu[24], mem[24], disk[24], rc_[24], rm[24], rd[24];
    struct buf where = BUF_INIT;
    PGresult *res = NULL;
    int i, rc = -1;

    snprintf(cpu, sizeof(cpu), "%lld", (long long)job->need[PLACE_CPU]);
    snprintf(mem, sizeof(mem), "%lld", (long long)job->need[PLACE_MEMORY]);
    snprintf(disk, sizeof(disk), "%lld", (long long)job->need[PLACE_DISK]);
    ratio_text(cfg->cpu_ratio, rc_);
    ratio_text(cfg->memory_ratio, rm);
    ratio_text(cfg->disk_ratio, rd);
    res = store_exec_simple(e, "BEGIN");
    if (!res || !store_ok(res))
        goto fail;
    PQclear(res);
    res = NULL;
    for (i = 0; i < job->n; i++) {
        const char *host_id = v->host_ids[hosts[i]];
        const char *role = job->kind == JOB_INSTANCE && i == 0 ? "primary" : "replica";
        char port_min[16], port_max[16], host_name[80];

        if (exec_ok(sql_alloc, 7, (const char *const[]){host_id, cpu, mem, disk, rc_, rm, rd}, &res,
                    e) < 0)
            goto fail;
        if (PQntuples(res) == 0) {
            rc = 0; /* the host changed since the view was loaded */
            goto rollback;
        }
        snprintf(host_name, sizeof(host_name), "%s", PQgetvalue(res, 0, 0));
        snprintf(port_min, sizeof(port_min), "%s", PQgetvalue(res, 0, 1));
        snprintf(port_max, sizeof(port_max), "%s", PQgetvalue(res, 0, 2));
        PQclear(res);
        res = NULL;
        if (exec_ok(sql_member_insert, 9,
                    (const char *const[]){job->instance_id, role, host_id, port_min, cpu, mem, disk,
                                          job->replaces, port_max},
                    &res, e) < 0) {
            if (strstr(e->msg, "duplicate key")) {
                rc = 0; /* a concurrent placement took the port or the host */
                goto rollback;
            }
            goto fail;
        }
        if (PQntuples(res) == 0) {
            err_set(e, API_E_PLACE, "host \"%s\" has no free port", host_name);
            rc = 0;
            goto rollback;
        }
        buf_printf(&where, "%s%s on %s port %s", i ? ", " : "", role, host_name,
                   PQgetvalue(res, 0, 1));
        PQclear(res);
        res = NULL;
    }
    if (job->kind != JOB_REPLACEMENT) {
        if (job->kind == JOB_INSTANCE &&
            exec_ok(sql_instance_placed, 3,
                    (const char *const[]){job->instance_id, v->host_ids[hosts[0]], buf_str(&where)},
                    &res, e) < 0)
            goto fail;
        if (job->kind == JOB_REPLICAS &&
            exec_ok(sql_replicas_placed, 2,
                    (const char *const[]){job->instance_id, buf_str(&where)}, &res, e) < 0)
            goto fail;
        if (PQntuples(res) == 0) {
            rc = 0; /* deleted or changed meanwhile */
            goto rollback;
        }
        PQclear(res);
        res = NULL;
    }
    res = store_exec_simple(e, "COMMIT");
    if (!res || !store_ok(res))
        goto fail;
    PQclear(res);
    log_info("event=placed instance=%s members=\"%s\"", job->instance_id, buf_str(&where));
    notify_bump_instance(job->instance_id);
    buf_free(&where);
    return 1;
fail:
    if (res && !store_ok(res))
        err_set(e, API_E_STORE, "%s", PQresultErrorMessage(res));
rollback:
    PQclear(res);
    {
        struct err scratch;
        PQclear(store_exec_simple(&scratch, "ROLLBACK"));
    }
    buf_free(&where);
    return rc;
}

/* Replicas to rebuild elsewhere: on a draining host, or on a host unreachable past the grace
 * period; not yet replaced. With the hosts holding the instance's other members (a member on
 * its way out still holds its host: two members of an instance never share one). */
static const char sql_to_replace[] =
    "SELECT m.id, m.instance_id, i.engine, m.cpu_millis, m.memory_mb, m.disk_mb,"
    " (SELECT coalesce(json_agg(o.host_id), '[]') FROM members o"
    "   WHERE o.instance_id = m.instance_id AND o.id <> m.id)::text, coalesce(" PLAN_IO ", false)"
    " FROM members m JOIN hosts h ON h.id = m.host_id JOIN instances i ON i.id = m.instance_id"
    " LEFT JOIN plans p ON p.id = i.plan_id"
    " WHERE m.role = 'replica' AND m.desired = 'running'"
    " AND i.status NOT IN ('deleting', 'deleted')"
    " AND (h.draining OR (h.state = 'unreachable' AND h.unreachable_since <"
    "   now() - make_interval(secs => (SELECT value::int FROM settings"
    "   WHERE key = 'unreachable_grace_s'))))"
    " AND NOT EXISTS (SELECT 1 FROM members r WHERE r.replaces = m.id)"
    " ORDER BY m.id LIMIT $1";

static int find_host_index(const struct view *v, const char *host_id)
{
    int i;

    for (i = 0; i < v->nhosts; i++)
        if (v->host_ids[i] && strcmp(v->host_ids[i], host_id) == 0)
            return i;
    return -1;
}

/* The job's refusal (reason NULL: only its turn is over) for the queue it came from. */
static int refuse(const struct job *job, const char *reason, struct err *e)
{
    const char *const params[] = {job->instance_id, reason};

    if (job->kind == JOB_INSTANCE)
        return exec_ok(sql_refused, 2, params, NULL, e);
    if (job->kind == JOB_REPLICAS)
        return exec_ok(sql_refused_replicas, 2, params, NULL, e);
    return 0; /* a replacement is tried again at the next pass */
}

/* Place one job. Returns the members placed, -2 when the store moved under us (the caller ends
 * the pass), -1 on error. */
static int place_one(struct view *v, const struct place_config *cfg, const struct job *job,
                     struct err *e)
{
    struct place_request req;
    struct place_result pres;
    struct err perr;
    int members[8], hosts[8], nmembers = 0, n = job->n, rc, k;

    memset(&req, 0, sizeof(req));
    req.engine = job->engine;
    req.io_limits = job->io;
    memcpy(req.need, job->need, sizeof(req.need));
    if (job->others) {
        json_t *others = json_loads(job->others, 0, NULL);
        size_t j;
        json_t *h;
        json_array_foreach(others, j, h)
        {
            char id[24];
            int idx;
            snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(h));
            idx = find_host_index(v, id);
            if (idx >= 0 && nmembers < 8)
                members[nmembers++] = idx;
        }
        json_decref(others);
    }
    if (n > 8 - nmembers)
        n = 8 - nmembers;
    if (n <= 0)
        return 0;
    req.members = members;
    req.n_members = nmembers;
    if (place_instance(v->cluster, &req, n, hosts, &pres) < 0)
        return refuse(job, pres.err.msg, e) < 0 ? -1 : 0;
    {
        struct job placed = *job;
        placed.n = n;
        rc = commit_members(v, cfg, &placed, hosts, e);
    }
    if (rc <= 0) {
        /* Undo the view's commitments: the next pass reloads the truth anyway. Its turn is
         * over, so that the ones behind it get theirs. */
        for (k = 0; k < n; k++)
            if (place_release(v->cluster, hosts[k], req.need, &perr) < 0)
                break;
        if (rc < 0 || refuse(job, NULL, e) < 0)
            return -1;
        return -2;
    }
    return n;
}

/* Run the jobs of one queue (rows of res read by row_job); stops when the store moved. Returns
 * the members placed, -2 when the store moved, -1 on error. */
static int run_queue(struct view *v, const struct place_config *cfg, const PGresult *res,
                     void (*row_job)(const PGresult *res, int row, struct job *job), struct err *e)
{
    int i, n, placed = 0;

    for (i = 0; i < PQntuples(res); i++) {
        struct job job;

        memset(&job, 0, sizeof(job));
        row_job(res, i, &job);
        n = place_one(v, cfg, &job, e);
        if (n < 0)
            return n;
        placed += n;
    }
    return placed;
}

static void need_of(const PGresult *res, int row, int col, int64_t need[PLACE_RES__COUNT])
{
    int k;

    for (k = 0; k < PLACE_RES__COUNT; k++)
        need[k] = strtoll(PQgetvalue(res, row, col + k), NULL, 10);
}

static void pending_job(const PGresult *res, int row, struct job *job)
{
    job->kind = JOB_INSTANCE;
    job->instance_id = PQgetvalue(res, row, 0);
    job->engine = PQgetvalue(res, row, 1);
    job->n = 1 + atoi(PQgetvalue(res, row, 2));
    need_of(res, row, 3, job->need);
    job->io = PQgetvalue(res, row, 8)[0] == 't';
}

static void short_job(const PGresult *res, int row, struct job *job)
{
    job->kind = JOB_REPLICAS;
    job->instance_id = PQgetvalue(res, row, 0);
    job->engine = PQgetvalue(res, row, 1);
    job->n = atoi(PQgetvalue(res, row, 2));
    need_of(res, row, 3, job->need);
    job->others = PQgetvalue(res, row, 6);
    job->io = PQgetvalue(res, row, 7)[0] == 't';
}

static void replace_job(const PGresult *res, int row, struct job *job)
{
    job->kind = JOB_REPLACEMENT;
    job->replaces = PQgetvalue(res, row, 0);
    job->instance_id = PQgetvalue(res, row, 1);
    job->engine = PQgetvalue(res, row, 2);
    job->n = 1;
    need_of(res, row, 3, job->need);
    job->others = PQgetvalue(res, row, 6);
    job->io = PQgetvalue(res, row, 7)[0] == 't';
}

int placement_pass(struct err *e)
{
    struct place_config cfg;
    struct view v;
    PGresult *pending = NULL, *shorts = NULL, *replace = NULL;
    char batch[16];
    int n, placed = 0, rc = -1;

    memset(&v, 0, sizeof(v));
    snprintf(batch, sizeof(batch), "%d", BATCH);
    if (exec_ok(sql_short_clear, 1, (const char *const[]){batch}, NULL, e) < 0 ||
        exec_ok(sql_pending, 1, (const char *const[]){batch}, &pending, e) < 0)
        return -1;
    if (exec_ok(sql_short, 1, (const char *const[]){batch}, &shorts, e) < 0 ||
        exec_ok(sql_to_replace, 1, (const char *const[]){batch}, &replace, e) < 0)
        goto out;
    if (PQntuples(pending) == 0 && PQntuples(shorts) == 0 && PQntuples(replace) == 0) {
        rc = 0;
        goto out;
    }
    if (load_config(&cfg, e) < 0 || load_view(&v, &cfg, e) < 0)
        goto out;
    n = run_queue(&v, &cfg, pending, pending_job, e);
    if (n >= 0) {
        placed += n;
        n = run_queue(&v, &cfg, shorts, short_job, e);
    }
    if (n >= 0) {
        placed += n;
        n = run_queue(&v, &cfg, replace, replace_job, e);
    }
    if (n == -1)
        goto out;
    if (n > 0)
        placed += n;
    rc = placed;
out:
    PQclear(pending);
    PQclear(shorts);
    PQclear(replace);
    view_free(&v);
    return rc;
}
