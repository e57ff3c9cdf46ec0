/* The audit log (api/audit.h).
 *
 * NOTES
 * - Recorded by the HTTP layer (api/http.c) once the handler answered: the record (with the
 *   time of the answer) goes to a queue that a thread of its own writes in one statement every
 *   AUDIT_FLUSH_MS (or at AUDIT_BATCH records), and at dbaasd's stop once no request runs any
 *   more. A record per call in the call's worker cost a fifth of the creates per second on the
 *   2-core machine (docs/benchmarks.md). What this costs: the records of the last moments before
 *   a crash of dbaasd (at most AUDIT_FLUSH_MS of them) are lost; a batch the store refuses, or
 *   records beyond AUDIT_QUEUE_MAX waiting, are written to dbaasd's log (event=audit_failed, one
 *   line each) instead. GET /v1/audit shows a call within AUDIT_FLUSH_MS.
 * - Agents' heartbeats are not recorded (machine traffic, many a second per host); a host
 *   token's other calls are (refusals: the only routes a host may call are reads). Calls that did
 *   not authenticate (401) are not: an unauthenticated client must not be able to fill the
 *   store. Nor are calls to no route (404 before any handler, 405) or refused while dbaasd stops
 *   (503 before authentication): none of them reached a handler that could change anything.
 * - The tenant is a name, not a reference: the record outlives the tenant. For a tenant's call
 *   it is the caller's tenant; for an operator's call on /v1/tenants/{name}/..., that name; for
 *   its POST /v1/tenants, the tenant it created; for its call on /v1/instances/{id} (and the
 *   instance its POST /v1/instances created), the instance's tenant, which the writer looks up
 *   (the record's "instance", never stored on its own).
 * - The path is recorded as decoded; api/http.c refuses paths with control characters before
 *   any handler runs, so a record cannot forge lines. */
#include "api/audit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/dbq.h"
#include "api/http.h"
#include "api/routes.h"
#include "control/errc.h"
#include "lib/log.h"
#include "lib/valid.h"
#include "store/store.h"

#define AUDIT_FLUSH_MS 100
#define AUDIT_BATCH 500
#define AUDIT_QUEUE_MAX 50000

static const char sql_audit_insert[] =
    "INSERT INTO audit_log (at, actor, tenant, action, target, status, error, created)"
    " SELECT r.at, r.actor, COALESCE(r.tenant, (SELECT t.name FROM instances i"
    "  JOIN tenants t ON t.id = i.tenant_id WHERE i.id = r.instance)),"
    " r.action, r.target, r.status, r.error, r.created"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(rec, ord),"
    " jsonb_to_record(x.rec) AS r(at timestamptz, actor text, tenant text, instance uuid,"
    " action text, target text, status int, error text, created text) ORDER BY x.ord";

/* The records waiting for the writer: a JSON array of objects, one per record (the columns). */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_wake = PTHREAD_COND_INITIALIZER;
static json_t *q_items;
static bool q_stop, q_running;
static pthread_t q_thread;
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
    char action[160], error[64], created[128], at[96];
    const char *tenant = NULL, *instance = NULL, *pattern;
    struct timespec now;
    struct tm tm;
    json_t *rec;

    if (!mutating(r->method) || r->route < 0 || !r->who.role)
        return;
    pattern = routes[r->route].entry.pattern;
    if (strcmp(pattern, "/v1/agent/heartbeat") == 0)
        return;
    snprintf(action, sizeof(action), "%s %s", r->method, pattern);
    reply_facts(r, error, sizeof(error), created, sizeof(created));
    if (r->who.role == ROLE_TENANT)
        tenant = r->who.tenant;
    else if (r->who.role == ROLE_HOST)
        tenant = NULL; /* a host's refused call: no tenant's */
    else if (strncmp(pattern, "/v1/tenants/{name}", 18) == 0)
        tenant = r->params[0];
    else if (strcmp(action, "POST /v1/tenants") == 0 && r->status == 201)
        tenant = created;
    else if (strncmp(pattern, "/v1/instances/{id}", 18) == 0)
        instance = r->params[0];
    else if (strcmp(action, "POST /v1/instances") == 0 && created[0])
        instance = created;
    if (instance && !valid_uuid(instance))
        instance = NULL; /* no such instance (the handler answered 404): no tenant */
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(at, sizeof(at), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000);
    rec = json_pack("{s:s,s:s,s:o,s:o,s:s,s:s,s:i,s:o,s:o}", "at", at, "actor", r->who.actor,
                    "tenant", tenant ? json_string(tenant) : json_null(), "instance",
                    instance ? json_string(instance) : json_null(), "action", action, "target",
                    r->path, "status", (int)r->status, "error",
                    error[0] ? json_string(error) : json_null(), "created",
                    created[0] ? json_string(created) : json_null());
    if (!rec) /* a path that is not UTF-8 */
        rec = json_pack("{s:s,s:s,s:o,s:s,s:s,s:i,s:n,s:n}", "at", at, "actor", r->who.actor,
                        "tenant", json_null(), "action", action, "target", "(not UTF-8)", "status",
                        (int)r->status, "error", "created");
    pthread_mutex_lock(&q_lock);
    if (q_items && json_array_size(q_items) < AUDIT_QUEUE_MAX) {
        json_array_append_new(q_items, rec);
        rec = NULL;
        if (json_array_size(q_items) >= AUDIT_BATCH)
            pthread_cond_signal(&q_wake);
    }
    pthread_mutex_unlock(&q_lock);
    if (rec) {
        log_error("event=audit_failed reason=\"queue full or writer stopped\" actor=%s "
                  "action=\"%s\" target=%s status=%u",
                  r->who.actor, action, r->path, r->status);
        json_decref(rec);
    }
}

/* Write a batch (one statement); on failure log each record. */
static void audit_write(json_t *batch)
{
    char *text = json_dumps(batch, JSON_COMPACT);
    PGresult *res = NULL;
    struct err e;
    json_t *rec;
    size_t i;

    if (text && (res = store_exec(&e, sql_audit_insert, 1, (const char *const[]){text})) &&
        store_ok(res)) {
        PQclear(res);
        free(text);
        return;
    }
    json_array_foreach(batch, i, rec)
    {
        log_error("event=audit_failed reason=\"%s\" at=%s actor=%s action=\"%s\" target=%s "
                  "status=%lld",
                  res    ? PQresultErrorMessage(res)
                  : text ? e.msg
                         : "out of memory",
                  json_string_value(json_object_get(rec, "at")),
                  json_string_value(json_object_get(rec, "actor")),
                  json_string_value(json_object_get(rec, "action")),
                  json_string_value(json_object_get(rec, "target")),
                  (long long)json_integer_value(json_object_get(rec, "status")));
    }
    PQclear(res);
    free(text);
}

static void *audit_main(void *arg)
{
    struct timespec until;
    json_t *batch;
    bool stop;

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        if (!q_stop && json_array_size(q_items) < AUDIT_BATCH) {
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += AUDIT_FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&q_wake, &q_lock, &until);
        }
        stop = q_stop;
        batch = NULL;
        if (json_array_size(q_items) > 0) {
            batch = q_items;
            q_items = json_array();
        }
        pthread_mutex_unlock(&q_lock);
        if (batch) {
            audit_write(batch);
            json_decref(batch);
        }
        if (stop)
            return NULL;
    }
}

int audit_start(struct err *e)
{
    pthread_mutex_lock(&q_lock);
    q_items = json_array();
    q_stop = false;
    pthread_mutex_unlock(&q_lock);
    if (pthread_create(&q_thread, NULL, audit_main, NULL) != 0) {
        json_decref(q_items);
        q_items = NULL;
        return err_set(e, API_E_SYSTEM, "could not start the audit log's writer");
    }
    q_running = true;
    return 0;
}

void audit_stop(void)
{
    if (!q_running)
        return;
    pthread_mutex_lock(&q_lock);
    q_stop = true;
    pthread_cond_signal(&q_wake);
    pthread_mutex_unlock(&q_lock);
    pthread_join(q_thread, NULL);
    q_running = false;
    pthread_mutex_lock(&q_lock);
    json_decref(q_items); /* what came after the last batch: nothing, once requests stopped */
    q_items = NULL;
    pthread_mutex_unlock(&q_lock);
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
