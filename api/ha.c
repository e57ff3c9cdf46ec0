/* Handlers: high availability (docs/ha.md, docs/api.md): the HA settings (operator routes
 * GET/PUT /v1/ha) and an instance's switchover (POST /v1/instances/{id}/switchover, tenant
 * scoped: another tenant's instance is not found). The switchover is only recorded here; the
 * HA loop (control/ha.c) carries it out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/ha.h"
#include "api/handlers.h"
#include "api/instview.h"
#include "control/ha.h"
#include "ha/failover.h"
#include "lib/istate.h"
#include "lib/valid.h"
#include "store/store.h"

/* The settings in struct failover_config order: their names are the API's fields and the
 * ha_settings columns. */
const char *const ha_config_keys[7] = {"renew_ms", "lease_ttl_ms",         "fence_margin_ms",
                                       "grace_ms", "failover_cooldown_ms", "step_timeout_ms",
                                       NULL};

static const char sql_ha_get[] =
    "SELECT json_build_object('renew_ms', renew_ms, 'lease_ttl_ms', lease_ttl_ms,"
    " 'fence_margin_ms', fence_margin_ms, 'grace_ms', grace_ms,"
    " 'failover_cooldown_ms', failover_cooldown_ms, 'step_timeout_ms', step_timeout_ms)::text,"
    " renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms, step_timeout_ms"
    " FROM ha_settings WHERE id = $1::boolean";
static const char sql_ha_lock[] =
    "SELECT renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms,"
    " step_timeout_ms FROM ha_settings WHERE id = $1::boolean FOR UPDATE";
static const char sql_ha_put[] =
    "WITH u AS (UPDATE ha_settings SET renew_ms = $1::int, lease_ttl_ms = $2::int,"
    "  fence_margin_ms = $3::int, grace_ms = $4::int, failover_cooldown_ms = $5::int,"
    "  step_timeout_ms = $6::int WHERE id RETURNING id)"
    " INSERT INTO events (actor, kind, message) SELECT $7, 'ha.settings', format('HA settings:"
    " renew_ms %s, lease_ttl_ms %s, fence_margin_ms %s, grace_ms %s, failover_cooldown_ms %s,"
    " step_timeout_ms %s', $1, $2, $3, $4, $5, $6) FROM u RETURNING id";

void h_ha_get(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_ha_get, "true");

    if (!res)
        return;
    if (PQntuples(res) == 1)
        http_reply_json(r, 200, dbq_json(res, 0, 0));
    else
        http_error(r, 500, "internal", NULL, "the HA settings are missing from the store");
    PQclear(res);
}

int ha_config_body(struct req *r, struct failover_config *c)
{
    int64_t *const v[] = {&c->renew_ms, &c->lease_ttl_ms, &c->fence_margin_ms,
                          &c->grace_ms, &c->cooldown_ms,  &c->step_timeout_ms};
    struct err e;
    int i;

    for (i = 0; i < 6; i++) {
        int64_t n = *v[i];

        if (body_int(r, ha_config_keys[i], false, false, INT32_MIN, INT32_MAX, &n, NULL) < 0)
            return -1;
        if (failover_config_set(c, ha_config_keys[i], n, &e) < 0)
            return http_error(r, 400, "invalid_field", ha_config_keys[i], "%s", e.msg);
    }
    /* Between fields: lease_ttl_ms >= 2 * renew_ms, blamed on the field the caller gave. */
    if (failover_config_check(c, &e) < 0)
        return http_error(r, 400, "invalid_field",
                          json_object_get(r->json, "lease_ttl_ms") ? "lease_ttl_ms" : "renew_ms",
                          "%s", e.msg);
    return 0;
}

void h_ha_set(struct req *r)
{
    struct failover_config c;
    int64_t *const v[] = {&c.renew_ms, &c.lease_ttl_ms, &c.fence_margin_ms,
                          &c.grace_ms, &c.cooldown_ms,  &c.step_timeout_ms};
    char text[6][24];
    PGresult *res;
    int i;

    if (body_parse(r, true) < 0 || body_allow(r, ha_config_keys) < 0)
        return;
    if (dbq_begin(r) < 0)
        return;
    res = dbq_ok(r, sql_ha_lock, "true");
    if (!res)
        goto fail;
    if (PQntuples(res) != 1) {
        PQclear(res);
        http_error(r, 500, "internal", NULL, "the HA settings are missing from the store");
        goto fail;
    }
    for (i = 0; i < 6; i++)
        *v[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
    PQclear(res);
    if (ha_config_body(r, &c) < 0)
        goto fail;
    for (i = 0; i < 6; i++)
        dbq_i64(*v[i], text[i]);
    res = dbq_ok(r, sql_ha_put, text[0], text[1], text[2], text[3], text[4], text[5], r->who.actor);
    if (!res)
        goto fail;
    PQclear(res);
    if (dbq_commit(r) < 0)
        return;
    h_ha_get(r);
    return;
fail:
    dbq_rollback();
}

static const char sql_switch_lock[] =
    "SELECT i.status, (SELECT m.id FROM members m WHERE m.instance_id = i.id"
    "  AND m.role = 'primary' AND m.desired = 'running' ORDER BY m.id LIMIT 1),"
    " (SELECT count(*) FROM members m WHERE m.instance_id = i.id AND m.role = 'replica'"
    "  AND m.desired = 'running')"
    " FROM instances i WHERE i.id = $1::uuid AND ($2::bigint IS NULL OR i.tenant_id = $2::bigint)"
    " FOR UPDATE OF i";
static const char sql_switch_target[] =
    "SELECT 1 FROM members WHERE id = $2::bigint AND instance_id = $1::uuid AND role = 'replica'"
    " AND desired = 'running'";
static const char sql_switch_new[] =
    "WITH f AS (INSERT INTO failovers (instance_id, kind, state, from_member, to_member, reason,"
    "  actor) VALUES ($1::uuid, 'switchover', 'detected', $2::bigint, $3::bigint, $4, $5)"
    "  ON CONFLICT (instance_id) WHERE state IN ('detected', 'fencing', 'promoting')"
    "  DO NOTHING RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT i.tenant_id, i.id, $5, 'instance.switchover.detected', format('instance \"%s\":"
    "  switchover requested (%s)', i.name, $4::text) FROM f JOIN instances i ON i.id = "
    "f.instance_id)"
    " SELECT " INSTVIEW_FAILOVER("f") " FROM f";

void h_instance_switchover(struct req *r)
{
    static const char *const allowed[] = {"to", NULL};
    const char *id = r->params[0];
    char to_text[24], reason[160];
    int64_t to = 0;
    enum istate st;
    PGresult *res = NULL;

    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    if (body_parse(r, false) < 0 || body_allow(r, allowed) < 0 ||
        body_int(r, "to", false, false, 1, INT64_MAX, &to, NULL) < 0)
        return;
    if (dbq_begin(r) < 0)
        return;
    res = dbq_ok(r, sql_switch_lock, id, instview_scope(r));
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        goto fail;
    }
    if (istate_parse(PQgetvalue(res, 0, 0), &st) < 0 || (st != IST_RUNNING && st != IST_DEGRADED)) {
        http_error(r, 409, "conflict", NULL, "an instance in state %s cannot switch over",
                   PQgetvalue(res, 0, 0));
        goto fail;
    }
    if (PQgetisnull(res, 0, 1) || strcmp(PQgetvalue(res, 0, 2), "0") == 0) {
        http_error(r, 409, "conflict", NULL, "the instance has no replica to switch over to");
        goto fail;
    }
    {
        char from[24];
        snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 1));
        PQclear(res);
        res = NULL;
        if (to > 0) {
            dbq_i64(to, to_text);
            res = dbq_ok(r, sql_switch_target, id, to_text);
            if (!res)
                goto fail;
            if (PQntuples(res) == 0) {
                http_error(r, 422, "invalid_target", "to",
                           "member %s is not a replica of this instance", to_text);
                goto fail;
            }
            PQclear(res);
            res = NULL;
        }
        if (to > 0)
            snprintf(reason, sizeof(reason), "asked by %s, to member %s", r->who.actor, to_text);
        else
            snprintf(reason, sizeof(reason), "asked by %s, to the best replica", r->who.actor);
        res = dbq_ok(r, sql_switch_new, id, from, to > 0 ? to_text : NULL, reason, r->who.actor);
    }
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        http_error(r, 409, "conflict", NULL, "a failover or switchover is already in flight");
        goto fail;
    }
    if (dbq_commit(r) < 0)
        goto out;
    http_reply_json(r, 202, dbq_json(res, 0, 0));
    ha_kick();
    goto out;
fail:
    dbq_rollback();
out:
    PQclear(res);
}
