/* The glue between handlers and the store: statements, store failures, JSON columns,
 * pagination. */
#include "api/dbq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cursor.h"
#include "lib/log.h"
#include "lib/valid.h"
#include "store/store.h"

int dbq_store_error(struct req *r, const struct err *e)
{
    if (e->code == STORE_E_UNAVAILABLE) {
        log_warn("event=store_unavailable path=%s error=\"%s\"", r->path, e->msg);
        return http_error(r, 503, "unavailable", NULL, "the metadata store is unavailable");
    }
    log_error("event=store_error path=%s error=\"%s\"", r->path, e->msg);
    return http_error(r, 500, "internal", NULL, "internal error");
}

int dbq_sql_error(struct req *r, const PGresult *res)
{
    log_error("event=sql_error method=%s path=%s sqlstate=%s error=\"%s\"", r->method, r->path,
              store_sqlstate(res), res ? PQresultErrorMessage(res) : "no result");
    return http_error(r, 500, "internal", NULL, "internal error");
}

PGresult *dbq_exec(struct req *r, const char *sql, int n, const char *const *params)
{
    struct err e;
    PGresult *res = store_exec(&e, sql, n, params);

    if (!res)
        dbq_store_error(r, &e);
    return res;
}

PGresult *dbq_exec_ok(struct req *r, const char *sql, int n, const char *const *params)
{
    PGresult *res = dbq_exec(r, sql, n, params);

    if (res && !store_ok(res)) {
        dbq_sql_error(r, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int simple(struct req *r, const char *sql)
{
    struct err e;
    PGresult *res = store_exec_simple(&e, sql);

    if (!res)
        return dbq_store_error(r, &e);
    if (!store_ok(res)) {
        dbq_sql_error(r, res);
        PQclear(res);
        dbq_rollback();
        return -1;
    }
    PQclear(res);
    return 0;
}

int dbq_begin(struct req *r)
{
    return simple(r, "BEGIN");
}

int dbq_commit(struct req *r)
{
    return simple(r, "COMMIT");
}

void dbq_rollback(void)
{
    struct err e;
    PQclear(store_exec_simple(&e, "ROLLBACK"));
}

bool dbq_unique_violation(const PGresult *res)
{
    return strcmp(store_sqlstate(res), "23505") == 0;
}

bool dbq_fk_violation(const PGresult *res)
{
    return strcmp(store_sqlstate(res), "23503") == 0;
}

json_t *dbq_str(const PGresult *res, int row, int c)
{
    if (PQgetisnull(res, row, c))
        return json_null();
    return json_string(PQgetvalue(res, row, c));
}

json_t *dbq_int(const PGresult *res, int row, int c)
{
    if (PQgetisnull(res, row, c))
        return json_null();
    return json_integer(strtoll(PQgetvalue(res, row, c), NULL, 10));
}

json_t *dbq_bool(const PGresult *res, int row, int c)
{
    if (PQgetisnull(res, row, c))
        return json_null();
    return json_boolean(PQgetvalue(res, row, c)[0] == 't');
}

json_t *dbq_json(const PGresult *res, int row, int c)
{
    json_t *v;

    if (PQgetisnull(res, row, c))
        return json_null();
    v = json_loads(PQgetvalue(res, row, c), JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

void dbq_reply_one(struct req *r, PGresult *res, unsigned status,
                   json_t *(*fn)(const PGresult *res, int row), const char *what)
{
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "%s not found", what);
    else
        http_reply_json(r, status, fn(res, 0));
    PQclear(res);
}

void dbq_reply_created(struct req *r, PGresult *res, const char *kind, const char *name,
                       json_t *(*fn)(const PGresult *res, int row))
{
    if (dbq_unique_violation(res)) {
        http_error(r, 409, "conflict", "name", "%s \"%s\" already exists", kind, name);
        PQclear(res);
    } else if (!store_ok(res)) {
        dbq_sql_error(r, res);
        PQclear(res);
    } else {
        dbq_reply_one(r, res, 201, fn, kind);
    }
}

int dbq_tenant_arg(struct req *r, const char **tenant)
{
    *tenant = http_query(r, "tenant");
    if (*tenant && !valid_name(*tenant))
        return http_error(r, 400, "invalid_field", "tenant", "tenant must be a tenant name");
    return 0;
}

bool dbq_other_tenant(struct req *r, const char *tenant)
{
    if (r->who.role != ROLE_TENANT || !tenant || strcmp(tenant, r->who.tenant) == 0)
        return false;
    http_reply_json(r, 200, json_pack("{s:[],s:n}", "items", "next"));
    return true;
}

void dbq_i64(int64_t v, char out[24])
{
    snprintf(out, 24, "%lld", (long long)v);
}

int dbq_page_args(struct req *r, int *limit, char after[24])
{
    const char *l = http_query(r, "limit");
    const char *a = http_query(r, "after");
    int64_t seq = 0;

    *limit = 100;
    if (l && cursor_parse_limit(l, 1000, limit) < 0)
        return http_error(r, 400, "invalid_field", "limit",
                          "limit must be an integer from 1 to 1000");
    if (a && cursor_decode(a, &seq) < 0)
        return http_error(r, 400, "invalid_field", "after", "after must be a cursor from \"next\"");
    dbq_i64(seq, after);
    return 0;
}

void dbq_reply_page(struct req *r, PGresult *res, int limit, int seq_col,
                    json_t *(*row_fn)(const PGresult *res, int row))
{
    json_t *items = json_array();
    json_t *next = json_null();
    int i, n = PQntuples(res);

    for (i = 0; i < n && i < limit; i++)
        json_array_append_new(items, row_fn(res, i));
    if (n > limit) {
        char *c = cursor_encode(strtoll(PQgetvalue(res, limit - 1, seq_col), NULL, 10));
        json_decref(next);
        next = json_string(c);
        free(c);
    }
    PQclear(res);
    http_reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next", next));
}

void dbq_list(struct req *r, const char *sql, int seq_col,
              json_t *(*row_fn)(const PGresult *res, int row))
{
    char after[24], lim[24];
    int limit;
    PGresult *res;

    if (dbq_page_args(r, &limit, after) < 0)
        return;
    dbq_i64(limit + 1, lim);
    res = dbq_ok(r, sql, after, lim);
    if (res)
        dbq_reply_page(r, res, limit, seq_col, row_fn);
}
