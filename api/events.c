/* Handlers: the events (who changed what, when and why) that operators and tenants list; a
 * tenant sees only its own. */
#include "api/dbq.h"
#include "api/handlers.h"
#include "lib/valid.h"

#define EVENT_COLS                                                                                 \
    "SELECT e.id, iso(e.at), t.name, e.instance_id, e.actor, e.kind, e.message"                    \
    " FROM events e LEFT JOIN tenants t ON t.id = e.tenant_id"

static json_t *event_json(const PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", dbq_int(res, i, 0), "at",
                     dbq_str(res, i, 1), "tenant", dbq_str(res, i, 2), "instance_id",
                     dbq_str(res, i, 3), "actor", dbq_str(res, i, 4), "kind", dbq_str(res, i, 5),
                     "message", dbq_str(res, i, 6));
}

static const char sql_events_tenant[] =
    EVENT_COLS " WHERE e.tenant_id = $1::bigint AND e.id > $2::bigint"
               " AND ($3::uuid IS NULL OR e.instance_id = $3::uuid) ORDER BY e.id LIMIT $4";
static const char sql_events_all[] =
    EVENT_COLS " WHERE ($1::text IS NULL OR t.name = $1) AND e.id > $2::bigint"
               " AND ($3::uuid IS NULL OR e.instance_id = $3::uuid) ORDER BY e.id LIMIT $4";

void h_event_list(struct req *r)
{
    char after[24], lim[24];
    const char *tenant, *instance = http_query(r, "instance");
    int limit;
    PGresult *res;

    if (dbq_page_args(r, &limit, after) < 0 || dbq_tenant_arg(r, &tenant) < 0)
        return;
    if (instance && !valid_uuid(instance)) {
        http_error(r, 400, "invalid_field", "instance", "instance must be an instance id");
        return;
    }
    if (dbq_other_tenant(r, tenant))
        return;
    dbq_i64(limit + 1, lim);
    if (r->who.role == ROLE_TENANT)
        res = dbq_ok(r, sql_events_tenant, r->who.tenant_id, after, instance, lim);
    else
        res = dbq_ok(r, sql_events_all, tenant, after, instance, lim);
    if (res)
        dbq_reply_page(r, res, limit, 0, event_json);
}
