/* Handlers: plans, the sizes instances are made in (operator routes, but for reading them). */
#include <stdint.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"
#include "api/plans.h"
#include "store/store.h"

#define PLAN_COLS                                                                                  \
    "name, cpu_millis, memory_mb, disk_mb, read_iops, write_iops, read_bps, write_bps,"            \
    " iso(created_at), id"

static json_t *plan_json(const PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", dbq_str(res, i, 0),
                     "cpu_millis", dbq_int(res, i, 1), "memory_mb", dbq_int(res, i, 2), "disk_mb",
                     dbq_int(res, i, 3), "read_iops", dbq_int(res, i, 4), "write_iops",
                     dbq_int(res, i, 5), "read_bps", dbq_int(res, i, 6), "write_bps",
                     dbq_int(res, i, 7), "created_at", dbq_str(res, i, 8));
}

static const char sql_plan_create[] =
    "INSERT INTO plans (name, cpu_millis, memory_mb, disk_mb, read_iops, write_iops, read_bps,"
    " write_bps) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING " PLAN_COLS;

int plans_body(struct req *r, struct plans_body *out)
{
    static const char *const keys[] = {"name",     "cpu_millis", "memory_mb",
                                       "disk_mb",  "read_iops",  "write_iops",
                                       "read_bps", "write_bps",  NULL};
    static const int64_t max[PLANS_SIZES] = {1000000,          INT64_C(1) << 30, INT64_C(1) << 40,
                                             INT64_C(1) << 40, INT64_C(1) << 40, INT64_C(1) << 50,
                                             INT64_C(1) << 50};
    int i;

    memset(out, 0, sizeof(*out));
    if (body_allow(r, keys) < 0 || body_name(r, "name", true, &out->name) < 0)
        return -1;
    for (i = 0; i < PLANS_SIZES; i++)
        if (body_int(r, keys[i + 1], i < 3, false, i < 3 ? 1 : 0, max[i], &out->size[i], NULL) < 0)
            return -1;
    return 0;
}

void h_plan_create(struct req *r)
{
    struct plans_body p;
    char vals[PLANS_SIZES][24];
    PGresult *res;
    int i;

    if (body_parse(r, true) < 0 || plans_body(r, &p) < 0)
        return;
    for (i = 0; i < PLANS_SIZES; i++)
        dbq_i64(p.size[i], vals[i]);
    res = dbq_run(r, sql_plan_create, p.name, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5],
                  vals[6]);
    if (res)
        dbq_reply_created(r, res, "plan", p.name, plan_json);
}

static const char sql_plan_list[] =
    "SELECT " PLAN_COLS " FROM plans WHERE id > $1 ORDER BY id LIMIT $2";

void h_plan_list(struct req *r)
{
    dbq_list(r, sql_plan_list, 9, plan_json);
}

static const char sql_plan_get[] = "SELECT " PLAN_COLS " FROM plans WHERE name = $1";

void h_plan_get(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_plan_get, r->params[0]);

    if (res)
        dbq_reply_one(r, res, 200, plan_json, "plan");
}

static const char sql_plan_delete[] = "DELETE FROM plans WHERE name = $1 RETURNING id";

void h_plan_delete(struct req *r)
{
    PGresult *res = dbq_run(r, sql_plan_delete, r->params[0]);

    if (!res)
        return;
    if (dbq_fk_violation(res))
        http_error(r, 409, "conflict", NULL, "plan \"%s\" is in use by instances", r->params[0]);
    else if (!store_ok(res))
        dbq_sql_error(r, res);
    else if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "plan not found");
    else
        http_reply_empty(r, 204);
    PQclear(res);
}
