/* The scheduler's loop in dbaasd.
 *
 * NOTES: runs on the controller thread of the leader only (control/reconcile.c). Each pass loads a
 * fresh view of the hosts into a place_cluster (the store is the truth; the view lives for one
 * pass), asks scheduler/place for hosts, and commits every placement in one transaction that
 * re-checks each host's capacity with a conditional UPDATE of its allocation counters, so that
 * concurrent writers (another dbaasd, a resize) can never over-commit a host: a stale decision
 * fails, rolls back and the pass ends (the next pass sees the new state). */
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
    "SELECT id, name, zone, array_to_json(engines)::text, cpu_millis, memory_mb, disk_mb,"
    " alloc_cpu_millis, alloc_memory_mb, alloc_disk_mb, state, draining FROM hosts"
    " WHERE id > $1::bigint ORDER BY id";

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

/* Where an instance's members are: a pending instance has none; a replacement sees its
 * siblings. */
static const char sql_pending[] =
    "SELECT i.id, i.engine, i.replicas, p.cpu_millis, p.memory_mb, p.disk_mb,"
    " coalesce(i.status_reason, ''), i.tenant_id"
    " FROM instances i JOIN plans p ON p.id = i.plan_id"
    " WHERE i.status = 'pending' ORDER BY i.seq LIMIT $1";
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
static const char sql_refused[] =
    "WITH u AS (UPDATE instances SET status_reason = $2, updated_at = now()"
    "  WHERE id = $1::uuid AND status = 'pending' AND status_reason IS DISTINCT FROM $2"
    "  RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, 'scheduler', 'instance.unplaced', format('instance \"%s\" waits: %s',"
    " name, $2::text) FROM u RETURNING id";

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

/* Commit n members of one instance on hosts[]: allocation re-checked per host, one member row
 * each, the instance moved to provisioning (when it was pending: replacement == NULL) and an
 * event. Returns 1 when committed, 0 when the store changed under us (rolled back), -1 on error. */
static int commit_members(const struct view *v, const struct place_config *cfg,
                          const char *instance_id, const char *replaces, const int64_t need[3],
                          const int *hosts, int n, struct err *e)
{
    char cpu[24], mem[24], disk[24], rc_[24], rm[24], rd[24];
    struct buf where = BUF_INIT;
    PGresult *res = NULL;
    int i, rc = -1;

    snprintf(cpu, sizeof(cpu), "%lld", (long long)need[PLACE_CPU]);
    snprintf(mem, sizeof(mem), "%lld", (long long)need[PLACE_MEMORY]);
    snprintf(disk, sizeof(disk), "%lld", (long long)need[PLACE_DISK]);
    ratio_text(cfg->cpu_ratio, rc_);
    ratio_text(cfg->memory_ratio, rm);
    ratio_text(cfg->disk_ratio, rd);
    res = store_exec_simple(e, "BEGIN");
    if (!res || !store_ok(res))
        goto fail;
    PQclear(res);
    res = NULL;
    for (i = 0; i < n; i++) {
        const char *host_id = v->host_ids[hosts[i]];
        const char *role = replaces || i > 0 ? "replica" : "primary";
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
                    (const char *const[]){instance_id, role, host_id, port_min, cpu, mem, disk,
                                          replaces, port_max},
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
    if (!replaces) {
        if (exec_ok(sql_instance_placed, 3,
                    (const char *const[]){instance_id, v->host_ids[hosts[0]], buf_str(&where)},
                    &res, e) < 0)
            goto fail;
        if (PQntuples(res) == 0) {
            rc = 0; /* deleted meanwhile */
            goto rollback;
        }
        PQclear(res);
        res = NULL;
    }
    res = store_exec_simple(e, "COMMIT");
    if (!res || !store_ok(res))
        goto fail;
    PQclear(res);
    log_info("event=placed instance=%s members=\"%s\"", instance_id, buf_str(&where));
    notify_bump();
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
 * period; not yet replaced. With the hosts holding the instance's other live members. */
static const char sql_to_replace[] =
    "SELECT m.id, m.instance_id, i.engine, m.cpu_millis, m.memory_mb, m.disk_mb,"
    " (SELECT coalesce(json_agg(o.host_id), '[]') FROM members o"
    "   WHERE o.instance_id = m.instance_id AND o.id <> m.id AND o.desired = 'running')::text"
    " FROM members m JOIN hosts h ON h.id = m.host_id JOIN instances i ON i.id = m.instance_id"
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

/* Place one instance (pending == true) or one replacement replica. */
static int place_one(struct view *v, const struct place_config *cfg, const PGresult *res, int row,
                     bool pending, struct err *e)
{
    struct place_request req;
    struct place_result pres;
    struct err perr;
    int members[8], hosts[8], n, nmembers = 0, rc, k;
    const char *instance_id = PQgetvalue(res, row, pending ? 0 : 1);
    char reason[600];

    memset(&req, 0, sizeof(req));
    req.engine = PQgetvalue(res, row, 2 - (pending ? 1 : 0));
    for (k = 0; k < PLACE_RES__COUNT; k++)
        req.need[k] = strtoll(PQgetvalue(res, row, 3 + k), NULL, 10);
    if (pending) {
        n = 1 + atoi(PQgetvalue(res, row, 2));
    } else {
        json_t *others = json_loads(PQgetvalue(res, row, 6), 0, NULL);
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
        n = 1;
    }
    if (n > 8)
        n = 8;
    req.members = members;
    req.n_members = nmembers;
    if (place_instance(v->cluster, &req, n, hosts, &pres) < 0) {
        if (!pending)
            return 0;
        snprintf(reason, sizeof(reason), "%s", pres.err.msg);
        return exec_ok(sql_refused, 2, (const char *const[]){instance_id, reason}, NULL, e);
    }
    rc = commit_members(v, cfg, instance_id, pending ? NULL : PQgetvalue(res, row, 0), req.need,
                        hosts, n, e);
    if (rc <= 0) {
        /* Undo the view's commitments: the next pass reloads the truth anyway. */
        for (k = 0; k < n; k++)
            if (place_release(v->cluster, hosts[k], req.need, &perr) < 0)
                break;
        return rc < 0 ? -1 : -2;
    }
    return n;
}

int placement_pass(struct err *e)
{
    struct place_config cfg;
    struct view v;
    PGresult *pending = NULL, *replace = NULL;
    char batch[16];
    int i, n, placed = 0, rc = -1;

    memset(&v, 0, sizeof(v));
    snprintf(batch, sizeof(batch), "%d", BATCH);
    if (exec_ok(sql_pending, 1, (const char *const[]){batch}, &pending, e) < 0)
        return -1;
    if (exec_ok(sql_to_replace, 1, (const char *const[]){batch}, &replace, e) < 0)
        goto out;
    if (PQntuples(pending) == 0 && PQntuples(replace) == 0) {
        rc = 0;
        goto out;
    }
    if (load_config(&cfg, e) < 0 || load_view(&v, &cfg, e) < 0)
        goto out;
    for (i = 0; i < PQntuples(pending); i++) {
        n = place_one(&v, &cfg, pending, i, true, e);
        if (n == -2)
            break; /* the store moved: stop, the next pass reloads */
        if (n < 0)
            goto out;
        placed += n;
    }
    for (i = 0; i < PQntuples(replace); i++) {
        n = place_one(&v, &cfg, replace, i, false, e);
        if (n == -2)
            break;
        if (n < 0)
            goto out;
        placed += n;
    }
    rc = placed;
out:
    PQclear(pending);
    PQclear(replace);
    view_free(&v);
    return rc;
}
