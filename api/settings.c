/* Handlers: the scheduler's settings (operator routes): placement policy, overcommit ratios and
 * host liveness timeouts, read by control/placement.c and control/reconcile.c. */
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"

static const char sql_settings_get[] =
    "SELECT json_object_agg(key, CASE WHEN key = 'policy' THEN to_json(value)"
    " ELSE to_json(value::numeric) END)::text FROM settings WHERE key <> $1";
static const char sql_setting_put[] = "UPDATE settings SET value = $2 WHERE key = $1 RETURNING key";

static void reply_settings(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_settings_get, "");

    if (!res)
        return;
    http_reply_json(r, 200, dbq_json(res, 0, 0));
    PQclear(res);
}

void h_scheduler_get(struct req *r)
{
    reply_settings(r);
}

void h_scheduler_set(struct req *r)
{
    static const char *const keys[] = {"policy",
                                       "cpu_ratio",
                                       "memory_ratio",
                                       "disk_ratio",
                                       "heartbeat_timeout_ms",
                                       "unreachable_grace_s",
                                       NULL};
    const char *policy = NULL;
    char text[6][32];
    const char *values[6] = {NULL};
    json_t *v;
    int i;

    if (body_parse(r, true) < 0 || body_allow(r, keys) < 0)
        return;
    if (body_string(r, "policy", false, 16, NULL, "\"binpack\" or \"spread\"", &policy) < 0)
        return;
    if (policy && strcmp(policy, "binpack") != 0 && strcmp(policy, "spread") != 0) {
        http_error(r, 400, "invalid_field", "policy", "policy must be \"binpack\" or \"spread\"");
        return;
    }
    values[0] = policy;
    for (i = 1; i <= 3; i++) {
        v = json_object_get(r->json, keys[i]);
        if (!v)
            continue;
        if (!json_is_number(v) || json_number_value(v) < 0.001 || json_number_value(v) > 4.0) {
            http_error(r, 400, "invalid_field", keys[i], "%s must be a number from 0.001 to 4",
                       keys[i]);
            return;
        }
        snprintf(text[i], sizeof(text[i]), "%.3f", json_number_value(v));
        values[i] = text[i];
    }
    for (i = 4; i <= 5; i++) {
        int64_t n = 0;
        if (body_int(r, keys[i], false, false, i == 4 ? 1000 : 0, i == 4 ? 600000 : 86400, &n,
                     NULL) < 0)
            return;
        if (json_object_get(r->json, keys[i])) {
            dbq_i64(n, text[i]);
            values[i] = text[i];
        }
    }
    if (dbq_begin(r) < 0)
        return;
    for (i = 0; i < 6; i++) {
        PGresult *res;
        if (!values[i])
            continue;
        res = dbq_ok(r, sql_setting_put, keys[i], values[i]);
        if (!res) {
            dbq_rollback();
            return;
        }
        PQclear(res);
    }
    if (dbq_commit(r) < 0)
        return;
    reply_settings(r);
}
