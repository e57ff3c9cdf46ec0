/* Handlers: health and metrics. */
#include <stdbool.h>
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

/* Each member meant to run, with what member_health says of its replication. */
static const char sql_member_gauges[] =
    "SELECT t.name, i.name, m.id, v.shown_role = 'primary',"
    " coalesce(v.alive, m.observed = 'running'), v.lag_bytes, v.lag_seconds"
    " FROM members m JOIN member_health v ON v.id = m.id JOIN instances i ON i.id = m.instance_id"
    " JOIN tenants t ON t.id = i.tenant_id WHERE m.desired = 'running' AND i.status <> $1"
    " ORDER BY i.seq, m.id";
static const char sql_instance_counts[] =
    "SELECT status, count(*) FROM instances WHERE status <> $1 GROUP BY status";
static const char sql_host_counts[] =
    "SELECT CASE WHEN h.draining AND NOT EXISTS (SELECT 1 FROM members m WHERE m.host_id = h.id)"
    " THEN 'drained' WHEN h.draining THEN 'draining' ELSE h.state END, count(*)"
    " FROM hosts h WHERE h.name <> $1 GROUP BY 1";

/* A label value as the exposition format wants it: backslash, double quote and line feed
 * escaped. */
static void label_value(struct buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(out, "\\\\");
        else if (*s == '"')
            buf_puts(out, "\\\"");
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_append(out, s, 1);
    }
}

/* One gauge family over the rows of sql_member_gauges: column col, a number, or a boolean as
 * 1/0; rows where it is NULL are left out. */
static void member_gauge(struct buf *out, const PGresult *res, const char *name, const char *help,
                         int col, bool boolean)
{
    int i;

    buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, col))
            continue;
        buf_printf(out, "%s{tenant=\"", name);
        label_value(out, PQgetvalue(res, i, 0));
        buf_puts(out, "\",instance=\"");
        label_value(out, PQgetvalue(res, i, 1));
        buf_puts(out, "\",member=\"");
        label_value(out, PQgetvalue(res, i, 2));
        if (boolean)
            buf_printf(out, "\"} %d\n", PQgetvalue(res, i, col)[0] == 't');
        else
            buf_printf(out, "\"} %s\n", PQgetvalue(res, i, col));
    }
}

static void member_gauges(struct buf *out, const PGresult *res)
{
    member_gauge(
        out, res, "dbaas_member_role",
        "Role of each member meant to run, as its engine reports it: 1 primary, 0 replica.", 3,
        true);
    member_gauge(out, res, "dbaas_member_health",
                 "1 when the member's last health probe answered (without a probe: when it runs).",
                 4, true);
    member_gauge(out, res, "dbaas_member_lag_bytes",
                 "Bytes a replica is behind its primary (replicas whose lag is known).", 5, false);
    member_gauge(out, res, "dbaas_member_lag_seconds",
                 "Seconds a replica is behind its primary (replicas whose lag is known).", 6,
                 false);
}

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
    res = dbq_ok(r, sql_member_gauges, "deleted");
    if (!res)
        goto fail;
    member_gauges(&out, res);
    PQclear(res);
    http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&out));
    return;
fail:
    buf_free(&out);
}
