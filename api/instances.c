/* Handlers: instances, the tenant-facing routes. A tenant sees only its own instances: every
 * statement is scoped by the caller's tenant id (NULL for operators), and another tenant's
 * instance answers exactly like one that does not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/dbq.h"
#include "control/notify.h"
#include "control/reconcile.h"
#include "api/handlers.h"
#include "store/store.h"
#include "lib/catalog.h"
#include "lib/crypto.h"
#include "lib/istate.h"
#include "lib/log.h"
#include "lib/valid.h"

#define PASSWORD_LEN 32
#define USERNAME "app"
#define MAX_REPLICAS 5

#define INSTANCE_COLS                                                                              \
    "i.id, i.name, t.name, i.engine, i.version, i.plan_name, i.replicas, i.status,"                \
    " i.status_reason, h.name, iso(i.created_at), iso(i.updated_at), i.seq,"                       \
    " (SELECT json_agg(json_build_object('id', m.id, 'role', m.role, 'host', mh.name,"             \
    "  'address', mh.address, 'zone', mh.zone, 'port', m.port, 'status', m.observed,"              \
    "  'desired', m.desired, 'error', m.observed_error, 'restarts', m.restarts, 'pid', m.pid,"     \
    "  'usage', m.usage)"                                                                          \
    "  ORDER BY m.role, m.id) FROM members m JOIN hosts mh ON mh.id = m.host_id"                   \
    "  WHERE m.instance_id = i.id)::text, i.storage_full"
#define INSTANCE_FROM                                                                              \
    " FROM instances i JOIN tenants t ON t.id = i.tenant_id LEFT JOIN hosts h ON h.id = i.host_id"

static json_t *instance_base_json(const PGresult *res, int i);

static json_t *instance_json(const PGresult *res, int i)
{
    json_t *inst = instance_base_json(res, i);
    json_t *members = PQnfields(res) > 13 ? dbq_json(res, i, 13) : json_null();
    json_t *endpoints = json_object();
    json_t *m;
    size_t k;

    if (!json_is_array(members)) {
        json_decref(members);
        members = json_array();
    }
    json_array_foreach(members, k, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *desired = json_string_value(json_object_get(m, "desired"));
        json_t *ep;
        if (!role || !desired || strcmp(desired, "running") != 0)
            continue;
        ep = json_pack("{s:O,s:O}", "host", json_object_get(m, "address"), "port",
                       json_object_get(m, "port"));
        if (strcmp(role, "primary") == 0) {
            json_object_set_new(endpoints, "primary", ep);
        } else {
            json_t *replicas = json_object_get(endpoints, "replicas");
            if (!replicas) {
                replicas = json_array();
                json_object_set_new(endpoints, "replicas", replicas);
            }
            json_array_append_new(replicas, ep);
        }
    }
    json_object_set_new(inst, "members", members);
    json_object_set_new(inst, "endpoints", endpoints);
    json_object_set_new(inst, "storage_full",
                        json_boolean(PQnfields(res) > 14 && PQgetvalue(res, i, 14)[0] == 't'));
    return inst;
}

static json_t *instance_base_json(const PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", dbq_str(res, i, 0),
                     "name", dbq_str(res, i, 1), "tenant", dbq_str(res, i, 2), "engine",
                     dbq_str(res, i, 3), "version", dbq_str(res, i, 4), "plan", dbq_str(res, i, 5),
                     "replicas", dbq_int(res, i, 6), "status", dbq_str(res, i, 7), "status_reason",
                     dbq_str(res, i, 8), "host", dbq_str(res, i, 9), "created_at",
                     dbq_str(res, i, 10), "updated_at", dbq_str(res, i, 11));
}

/* The caller's tenant scope: its tenant id, or NULL (all tenants) for operators. */
static const char *scope(const struct req *r)
{
    return r->who.role == ROLE_TENANT ? r->who.tenant_id : NULL;
}

static const char sql_instance_get[] =
    "SELECT " INSTANCE_COLS INSTANCE_FROM
    " WHERE i.id = $1::uuid AND ($2::bigint IS NULL OR i.tenant_id = $2::bigint)";

/* Reply with instance id as the caller may see it (404 otherwise). */
static void reply_instance(struct req *r, unsigned status, const char *id)
{
    PGresult *res = dbq_ok(r, sql_instance_get, id, scope(r));

    if (!res)
        return;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "instance not found");
    else
        http_reply_json(r, status, instance_json(res, 0));
    PQclear(res);
}

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
    "   username, verifier)"
    "  SELECT t.id, $2, $4, $6, p.id, p.name, $5::int - 1, $11, $7 FROM t, p RETURNING *),"
    " k AS (INSERT INTO idempotency_keys (tenant_id, key, request_hash, instance_id)"
    "  SELECT tenant_id, $8, $9, id FROM i WHERE $8::text IS NOT NULL),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $10, 'instance.created', format('instance \"%s\" created (%s %s,"
    " plan %s, %s replicas)', name, engine, version, plan_name, replicas) FROM i)"
    " SELECT i.id, i.name, t.name, i.engine, i.version, i.plan_name, i.replicas, i.status,"
    " i.status_reason, NULL::text, iso(i.created_at), iso(i.updated_at), i.seq FROM i, t";
static const char sql_tenant_by_name[] = "SELECT id FROM tenants WHERE name = $1";
static const char sql_plan_size[] =
    "SELECT cpu_millis, memory_mb, disk_mb FROM plans WHERE name = $1";
static const char sql_tenant_quota[] =
    "SELECT max_instances, max_cpu_millis, max_memory_mb, max_disk_mb, used_instances,"
    " used_cpu_millis, used_memory_mb, used_disk_mb FROM tenants WHERE id = $1::bigint";
static const char sql_idem_get[] =
    "SELECT request_hash, instance_id FROM idempotency_keys"
    " WHERE tenant_id = $1::bigint AND key = $2 AND created_at > now() - interval '24 hours'";

/* Name the quota limit that adding (instances, cpu, mem, disk) to tenant's usage would pass.
 * Replies 409 quota_exceeded and returns -1; returns 0 when nothing would be passed (a race with
 * a concurrent delete: the caller may retry). */
static int explain_quota(struct req *r, const char *tenant_id, const int64_t add[4])
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

/* Plan size into size[0..2]; 0, or -1 after replying 400 naming "plan". */
static int plan_size(struct req *r, const char *plan, int64_t size[3])
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
    reply_instance(r, 202, id);
    return 1;
}

void h_instance_create(struct req *r)
{
    static const char *const keys[] = {"name",    "engine", "plan", "replicas",
                                       "version", "tenant", NULL};
    const char *name, *engine, *plan, *version, *tenant, *key, *canon_version;
    const struct catalog_engine *ce;
    char min_mem[24];
    struct err pe;
    int64_t replicas = 0, size[3], add[4];
    char members[24], tenant_id[24], hash[65];
    char *password = NULL, *verifier = NULL, *canon = NULL;
    struct buf hashed = BUF_INIT;
    PGresult *res = NULL;
    json_t *inst;
    int attempt;

    if (body_parse(r, true) < 0 || body_allow(r, keys) < 0 ||
        body_name(r, "name", true, &name) < 0 ||
        body_string(r, "engine", true, 16, catalog_known, "one of " CATALOG_NAMES, &engine) < 0 ||
        body_name(r, "plan", true, &plan) < 0 ||
        body_int(r, "replicas", false, false, 0, MAX_REPLICAS, &replicas, NULL) < 0 ||
        body_string(r, "version", false, 16, NULL, "a version string", &version) < 0 ||
        body_name(r, "tenant", false, &tenant) < 0)
        goto out;
    ce = catalog_find(engine);
    canon_version = catalog_version(engine, version);
    if (!canon_version) {
        http_error(r, 400, "invalid_field", "version", "version \"%s\" of %s is not offered",
                   version, engine);
        goto out;
    }
    key = http_header(r, "Idempotency-Key");
    if (key && !valid_idempotency_key(key)) {
        http_error(r, 400, "invalid_field", "Idempotency-Key",
                   "Idempotency-Key must be 1 to 255 printable ASCII characters");
        goto out;
    }
    /* Whose instance: the caller's tenant, or the one an operator names. */
    if (r->who.role == ROLE_TENANT) {
        if (tenant) {
            http_error(r, 400, "invalid_field", "tenant", "only operators may name a tenant");
            goto out;
        }
        snprintf(tenant_id, sizeof(tenant_id), "%s", r->who.tenant_id);
    } else {
        if (!tenant) {
            http_error(r, 400, "invalid_field", "tenant",
                       "field \"tenant\" is required when an operator creates an instance");
            goto out;
        }
        res = dbq_ok(r, sql_tenant_by_name, tenant);
        if (!res)
            goto out;
        if (PQntuples(res) == 0) {
            http_error(r, 400, "invalid_field", "tenant", "tenant \"%s\" does not exist", tenant);
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

    password = crypto_password_new(PASSWORD_LEN);
    verifier = password && ce ? ce->verifier_new(password) : NULL;
    if (!verifier) {
        http_error(r, 500, "internal", NULL, "could not generate credentials");
        goto out;
    }
    dbq_i64(replicas + 1, members);
    dbq_i64(ce->min_memory_mb, min_mem);
    for (attempt = 0; attempt < 2; attempt++) {
        res = dbq_run(r, sql_instance_create, tenant_id, name, plan, engine, members, canon_version,
                      verifier, key, key ? hash : NULL, r->who.actor, USERNAME, min_mem);
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
            http_error(r, 409, "conflict", "name", "instance \"%s\" already exists", name);
            goto out;
        }
        if (!store_ok(res)) {
            dbq_sql_error(r, res);
            goto out;
        }
        if (PQntuples(res) == 1)
            break;
        /* No row: the plan is unknown or a quota limit would be passed. */
        PQclear(res);
        res = NULL;
        if (plan_size(r, plan, size) < 0)
            goto out;
        if (catalog_check_plan(ce, size[1], &pe) < 0) {
            http_error(r, 422, "plan_too_small", "plan", "%s", pe.msg);
            goto out;
        }
        add[0] = 1;
        add[1] = size[0] * (replicas + 1);
        add[2] = size[1] * (replicas + 1);
        add[3] = size[2] * (replicas + 1);
        if (explain_quota(r, tenant_id, add) < 0)
            goto out;
    }
    if (!res) {
        http_error(r, 409, "conflict", NULL, "the tenant's usage changed concurrently; retry");
        goto out;
    }
    inst = instance_json(res, 0);
    json_object_set_new(inst, "credentials",
                        json_pack("{s:s,s:s}", "username", USERNAME, "password", password));
    log_info("event=instance_created id=%s tenant=%s engine=%s plan=%s", PQgetvalue(res, 0, 0),
             PQgetvalue(res, 0, 2), engine, plan);
    http_reply_json(r, 202, inst);
    reconcile_kick();
out:
    PQclear(res);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    free(verifier);
    free(canon);
    buf_free(&hashed);
}

static const char sql_instance_list_tenant[] =
    "SELECT " INSTANCE_COLS INSTANCE_FROM
    " WHERE i.tenant_id = $1::bigint AND i.status <> 'deleted'"
    " AND i.seq > $2::bigint ORDER BY i.seq LIMIT $3";
static const char sql_instance_list_all[] =
    "SELECT " INSTANCE_COLS INSTANCE_FROM " WHERE ($1::text IS NULL OR t.name = $1)"
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
        dbq_reply_page(r, res, limit, 12, instance_json);
}

void h_instance_get(struct req *r)
{
    if (!valid_uuid(r->params[0])) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    reply_instance(r, 200, r->params[0]);
}

static const char sql_resize_lock[] =
    "SELECT i.status, i.replicas, i.tenant_id, p.cpu_millis, p.memory_mb, p.disk_mb, i.plan_name,"
    " i.engine"
    " FROM instances i JOIN plans p ON p.id = i.plan_id"
    " WHERE i.id = $1::uuid AND ($2::bigint IS NULL OR i.tenant_id = $2::bigint)"
    " FOR UPDATE OF i";
static const char sql_resize_quota[] =
    "UPDATE tenants SET used_cpu_millis = used_cpu_millis + $2::bigint,"
    " used_memory_mb = used_memory_mb + $3::bigint, used_disk_mb = used_disk_mb + $4::bigint"
    " WHERE id = $1::bigint"
    " AND ($2::bigint <= 0 OR max_cpu_millis IS NULL OR used_cpu_millis + $2::bigint <= "
    "max_cpu_millis)"
    " AND ($3::bigint <= 0 OR max_memory_mb IS NULL OR used_memory_mb + $3::bigint <= "
    "max_memory_mb)"
    " AND ($4::bigint <= 0 OR max_disk_mb IS NULL OR used_disk_mb + $4::bigint <= max_disk_mb)"
    " RETURNING id";
static const char sql_resize_hosts[] =
    "WITH ms AS (SELECT host_id FROM members WHERE instance_id = $1::uuid AND desired = 'running'),"
    " u AS (UPDATE hosts h SET alloc_cpu_millis = alloc_cpu_millis + $2::bigint,"
    "  alloc_memory_mb = alloc_memory_mb + $3::bigint, alloc_disk_mb = alloc_disk_mb + $4::bigint"
    "  FROM ms WHERE h.id = ms.host_id"
    "  AND ($2::bigint <= 0 OR alloc_cpu_millis + $2::bigint <= floor(cpu_millis *"
    "   (SELECT value::numeric FROM settings WHERE key = 'cpu_ratio')))"
    "  AND ($3::bigint <= 0 OR alloc_memory_mb + $3::bigint <= floor(memory_mb *"
    "   (SELECT value::numeric FROM settings WHERE key = 'memory_ratio')))"
    "  AND ($4::bigint <= 0 OR alloc_disk_mb + $4::bigint <= floor(disk_mb *"
    "   (SELECT value::numeric FROM settings WHERE key = 'disk_ratio')))"
    "  RETURNING h.id)"
    " SELECT (SELECT count(*) FROM ms) = (SELECT count(*) FROM u),"
    " (SELECT string_agg(h.name, ', ') FROM hosts h JOIN ms ON ms.host_id = h.id"
    "  WHERE h.id NOT IN (SELECT id FROM u))";
static const char sql_resize_members[] =
    "UPDATE members SET cpu_millis = $2::bigint, memory_mb = $3::bigint, disk_mb = $4::bigint,"
    " spec_version = spec_version + 1 WHERE instance_id = $1::uuid AND desired = 'running'"
    " RETURNING id";
static const char sql_resize_apply[] =
    "WITH u AS (UPDATE instances SET plan_id = p.id, plan_name = p.name, status = $3,"
    "  updated_at = now() FROM plans p WHERE instances.id = $1::uuid AND p.name = $2"
    "  RETURNING instances.*)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, $4, 'instance.resize', format('instance \"%s\" resized from plan %s"
    " to %s', name, $5::text, plan_name) FROM u RETURNING id";

void h_instance_resize(struct req *r)
{
    static const char *const keys[] = {"plan", NULL};
    const char *plan, *id = r->params[0];
    char old_plan[64], tenant_id[24], d[3][24], per[3][24], sz[3][24];
    int64_t size[3], add[4], members;
    enum istate st, next;
    PGresult *res = NULL;
    int k;

    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    if (body_parse(r, true) < 0 || body_allow(r, keys) < 0 || body_name(r, "plan", true, &plan) < 0)
        return;
    if (plan_size(r, plan, size) < 0 || dbq_begin(r) < 0)
        return;
    res = dbq_ok(r, sql_resize_lock, id, scope(r));
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        goto fail;
    }
    if (istate_parse(PQgetvalue(res, 0, 0), &st) < 0 || !istate_can_resize(st)) {
        http_error(r, 409, "conflict", "plan", "an instance in state %s cannot be resized",
                   PQgetvalue(res, 0, 0));
        goto fail;
    }
    {
        const struct catalog_engine *ce = catalog_find(PQgetvalue(res, 0, 7));
        struct err pe;
        if (ce && catalog_check_plan(ce, size[1], &pe) < 0) {
            http_error(r, 422, "plan_too_small", "plan", "%s", pe.msg);
            goto fail;
        }
    }
    members = strtoll(PQgetvalue(res, 0, 1), NULL, 10) + 1;
    snprintf(tenant_id, sizeof(tenant_id), "%s", PQgetvalue(res, 0, 2));
    snprintf(old_plan, sizeof(old_plan), "%s", PQgetvalue(res, 0, 6));
    add[0] = 0;
    for (k = 0; k < 3; k++) {
        int64_t delta = size[k] - strtoll(PQgetvalue(res, 0, 3 + k), NULL, 10);
        add[k + 1] = delta * members;
        dbq_i64(add[k + 1], d[k]);
        dbq_i64(delta, per[k]);
        dbq_i64(size[k], sz[k]);
    }
    PQclear(res);
    res = NULL;
    if (strcmp(old_plan, plan) == 0) {
        dbq_rollback();
        reply_instance(r, 202, id);
        return;
    }
    res = dbq_ok(r, sql_resize_quota, tenant_id, d[0], d[1], d[2]);
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = NULL;
        dbq_rollback();
        if (explain_quota(r, tenant_id, add) == 0)
            http_error(r, 409, "conflict", NULL, "the tenant's usage changed concurrently; retry");
        return;
    }
    PQclear(res);
    /* Placed members: the new size must fit on each member's current host. */
    res = dbq_ok(r, sql_resize_hosts, id, per[0], per[1], per[2]);
    if (!res)
        goto fail;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        http_error(r, 409, "conflict", "plan",
                   "plan \"%s\" does not fit on the instance's current host(s): %s", plan,
                   PQgetvalue(res, 0, 1));
        goto fail;
    }
    PQclear(res);
    res = dbq_ok(r, sql_resize_members, id, sz[0], sz[1], sz[2]);
    if (!res)
        goto fail;
    PQclear(res);
    /* Unplaced instances take the new plan as they are; placed ones go through resizing. */
    next = st == IST_PENDING ? IST_PENDING : IST_RESIZING;
    if (next != st && !istate_can_transition(st, next)) {
        res = NULL;
        http_error(r, 409, "conflict", "plan", "an instance in state %s cannot be resized",
                   istate_name(st));
        goto fail;
    }
    res = dbq_ok(r, sql_resize_apply, id, plan, istate_name(next), r->who.actor, old_plan);
    if (!res)
        goto fail;
    PQclear(res);
    res = NULL;
    if (dbq_commit(r) < 0)
        return;
    reply_instance(r, 202, id);
    notify_bump();
    return;
fail:
    PQclear(res);
    dbq_rollback();
}

static const char sql_instance_delete[] =
    "WITH u AS (UPDATE instances SET status = 'deleting', status_reason = NULL, updated_at = now()"
    "  WHERE id = $1::uuid AND ($2::bigint IS NULL OR tenant_id = $2::bigint)"
    "  AND status NOT IN ('deleting', 'deleted') RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, $3, 'instance.deleting', format('instance \"%s\" deletion requested',"
    "  name) FROM u)"
    " SELECT " INSTANCE_COLS " FROM u i JOIN tenants t ON t.id = i.tenant_id"
    " LEFT JOIN hosts h ON h.id = i.host_id";

void h_instance_delete(struct req *r)
{
    const char *id = r->params[0];
    PGresult *res;

    if (!valid_uuid(id)) {
        http_error(r, 404, "not_found", NULL, "instance not found");
        return;
    }
    res = dbq_ok(r, sql_instance_delete, id, scope(r), r->who.actor);
    if (!res)
        return;
    if (PQntuples(res) == 1) {
        http_reply_json(r, 202, instance_json(res, 0));
        PQclear(res);
        reconcile_kick();
        return;
    }
    PQclear(res);
    res = dbq_ok(r, sql_instance_get, id, scope(r));
    if (!res)
        return;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "instance not found");
    else
        http_error(r, 409, "conflict", NULL, "instance is already %s", PQgetvalue(res, 0, 7));
    PQclear(res);
}
