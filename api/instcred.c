/* Handler: POST /v1/instances/{id}/reset-password, a new password for the instance's
 * application user (docs/api.md).
 *
 * NOTES: the password is drawn here, answered once and never stored: the store gets the
 * engine's verifier (SCRAM-SHA-256, mysql_native_password, SHA-256) in place of the old one,
 * and every member meant to run a new spec_version, so that each agent hears of it at once
 * and alters the account (agent/jobs.c: a resize whose verifier changed runs create_user; a
 * PostgreSQL or MariaDB replica gets it through replication, every Redis member by its own
 * agent). The reply waits, holding no thread, until every member runs the new spec_version
 * (200) or RESET_WAIT_MS passed (202: the old password works until each member applied it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/dbq.h"
#include "api/handlers.h"
#include "api/instview.h"
#include "control/notify.h"
#include "store/store.h"
#include "lib/catalog.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/valid.h"
#include "lib/xalloc.h"

#define PASSWORD_LEN 32
#define RESET_WAIT_MS 10000
#define RESET_POLL_MS 200

static const char sql_cred_instance[] =
    "SELECT engine, status, username FROM instances WHERE id = $1::uuid"
    " AND ($2::bigint IS NULL OR tenant_id = $2::bigint)";
static const char sql_cred_reset[] =
    "WITH u AS (UPDATE instances SET verifier = $3, updated_at = now()"
    "  WHERE id = $1::uuid AND ($2::bigint IS NULL OR tenant_id = $2::bigint)"
    "  AND status NOT IN ('deleting', 'deleted') RETURNING id, tenant_id, name),"
    " m AS (UPDATE members SET spec_version = members.spec_version + 1 FROM u"
    "  WHERE members.instance_id = u.id AND members.desired = 'running' RETURNING members.id),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $4, 'instance.password_reset',"
    "  format('instance \"%s\": the password of its application user was reset', name) FROM u)"
    " SELECT id, (SELECT count(*) FROM m) FROM u";
/* Every member meant to run runs the spec_version that carries the new verifier. */
static const char sql_cred_applied[] =
    "SELECT " INSTVIEW_COLS ", NOT EXISTS (SELECT 1 FROM members m WHERE m.instance_id = i.id"
    "  AND m.desired = 'running' AND (m.observed <> 'running' OR m.observed_version < "
    "m.spec_version))" INSTVIEW_FROM " WHERE i.id = $1::uuid";

/* The reply once applied or the wait is over; parks again (a short poll) meanwhile. */
static void reset_answer(struct req *r)
{
    uint64_t seen = notify_generation(); /* before the read: a change after it wakes the poll */
    PGresult *res = dbq_ok(r, sql_cred_applied, r->park_hash);
    int64_t now = clock_now_ms();
    bool applied;
    json_t *inst;

    if (!res)
        return;
    if (PQntuples(res) == 0) { /* cannot happen: instances are never removed */
        PQclear(res);
        http_error(r, 500, "internal", NULL, "internal error");
        return;
    }
    applied = PQgetvalue(res, 0, PQnfields(res) - 1)[0] == 't';
    if (!applied && now < r->park_value && !http_stopping()) {
        PQclear(res);
        http_park(r, 0, seen,
                  now + RESET_POLL_MS < r->park_value ? now + RESET_POLL_MS : r->park_value);
        return;
    }
    inst = instview_json(res, 0);
    /* column 17 of INSTVIEW_COLS: the application user's name */
    json_object_set_new(inst, "credentials",
                        instview_credentials(inst, PQgetvalue(res, 0, 17), r->park_secret));
    json_object_set_new(inst, "password_applied", json_boolean(applied));
    PQclear(res);
    http_reply_json(r, applied ? 200 : 202, inst);
}

void h_instance_reset_password(struct req *r)
{
    const char *id = r->params[0];
    const struct catalog_engine *ce;
    char *password = NULL, *verifier = NULL;
    PGresult *res = NULL;

    if (r->resumed) {
        reset_answer(r);
        return;
    }
    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    if (!(res = dbq_ok(r, sql_cred_instance, id, instview_scope(r))))
        return;
    if (PQntuples(res) == 0) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        goto out;
    }
    if (!(ce = catalog_find(PQgetvalue(res, 0, 0)))) {
        http_error(r, 500, "internal", NULL, "internal error");
        goto out;
    }
    PQclear(res);
    res = NULL;
    password = crypto_password_new(PASSWORD_LEN);
    verifier = password ? ce->verifier_new(password) : NULL;
    if (!verifier) {
        http_error(r, 500, "internal", NULL, "could not generate credentials");
        goto out;
    }
    if (!(res = dbq_ok(r, sql_cred_reset, id, instview_scope(r), verifier, r->who.actor)))
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = dbq_ok(r, sql_cred_instance, id, instview_scope(r));
        if (res && PQntuples(res) == 0)
            http_error(r, 404, "not_found", NULL, "instance not found");
        else if (res)
            http_error(r, 409, "conflict", NULL, "instance is %s", PQgetvalue(res, 0, 1));
        goto out;
    }
    log_info("event=password_reset instance=%s members=%s", id, PQgetvalue(res, 0, 1));
    notify_bump_instance(PQgetvalue(res, 0, 0));
    snprintf(r->park_hash, sizeof(r->park_hash), "%.36s", id); /* a valid UUID */
    r->park_secret = password;
    password = NULL;
    r->park_value = clock_now_ms() + RESET_WAIT_MS;
    reset_answer(r);
out:
    PQclear(res);
    xfree_secret(&password);
    xfree_secret(&verifier);
}
