/* Checks shared by the create and the PATCH of an instance (api/instcheck.h). */
#include "api/instcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "control/placement.h"
#include "lib/catalog.h"

static const char sql_plan_size[] =
    "SELECT cpu_millis, memory_mb, disk_mb FROM plans WHERE name = $1";
static const char sql_tenant_quota[] =
    "SELECT max_instances, max_cpu_millis, max_memory_mb, max_disk_mb, used_instances,"
    " used_cpu_millis, used_memory_mb, used_disk_mb FROM tenants WHERE id = $1::bigint";
/* The hosts offering the engine; those that could take a member of the plan when empty (the plan
 * within each capacity times the operator's ratio, as the scheduler counts it, and its IO
 * limits only where they can be enforced); those of them that are ready and not draining: they
 * can take it now; and those that only the IO limits keep out. */
static const char sql_hosts_fit[] =
    "WITH p AS (SELECT cpu_millis, memory_mb, disk_mb, " PLACEMENT_SQL_PLAN_IO("pl") " AS io"
    "  FROM plans pl WHERE name = $2),"
    " s AS (SELECT round(max(value::numeric) FILTER (WHERE key = 'cpu_ratio'), 3) AS c,"
    "  round(max(value::numeric) FILTER (WHERE key = 'memory_ratio'), 3) AS m,"
    "  round(max(value::numeric) FILTER (WHERE key = 'disk_ratio'), 3) AS d FROM settings"
    "  WHERE key IN ('cpu_ratio', 'memory_ratio', 'disk_ratio')),"
    " f AS (SELECT h.state = 'ready' AND NOT h.draining AS open,"
    "  floor(h.cpu_millis * s.c) >= p.cpu_millis"
    "  AND floor(h.memory_mb * s.m) >= p.memory_mb AND floor(h.disk_mb * s.d) >= p.disk_mb AS big,"
    "  NOT (p.io AND " PLACEMENT_SQL_HOST_NO_IO("h") ") AS io_ok"
    "  FROM hosts h, p, s WHERE $1 = ANY (h.engines))"
    " SELECT count(*), count(*) FILTER (WHERE big AND io_ok),"
    " count(*) FILTER (WHERE big AND io_ok AND open), count(*) FILTER (WHERE big AND NOT io_ok)"
    " FROM f";

int instcheck_create_body(struct req *r, struct instcheck_create *c)
{
    static const char *const keys[] = {"name",   "engine",        "plan", "replicas", "version",
                                       "tenant", "max_lag_bytes", "sync", NULL};
    const char *version;

    memset(c, 0, sizeof(*c));
    c->max_lag = INSTCHECK_MAX_LAG_DEFAULT;
    if (body_allow(r, keys) < 0 || body_name(r, "name", true, &c->name) < 0 ||
        body_string(r, "engine", true, 16, catalog_known, "one of " CATALOG_NAMES, &c->engine) <
            0 ||
        body_name(r, "plan", true, &c->plan) < 0 ||
        body_int(r, "replicas", false, false, 0, INSTCHECK_MAX_REPLICAS, &c->replicas, NULL) < 0 ||
        body_string(r, "version", false, 16, NULL, "a version string", &version) < 0 ||
        body_name(r, "tenant", false, &c->tenant) < 0 ||
        body_int(r, "max_lag_bytes", false, false, 0, INSTCHECK_MAX_LAG_MAX, &c->max_lag, NULL) <
            0 ||
        body_bool(r, "sync", &c->sync) < 0)
        return -1;
    c->version = catalog_version(c->engine, version);
    if (!c->version)
        return http_error(r, 400, "invalid_field", "version", "version \"%s\" of %s is not offered",
                          version, c->engine);
    return 0;
}

int instcheck_patch_body(struct req *r, struct instcheck_patch *p)
{
    static const char *const keys[] = {"plan", "replicas", "max_lag_bytes", "sync", NULL};
    bool sync = false;

    memset(p, 0, sizeof(*p));
    p->replicas = p->max_lag = -1;
    p->sync = -1;
    if (body_allow(r, keys) < 0 || body_name(r, "plan", false, &p->plan) < 0 ||
        body_int(r, "replicas", false, false, 0, INSTCHECK_MAX_REPLICAS, &p->replicas, NULL) < 0 ||
        body_int(r, "max_lag_bytes", false, false, 0, INSTCHECK_MAX_LAG_MAX, &p->max_lag, NULL) <
            0 ||
        body_bool(r, "sync", &sync) < 0)
        return -1;
    if (json_object_get(r->json, "sync"))
        p->sync = sync;
    if (!p->plan && p->replicas < 0 && p->max_lag < 0 && p->sync < 0)
        return http_error(r, 400, "invalid_field", "plan",
                          "give at least one of \"plan\", \"replicas\", \"max_lag_bytes\","
                          " \"sync\"");
    p->field = p->plan            ? "plan"
               : p->replicas >= 0 ? "replicas"
               : p->max_lag >= 0  ? "max_lag_bytes"
                                  : "sync";
    return 0;
}

int instcheck_plan_size(struct req *r, const char *plan, int64_t size[3])
{
    PGresult *res = dbq_ok(r, sql_plan_size, plan);
    int k;

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return http_error(r, 400, "invalid_field", "plan", "plan \"%s\" does not exist", plan);
    }
    for (k = 0; k < 3; k++)
        size[k] = strtoll(PQgetvalue(res, 0, k), NULL, 10);
    PQclear(res);
    return 0;
}

int instcheck_quota(struct req *r, const char *tenant_id, const int64_t add[4])
{
    static const char *const names[] = {"max_instances", "cpu_millis", "memory_mb", "disk_mb"};
    PGresult *res = dbq_ok(r, sql_tenant_quota, tenant_id);
    int k, rc = 0;

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return http_error(r, 404, "not_found", "tenant", "tenant not found");
    }
    for (k = 0; k < 4; k++) {
        int64_t max, used;
        if (PQgetisnull(res, 0, k) || add[k] <= 0)
            continue;
        max = strtoll(PQgetvalue(res, 0, k), NULL, 10);
        used = strtoll(PQgetvalue(res, 0, 4 + k), NULL, 10);
        if (used + add[k] > max) {
            rc = http_error(r, 409, "quota_exceeded", names[k],
                            "quota exceeded: %s would be %lld, the limit is %lld", names[k],
                            (long long)(used + add[k]), (long long)max);
            break;
        }
    }
    PQclear(res);
    return rc;
}

int instcheck_hosts(struct req *r, const char *engine, const char *plan, int64_t members,
                    int64_t *ready)
{
    PGresult *res = dbq_ok(r, sql_hosts_fit, engine, plan);
    int64_t offering, fit, no_io;

    if (!res)
        return -1;
    offering = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    fit = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    no_io = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    if (ready)
        *ready = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    if (offering == 0 || fit >= members)
        return 0;
    return http_error(r, 422, "too_few_hosts", "replicas",
                      "%lld member%s (a primary and %lld replica%s) need as many hosts, but only "
                      "%lld of the %lld hosts offering %s can take a member of plan \"%s\" (the "
                      "others are too small%s)",
                      (long long)members, members == 1 ? "" : "s", (long long)(members - 1),
                      members == 2 ? "" : "s", (long long)fit, (long long)offering, engine, plan,
                      no_io ? ", or cannot enforce its IO limits: their data directory is on no "
                              "block device"
                            : "");
}
