/* Handlers: tenants, their API tokens and quotas (operator routes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"
#include "api/tenants.h"
#include "lib/crypto.h"

#define TENANT_COLS                                                                                \
    "name, iso(created_at), max_instances, max_cpu_millis, max_memory_mb, max_disk_mb,"            \
    " used_instances, used_cpu_millis, used_memory_mb, used_disk_mb, id"

static json_t *tenant_json(const PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:{s:o,s:o,s:o,s:o},s:{s:o,s:o,s:o,s:o}}", "name",
                     dbq_str(res, i, 0), "created_at", dbq_str(res, i, 1), "quota", "max_instances",
                     dbq_int(res, i, 2), "cpu_millis", dbq_int(res, i, 3), "memory_mb",
                     dbq_int(res, i, 4), "disk_mb", dbq_int(res, i, 5), "usage", "instances",
                     dbq_int(res, i, 6), "cpu_millis", dbq_int(res, i, 7), "memory_mb",
                     dbq_int(res, i, 8), "disk_mb", dbq_int(res, i, 9));
}

static const char sql_tenant_create[] =
    "WITH t AS (INSERT INTO tenants (name) VALUES ($1) RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, actor, kind, message)"
    "  SELECT id, $2, 'tenant.created', format('tenant \"%s\" created', name) FROM t)"
    " SELECT " TENANT_COLS " FROM t";

void h_tenant_create(struct req *r)
{
    static const char *const allowed[] = {"name", NULL};
    const char *name;
    PGresult *res;

    if (body_parse(r, true) < 0 || body_allow(r, allowed) < 0 ||
        body_name(r, "name", true, &name) < 0)
        return;
    res = dbq_run(r, sql_tenant_create, name, r->who.actor);
    if (res)
        dbq_reply_created(r, res, "tenant", name, tenant_json);
}

static const char sql_tenant_list[] =
    "SELECT " TENANT_COLS " FROM tenants WHERE id > $1 ORDER BY id LIMIT $2";

void h_tenant_list(struct req *r)
{
    dbq_list(r, sql_tenant_list, 10, tenant_json);
}

static const char sql_tenant_get[] = "SELECT " TENANT_COLS " FROM tenants WHERE name = $1";

void h_tenant_get(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_tenant_get, r->params[0]);

    if (res)
        dbq_reply_one(r, res, 200, tenant_json, "tenant");
}

static const char sql_tenant_delete[] =
    "WITH t AS (DELETE FROM tenants WHERE name = $1 AND used_instances = 0 RETURNING name)"
    " INSERT INTO events (actor, kind, message)"
    " SELECT $2, 'tenant.deleted', format('tenant \"%s\" deleted', name) FROM t RETURNING id";

void h_tenant_delete(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_tenant_delete, r->params[0], r->who.actor);

    if (!res)
        return;
    if (PQntuples(res) == 1) {
        http_reply_empty(r, 204);
    } else {
        PQclear(res);
        res = dbq_ok(r, sql_tenant_get, r->params[0]);
        if (!res)
            return;
        if (PQntuples(res) == 0)
            http_error(r, 404, "not_found", NULL, "tenant not found");
        else
            http_error(r, 409, "conflict", NULL, "tenant \"%s\" still owns %s instances",
                       r->params[0], PQgetvalue(res, 0, 6));
    }
    PQclear(res);
}

static const char sql_token_create[] =
    "WITH a AS (INSERT INTO api_tokens (id, kind, tenant_id, hash)"
    "  SELECT $1, 'tenant', id, $2 FROM tenants WHERE name = $3 RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, actor, kind, message)"
    "  SELECT tenant_id, $4, 'token.created', format('token %s created', id) FROM a)"
    " SELECT id, iso(created_at) FROM a";

void h_token_create(struct req *r)
{
    static const char *const allowed[] = {NULL};
    unsigned char raw[8];
    char id[24], hash[65];
    char *token = NULL;
    PGresult *res;

    if (body_parse(r, false) < 0 || body_allow(r, allowed) < 0)
        return;
    token = crypto_token_new(TOKEN_PREFIX_TENANT);
    if (!token || crypto_random(raw, sizeof(raw)) < 0) {
        http_error(r, 500, "internal", NULL, "could not generate a token");
        goto out;
    }
    snprintf(id, sizeof(id), "tok_%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3],
             raw[4], raw[5], raw[6], raw[7]);
    crypto_sha256_hex(token, strlen(token), hash);
    res = dbq_ok(r, sql_token_create, id, hash, r->params[0], r->who.actor);
    if (!res)
        goto out;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "tenant not found");
    else
        http_reply_json(r, 201,
                        json_pack("{s:s,s:s,s:s,s:o}", "id", id, "tenant", r->params[0], "token",
                                  token, "created_at", dbq_str(res, 0, 1)));
    PQclear(res);
out:
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
}

static const char sql_token_list[] =
    "SELECT a.id, t.name, iso(a.created_at) FROM tenants t"
    " LEFT JOIN api_tokens a ON a.tenant_id = t.id WHERE t.name = $1 ORDER BY a.created_at, a.id";

void h_token_list(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_token_list, r->params[0]);
    json_t *items;
    int i;

    if (!res)
        return;
    if (PQntuples(res) == 0) {
        http_error(r, 404, "not_found", NULL, "tenant not found");
    } else {
        items = json_array();
        for (i = 0; i < PQntuples(res); i++)
            if (!PQgetisnull(res, i, 0))
                json_array_append_new(items, json_pack("{s:o,s:o,s:o}", "id", dbq_str(res, i, 0),
                                                       "tenant", dbq_str(res, i, 1), "created_at",
                                                       dbq_str(res, i, 2)));
        http_reply_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next"));
    }
    PQclear(res);
}

static const char sql_token_revoke[] =
    "WITH a AS (DELETE FROM api_tokens a USING tenants t"
    "  WHERE a.tenant_id = t.id AND t.name = $1 AND a.id = $2 RETURNING a.id, a.tenant_id)"
    " INSERT INTO events (tenant_id, actor, kind, message)"
    " SELECT tenant_id, $3, 'token.revoked', format('token %s revoked', id) FROM a RETURNING id";

void h_token_revoke(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_token_revoke, r->params[0], r->params[1], r->who.actor);

    if (!res)
        return;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "token not found");
    else
        http_reply_empty(r, 204);
    PQclear(res);
}

static const char sql_quota_set[] =
    "WITH t AS (UPDATE tenants SET max_instances = $2, max_cpu_millis = $3, max_memory_mb = $4,"
    "  max_disk_mb = $5 WHERE name = $1 RETURNING *),"
    " e AS (INSERT INTO events (tenant_id, actor, kind, message)"
    "  SELECT id, $6, 'quota.set', format('quota set: max_instances=%s cpu_millis=%s"
    " memory_mb=%s disk_mb=%s', coalesce(max_instances::text, 'unlimited'),"
    " coalesce(max_cpu_millis::text, 'unlimited'), coalesce(max_memory_mb::text, 'unlimited'),"
    " coalesce(max_disk_mb::text, 'unlimited')) FROM t)"
    " SELECT " TENANT_COLS " FROM t";

int tenants_quota_body(struct req *r, struct tenants_quota *out)
{
    static const char *const keys[] = {"max_instances", "cpu_millis", "memory_mb", "disk_mb", NULL};
    int i;

    memset(out, 0, sizeof(*out));
    if (body_allow(r, keys) < 0)
        return -1;
    for (i = 0; i < TENANTS_QUOTA_N; i++)
        if (body_int(r, keys[i], false, true, 0, INT64_C(1) << 50, &out->limit[i],
                     &out->unlimited[i]) < 0)
            return -1;
    return 0;
}

void h_quota_set(struct req *r)
{
    struct tenants_quota q;
    char vals[TENANTS_QUOTA_N][24];
    const char *p[TENANTS_QUOTA_N];
    PGresult *res;
    int i;

    if (body_parse(r, true) < 0 || tenants_quota_body(r, &q) < 0)
        return;
    for (i = 0; i < TENANTS_QUOTA_N; i++) {
        dbq_i64(q.limit[i], vals[i]);
        p[i] = q.unlimited[i] ? NULL : vals[i];
    }
    res = dbq_ok(r, sql_quota_set, r->params[0], p[0], p[1], p[2], p[3], r->who.actor);
    if (res)
        dbq_reply_one(r, res, 200, tenant_json, "tenant");
}
