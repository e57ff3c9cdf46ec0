/* Handlers: the scheduler's settings (operator routes): placement policy, overcommit ratios and
 * host liveness timeouts, read by control/placement.c and control/reconcile.c. */
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"
#include "api/settings.h"

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

const char *const settings_scheduler_keys[SETTINGS_SCHEDULER_N + 1] = {"policy",
                                                                       "cpu_ratio",
                                                                       "memory_ratio",
                                                                       "disk_ratio",
                                                                       "heartbeat_timeout_ms",
                                                                       "unreachable_grace_s",
                                                                       NULL};

int settings_scheduler_body(struct req *r, struct settings_scheduler *out)
{
    const char *const *keys = settings_scheduler_keys;
    const char *policy = NULL;
    json_t *v;
    int i;

    memset(out, 0, sizeof(*out));
    if (body_string(r, "policy", false, 16, NULL, "\"binpack\" or \"spread\"", &policy) < 0)
        return -1;
    if (policy && strcmp(policy, "binpack") != 0 && strcmp(policy, "spread") != 0)
        return http_error(r, 400, "invalid_field", "policy",
                          "policy must be \"binpack\" or \"spread\"");
    out->values[0] = policy;
    for (i = 1; i <= 3; i++) {
        v = json_object_get(r->json, keys[i]);
        if (!v)
            continue;
        if (!json_is_number(v) || json_number_value(v) < 0.001 || json_number_value(v) > 4.0)
            return http_error(r, 400, "invalid_field", keys[i],
                              "%s must be a number from 0.001 to 4", keys[i]);
        snprintf(out->text[i], sizeof(out->text[i]), "%.3f", json_number_value(v));
        out->values[i] = out->text[i];
    }
    for (i = 4; i <= 5; i++) {
        int64_t n = 0;
        if (body_int(r, keys[i], false, false, i == 4 ? 1000 : 0, i == 4 ? 600000 : 86400, &n,
                     NULL) < 0)
            return -1;
        if (json_object_get(r->json, keys[i])) {
            dbq_i64(n, out->text[i]);
            out->values[i] = out->text[i];
        }
    }
    return 0;
}

void h_scheduler_set(struct req *r)
{
    struct settings_scheduler s;
    int i;

    if (body_parse(r, true) < 0 || body_allow(r, settings_scheduler_keys) < 0 ||
        settings_scheduler_body(r, &s) < 0)
        return;
    if (dbq_begin(r) < 0)
        return;
    for (i = 0; i < SETTINGS_SCHEDULER_N; i++) {
        PGresult *res;
        if (!s.values[i])
            continue;
        res = dbq_ok(r, sql_setting_put, settings_scheduler_keys[i], s.values[i]);
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
