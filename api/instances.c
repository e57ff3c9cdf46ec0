/* Handlers: instances, the tenant-facing routes. A tenant sees only its own instances: every
 * statement is scoped by the caller's tenant id (NULL for operators), and another tenant's
 * instance answers exactly like one that does not exist. The PATCH is in api/instpatch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/instcheck.h"
#include "api/instview.h"
#include "control/notify.h"
#include "control/reconcile.h"
#include "api/handlers.h"
#include "store/store.h"
#include "lib/catalog.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/istate.h"
#include "lib/log.h"
#include "lib/valid.h"
#include "lib/xalloc.h"

#define PASSWORD_LEN 32
#define USERNAME "app"
/* How long the answer to a create may wait for the scheduler to place the instance, so that its
 * credentials carry a complete URI (only when a ready host can take it). */
#define CREATE_WAIT_MS 1000

static const char sql_instance_create[] =
    "WITH p AS (SELECT id, name, cpu_millis, memory_mb, disk_mb FROM plans WHERE name = $3),"
    " t AS (UPDATE tenants SET used_instances = used_instances + 1,"
    "   used_cpu_millis = used_cpu_millis + p.cpu_millis * $5::bigint,"
    "   used_memory_mb = used_memory_mb + p.memory_mb * $5::bigint,"
    "   used_disk_mb = used_disk_mb + p.disk_mb * $5::bigint"
    "  FROM p WHERE tenants.id = $1::bigint AND p.memory_mb >= $12::bigint"
    "   AND (max_instances IS NULL OR used_instances + 1 <= max_instances)"
    "   AND (max_cpu_millis IS NULL OR used_cpu_millis + p.cpu_millis * $5::bigint <= "
    "max_cpu_millis)"
    "   AND (max_memory_mb IS NULL OR used_memory_mb + p.memory_mb * $5::bigint <= max_memory_mb)"
    "   AND (max_disk_mb IS NULL OR used_disk_mb + p.disk_mb * $5::bigint <= max_disk_mb)"
    "  RETURNING tenants.id, tenants.name),"
    " i AS (INSERT INTO instances (tenant_id, name, engine, version, plan_id, plan_name, replicas,"
    "   username, verifier, max_lag_bytes, sync)"
    "  SELECT t.id, $2, $4, $6, p.id, p.name, $5::int - 1, $11, $7, $13::bigint, $15::boolean"
    "  FROM t, p"
    "  RETURNING *),"
    " s AS (INSERT INTO instance_secrets (instance_id, repl_secret) SELECT id, $14 FROM i),"
    " k AS (INSERT INTO idempotency_keys (tenant_id, key, request_hash, instance_id)"
    "  SELECT tenant_id, $8, $9, id FROM i WHERE $8::text IS NOT NULL),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $10, 'instance.created', format('instance \"%s\" created (%s %s,"
    " plan %s, %s replicas)', name, engine, version, plan_name, replicas) FROM i)"
    " SELECT i.id, t.name FROM i, t";
static const char sql_tenant_by_name[] = "SELECT id FROM tenants WHERE name = $1";
static const char sql_idem_get[] =
    "SELECT request_hash, instance_id FROM idempotency_keys"
    " WHERE tenant_id = $1::bigint AND key = $2 AND created_at > now() - interval '24 hours'";
static const char sql_instance_new[] =
    "SELECT " INSTVIEW_COLS INSTVIEW_FROM " WHERE i.id = $1::uuid";

/* An Idempotency-Key seen before: replay (same request) or refuse (different request).
 * Returns 1 when it replied, 0 when the key is new, -1 after replying an error. */
static int idempotent_replay(struct req *r, const char *tenant_id, const char *key,
                             const char *hash)
{
    PGresult *res = dbq_ok(r, sql_idem_get, tenant_id, key);
    char id[64];

    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, 0), hash) != 0) {
        PQclear(res);
        return http_error(r, 422, "idempotency_mismatch", NULL,
                          "Idempotency-Key was already used with a different request");
    }
    snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    http_add_header(r, "Idempotent-Replayed", "true");
    instview_reply(r, 202, id);
    return 1;
}

/* The answer to a create (the instance in r->park_hash, its password in r->park_secret): the
 * instance with its credentials, once it is placed or the wait is over; until then the request
 * stays parked. */
static void create_answer(struct req *r)
{
    uint64_t seen = notify_generation(); /* before the read: a change after it wakes the poll */
    PGresult *res = dbq_ok(r, sql_instance_new, r->park_hash);
    json_t *inst;

    if (!res)
        return;
    if (PQntuples(res) == 0) { /* cannot happen: instances are never removed */
        PQclear(res);
        http_error(r, 500, "internal", NULL, "internal error");
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 7), "pending") == 0 && clock_now_ms() < r->park_deadline_ms &&
        !http_stopping()) {
        PQclear(res);
        http_park(r, 0, seen, r->park_deadline_ms);
        return;
    }
    inst = instview_json(res, 0);
    json_object_set_new(inst, "credentials", instview_credentials(inst, USERNAME, r->park_secret));
    PQclear(res);
    http_reply_json(r, 202, inst);
}

void h_instance_create(struct req *r)
{
    struct instcheck_create c;
    const char *key;
    const struct catalog_engine *ce;
    char min_mem[24], lag[24];
    struct err pe;
    int64_t ready = 0, size[3], add[4];
    char members[24], tenant_id[24], hash[65];
    char *password = NULL, *verifier = NULL, *canon = NULL, *secret = NULL;
    struct buf hashed = BUF_INIT;
    PGresult *res = NULL;
    int attempt;

    if (r->resumed) {
        create_answer(r);
        return;
    }
    if (body_parse(r, true) < 0 || instcheck_create_body(r, &c) < 0)
        goto out;
    ce = catalog_find(c.engine);
    key = http_header(r, "Idempotency-Key");
    if (key && !valid_idempotency_key(key)) {
        http_error(r, 400, "invalid_field", "Idempotency-Key",
                   "Idempotency-Key must be 1 to 255 printable ASCII characters");
        goto out;
    }
    /* Whose instance: the caller's tenant, or the one an operator names. */
    if (r->who.role == ROLE_TENANT) {
        if (c.tenant) {
            http_error(r, 400, "invalid_field", "tenant", "only operators may name a tenant");
            goto out;
        }
        snprintf(tenant_id, sizeof(tenant_id), "%s", r->who.tenant_id);
    } else {
        if (!c.tenant) {
            http_error(r, 400, "invalid_field", "tenant",
                       "field \"tenant\" is required when an operator creates an instance");
            goto out;
        }
        res = dbq_ok(r, sql_tenant_by_name, c.tenant);
        if (!res)
            goto out;
        if (PQntuples(res) == 0) {
            http_error(r, 400, "invalid_field", "tenant", "tenant \"%s\" does not exist", c.tenant);
            goto out;
        }
        snprintf(tenant_id, sizeof(tenant_id), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        res = NULL;
    }
    if (key) {
        canon = json_dumps(r->json, JSON_COMPACT | JSON_SORT_KEYS);
        buf_printf(&hashed, "%s\n%s", tenant_id, canon ? canon : "");
        crypto_sha256_hex(hashed.data, hashed.len, hash);
        if (idempotent_replay(r, tenant_id, key, hash) != 0)
            goto out;
    }
    if (instcheck_hosts(r, c.engine, c.plan, c.replicas + 1, &ready) < 0)
        goto out;

    password = crypto_password_new(PASSWORD_LEN);
    secret = crypto_password_new(PASSWORD_LEN);
    verifier = password && ce ? ce->verifier_new(password) : NULL;
    if (!verifier || !secret) {
        http_error(r, 500, "internal", NULL, "could not generate credentials");
        goto out;
    }
    dbq_i64(c.replicas + 1, members);
    dbq_i64(ce->min_memory_mb, min_mem);
    dbq_i64(c.max_lag, lag);
    for (attempt = 0; attempt < 2; attempt++) {
        res = dbq_run(r, sql_instance_create, tenant_id, c.name, c.plan, c.engine, members,
                      c.version, verifier, key, key ? hash : NULL, r->who.actor, USERNAME, min_mem,
                      lag, secret, c.sync ? "true" : "false");
        if (!res)
            goto out;
        if (dbq_unique_violation(res)) {
            /* With a key, a concurrent request with the same key may have won the race (its
             * instance has this name, or its key row is in): answer as its retry. */
            PQclear(res);
            res = NULL;
            if (key) {
                int rc = idempotent_replay(r, tenant_id, key, hash);
                if (rc != 0)
                    goto out;
            }
            http_error(r, 409, "conflict", "name", "instance \"%s\" already exists", c.name);
            goto out;
        }
        if (!store_ok(res)) {
            /* Not the store's message: a failing row would carry the secret. */
            log_error("event=sql_error method=%s path=%s sqlstate=%s what=\"create instance\"",
                      r->method, r->path, store_sqlstate(res));
            http_error(r, 500, "internal", NULL, "internal error");
            goto out;
        }
        if (PQntuples(res) == 1)
            break;
        /* No row: the plan is unknown or a quota limit would be passed. */
        PQclear(res);
        res = NULL;
        if (instcheck_plan_size(r, c.plan, size) < 0)
            goto out;
        if (catalog_check_plan(ce, size[1], &pe) < 0) {
            http_error(r, 422, "plan_too_small", "plan", "%s", pe.msg);
            goto out;
        }
        add[0] = 1;
        add[1] = size[0] * (c.replicas + 1);
        add[2] = size[1] * (c.replicas + 1);
        add[3] = size[2] * (c.replicas + 1);
        if (instcheck_quota(r, tenant_id, add) < 0)
            goto out;
    }
    if (!res) {
        http_error(r, 409, "conflict", NULL, "the tenant's usage changed concurrently; retry");
        goto out;
    }
    log_info("event=instance_created id=%s tenant=%s engine=%s plan=%s", PQgetvalue(res, 0, 0),
             PQgetvalue(res, 0, 1), c.engine, c.plan);
    snprintf(r->park_hash, sizeof(r->park_hash), "%s", PQgetvalue(res, 0, 0));
    r->park_secret = password;
    password = NULL;
    /* When a ready host can take it, the scheduler places it within moments: wait for that
     * (holding no thread), so that the credentials' URI names the members. */
    r->park_deadline_ms = ready >= c.replicas + 1 ? clock_now_ms() + CREATE_WAIT_MS : 0;
    reconcile_kick();
    create_answer(r);
out:
    PQclear(res);
    xfree_secret(&password);
    xfree_secret(&secret);
    xfree_secret(&verifier);
    free(canon);
    buf_free(&hashed);
}

static const char sql_instance_list_tenant[] =
    "SELECT " INSTVIEW_COLS INSTVIEW_FROM
    " WHERE i.tenant_id = $1::bigint AND i.status <> 'deleted'"
    " AND i.seq > $2::bigint ORDER BY i.seq LIMIT $3";
static const char sql_instance_list_all[] =
    "SELECT " INSTVIEW_COLS INSTVIEW_FROM " WHERE ($1::text IS NULL OR t.name = $1)"
    " AND i.status <> 'deleted' AND i.seq > $2::bigint ORDER BY i.seq LIMIT $3";

void h_instance_list(struct req *r)
{
    char after[24], lim[24];
    const char *tenant;
    int limit;
    PGresult *res;

    if (dbq_page_args(r, &limit, after) < 0 || dbq_tenant_arg(r, &tenant) < 0 ||
        dbq_other_tenant(r, tenant))
        return;
    dbq_i64(limit + 1, lim);
    if (r->who.role == ROLE_TENANT)
        res = dbq_ok(r, sql_instance_list_tenant, r->who.tenant_id, after, lim);
    else
        res = dbq_ok(r, sql_instance_list_all, tenant, after, lim);
    if (res)
        dbq_reply_page(r, res, limit, INSTVIEW_SEQ_COL, instview_json);
}

void h_instance_get(struct req *r)
{
    if (!valid_uuid(r->params[0])) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    instview_reply(r, 200, r->params[0]);
}

static const char sql_instance_status[] = "SELECT status FROM instances WHERE id = $1::uuid"
                                          " AND ($2::bigint IS NULL OR tenant_id = $2::bigint)";
static const char sql_instance_delete[] =
    "WITH u AS (UPDATE instances SET status = 'deleting', status_reason = NULL, updated_at = now()"
    "  WHERE id = $1::uuid AND ($2::bigint IS NULL OR tenant_id = $2::bigint)"
    "  AND status NOT IN ('deleting', 'deleted') RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $3, 'instance.deleting', format('instance \"%s\" deletion requested',"
    "  name) FROM u)"
    " SELECT " INSTVIEW_COLS " FROM u i JOIN tenants t ON t.id = i.tenant_id"
    " LEFT JOIN hosts h ON h.id = i.host_id";

void h_instance_delete(struct req *r)
{
    const char *id = r->params[0];
    PGresult *res;

    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    res = dbq_ok(r, sql_instance_delete, id, instview_scope(r), r->who.actor);
    if (!res)
        return;
    if (PQntuples(res) == 1) {
        http_reply_json(r, 202, instview_json(res, 0));
        PQclear(res);
        reconcile_kick();
        return;
    }
    PQclear(res);
    res = dbq_ok(r, sql_instance_status, id, instview_scope(r));
    if (!res)
        return;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "instance not found");
    else
        http_error(r, 409, "conflict", NULL, "instance is already %s", PQgetvalue(res, 0, 0));
    PQclear(res);
}
