/* The audit log (api/audit.h).
 *
 * NOTES
 * - Recorded by the HTTP layer (api/http.c) once the handler answered, in a statement of its
 *   own on the worker's store connection: a call that changed something and whose record could
 *   not be written is in dbaasd's log (event=audit_failed) instead. Agents' heartbeats are not
 *   recorded (a host token's calls: machine traffic, many a second); nor are calls that did not
 *   authenticate (401): an unauthenticated client must not be able to write to the store.
 * - The tenant is a name, not a reference: the record outlives the tenant. For a tenant's call
 *   it is the caller's tenant; for an operator's call on /v1/tenants/{name}/..., that name.
 * - The path is recorded as decoded; api/http.c refuses paths with control characters before
 *   any handler runs, so a record cannot forge lines. */
#include "api/audit.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/dbq.h"
#include "api/http.h"
#include "api/routes.h"
#include "lib/log.h"
#include "store/store.h"

static const char sql_audit_insert[] =
    "INSERT INTO audit_log (actor, tenant, action, target, status, error, created)"
    " VALUES ($1, $2, $3, $4, $5::int, $6, $7)";
static const char sql_audit_list[] =
    "SELECT id, iso(at), actor, tenant, action, target, status, error, created FROM audit_log"
    " WHERE ($1::text IS NULL OR tenant = $1) AND id > $2::bigint ORDER BY id LIMIT $3";

static bool mutating(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/* From the answer's JSON: the error code of a refusal, or the id (else name) that a POST
 * answered with 201 or 202 created. */
static void reply_facts(const struct req *r, char *error, size_t elen, char *created, size_t clen)
{
    json_t *j, *v;

    error[0] = created[0] = '\0';
    if (!r->reply || !r->content_type || strncmp(r->content_type, "application/json", 16) != 0 ||
        !(j = json_loads(r->reply, 0, NULL)))
        return;
    if (r->status >= 400) {
        v = json_object_get(json_object_get(j, "error"), "code");
        if (json_is_string(v))
            snprintf(error, elen, "%s", json_string_value(v));
    } else if ((r->status == 201 || r->status == 202) && strcmp(r->method, "POST") == 0) {
        v = json_object_get(j, "id");
        if (!v)
            v = json_object_get(j, "name");
        if (json_is_string(v))
            snprintf(created, clen, "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(created, clen, "%lld", (long long)json_integer_value(v));
    }
    json_decref(j);
}

void audit_record(struct req *r)
{
    char action[160], status[8], error[64], created[128];
    const char *tenant = NULL, *pattern;
    PGresult *res;
    struct err e;

    if (!mutating(r->method) || r->route < 0 ||
        (r->who.role != ROLE_OPERATOR && r->who.role != ROLE_TENANT))
        return;
    pattern = routes[r->route].entry.pattern;
    snprintf(action, sizeof(action), "%s %s", r->method, pattern);
    if (r->who.role == ROLE_TENANT)
        tenant = r->who.tenant;
    else if (strncmp(pattern, "/v1/tenants/{name}", 18) == 0)
        tenant = r->params[0];
    snprintf(status, sizeof(status), "%u", r->status);
    reply_facts(r, error, sizeof(error), created, sizeof(created));
    res = store_exec(&e, sql_audit_insert, 7,
                     (const char *const[]){r->who.actor, tenant, action, r->path, status,
                                           error[0] ? error : NULL, created[0] ? created : NULL});
    if (!res || !store_ok(res))
        log_error("event=audit_failed actor=%s action=\"%s\" target=%s status=%s error=\"%s\"",
                  r->who.actor, action, r->path, status, res ? PQresultErrorMessage(res) : e.msg);
    PQclear(res);
}

static json_t *audit_json(const PGresult *res, int i)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", dbq_int(res, i, 0), "at",
                     dbq_str(res, i, 1), "actor", dbq_str(res, i, 2), "tenant", dbq_str(res, i, 3),
                     "action", dbq_str(res, i, 4), "target", dbq_str(res, i, 5), "status",
                     dbq_int(res, i, 6), "error", dbq_str(res, i, 7), "created",
                     dbq_str(res, i, 8));
}

void h_audit_list(struct req *r)
{
    char after[24], lim[24];
    const char *tenant;
    int limit;
    PGresult *res;

    if (dbq_page_args(r, &limit, after) < 0 || dbq_tenant_arg(r, &tenant) < 0)
        return;
    dbq_i64(limit + 1, lim);
    if ((res = dbq_ok(r, sql_audit_list, tenant, after, lim)) != NULL)
        dbq_reply_page(r, res, limit, 0, audit_json);
}
