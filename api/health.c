/* Handlers: health and metrics. */
#include <stdlib.h>
#include <string.h>

#include "api/dbq.h"
#include "api/metrics.h"
#include "api/handlers.h"
#include "store/store.h"
#include "lib/istate.h"

void h_healthz(struct req *r)
{
    if (store_ping())
        http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
    else
        http_reply_json(r, 503, json_pack("{s:s}", "status", "unavailable"));
}

static const char sql_instance_counts[] =
    "SELECT status, count(*) FROM instances WHERE status <> $1 GROUP BY status";
static const char sql_host_counts[] =
    "SELECT CASE WHEN h.draining AND NOT EXISTS (SELECT 1 FROM members m WHERE m.host_id = h.id)"
    " THEN 'drained' WHEN h.draining THEN 'draining' ELSE h.state END, count(*)"
    " FROM hosts h WHERE h.name <> $1 GROUP BY 1";

void h_metrics(struct req *r)
{
    static const char *const host_states[] = {"unknown", "ready", "unreachable", "draining",
                                              "drained"};
    struct buf out = BUF_INIT;
    PGresult *res;
    int s, i;

    metrics_render(&out);
    res = dbq_ok(r, sql_instance_counts, "deleted");
    if (!res)
        goto fail;
    buf_puts(&out, "# HELP dbaas_instances Instances by status (deleted ones excluded).\n"
                   "# TYPE dbaas_instances gauge\n");
    for (s = 0; s < IST__COUNT; s++) {
        const char *name = istate_name((enum istate)s);
        const char *count = "0";
        if (s == IST_DELETED)
            continue;
        for (i = 0; i < PQntuples(res); i++)
            if (strcmp(PQgetvalue(res, i, 0), name) == 0)
                count = PQgetvalue(res, i, 1);
        buf_printf(&out, "dbaas_instances{status=\"%s\"} %s\n", name, count);
    }
    PQclear(res);
    res = dbq_ok(r, sql_host_counts, "");
    if (!res)
        goto fail;
    buf_puts(&out, "# HELP dbaas_hosts Hosts by status.\n# TYPE dbaas_hosts gauge\n");
    for (s = 0; s < (int)(sizeof(host_states) / sizeof(host_states[0])); s++) {
        const char *count = "0";
        for (i = 0; i < PQntuples(res); i++)
            if (strcmp(PQgetvalue(res, i, 0), host_states[s]) == 0)
                count = PQgetvalue(res, i, 1);
        buf_printf(&out, "dbaas_hosts{status=\"%s\"} %s\n", host_states[s], count);
    }
    PQclear(res);
    http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&out));
    return;
fail:
    buf_free(&out);
}
