/* Handlers: hosts (operator routes). A host's agent token is shown once, at registration or
 * when a new one is issued (rotation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/dbq.h"
#include "api/handlers.h"
#include "api/hosts.h"
#include "control/notify.h"
#include "store/store.h"
#include "lib/buf.h"
#include "lib/catalog.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/valid.h"

#define HOST_COLS                                                                                  \
    "h.name, h.address, h.zone, h.cpu_millis, h.memory_mb, h.disk_mb,"                             \
    " array_to_json(h.engines)::text, h.state, h.draining,"                                        \
    " CASE WHEN h.draining AND n.count = 0 THEN 'drained' WHEN h.draining THEN 'draining'"         \
    " ELSE h.state END,"                                                                           \
    " iso(greatest(h.last_heartbeat, (SELECT s.at FROM host_seen s WHERE s.host_id = h.id))),"     \
    " h.alloc_cpu_millis, h.alloc_memory_mb, h.alloc_disk_mb, n.count,"                            \
    " iso(h.created_at), h.id"
#define HOST_FROM                                                                                  \
    " FROM hosts h, LATERAL (SELECT count(DISTINCT m.instance_id) FROM members m WHERE m.host_id " \
    "= h.id) n"

static json_t *host_json(const PGresult *res, int i)
{
    return json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:o,s:o,s:o},s:o,s:o}", "name",
        dbq_str(res, i, 0), "address", dbq_str(res, i, 1), "zone", dbq_str(res, i, 2), "cpu_millis",
        dbq_int(res, i, 3), "memory_mb", dbq_int(res, i, 4), "disk_mb", dbq_int(res, i, 5),
        "engines", dbq_json(res, i, 6), "state", dbq_str(res, i, 7), "draining",
        dbq_bool(res, i, 8), "status", dbq_str(res, i, 9), "last_heartbeat", dbq_str(res, i, 10),
        "allocated", "cpu_millis", dbq_int(res, i, 11), "memory_mb", dbq_int(res, i, 12), "disk_mb",
        dbq_int(res, i, 13), "instances", dbq_int(res, i, 14), "created_at", dbq_str(res, i, 15));
}

static const char sql_host_create[] =
    "WITH h AS (INSERT INTO hosts (name, address, zone, cpu_millis, memory_mb, disk_mb, engines,"
    "  token_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *),"
    " e AS (INSERT INTO events (actor, kind, message)"
    "  SELECT $9, 'host.added', format('host \"%s\" added (%s, zone %s)', name, address, zone)"
    "  FROM h)"
    " SELECT " HOST_COLS " FROM h, LATERAL (SELECT 0::bigint AS count) n";

int hosts_engines_param(struct req *r, struct buf *out)
{
    json_t *arr = json_object_get(r->json, "engines");
    json_t *v, *w;
    size_t i, j;

    if (!arr)
        return http_error(r, 400, "invalid_field", "engines", "field \"engines\" is required");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return http_error(r, 400, "invalid_field", "engines",
                          "field \"engines\" must be a non-empty array of engines");
    buf_puts(out, "{");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !catalog_known(json_string_value(v)))
            return http_error(r, 400, "invalid_field", "engines",
                              "engines must be among " CATALOG_NAMES);
        for (j = 0; j < i; j++) {
            w = json_array_get(arr, j);
            if (strcmp(json_string_value(w), json_string_value(v)) == 0)
                return http_error(r, 400, "invalid_field", "engines",
                                  "engine \"%s\" is listed twice", json_string_value(v));
        }
        buf_printf(out, "%s%s", i ? "," : "", json_string_value(v));
    }
    buf_puts(out, "}");
    return 0;
}

void h_host_create(struct req *r)
{
    static const char *const keys[] = {"name",      "address", "zone",    "cpu_millis",
                                       "memory_mb", "disk_mb", "engines", NULL};
    const char *name, *address, *zone;
    int64_t cpu = 0, mem = 0, disk = 0;
    char vcpu[24], vmem[24], vdisk[24], hash[65];
    struct buf engines = BUF_INIT;
    char *token = NULL;
    PGresult *res;
    json_t *host;

    if (body_parse(r, true) < 0 || body_allow(r, keys) < 0 ||
        body_name(r, "name", true, &name) < 0 ||
        body_string(r, "address", true, 253, valid_address, "a host name or IP address", &address) <
            0 ||
        body_name(r, "zone", true, &zone) < 0 ||
        body_int(r, "cpu_millis", true, false, 1, 10000000, &cpu, NULL) < 0 ||
        body_int(r, "memory_mb", true, false, 1, INT64_C(1) << 40, &mem, NULL) < 0 ||
        body_int(r, "disk_mb", true, false, 1, INT64_C(1) << 50, &disk, NULL) < 0 ||
        hosts_engines_param(r, &engines) < 0)
        goto out;
    token = crypto_token_new(TOKEN_PREFIX_HOST);
    if (!token) {
        http_error(r, 500, "internal", NULL, "could not generate a token");
        goto out;
    }
    crypto_sha256_hex(token, strlen(token), hash);
    dbq_i64(cpu, vcpu);
    dbq_i64(mem, vmem);
    dbq_i64(disk, vdisk);
    res = dbq_run(r, sql_host_create, name, address, zone, vcpu, vmem, vdisk, buf_str(&engines),
                  hash, r->who.actor);
    if (!res)
        goto out;
    if (dbq_unique_violation(res)) {
        http_error(r, 409, "conflict", "name", "host \"%s\" already exists", name);
    } else if (!store_ok(res)) {
        dbq_sql_error(r, res);
    } else {
        host = host_json(res, 0);
        json_object_set_new(host, "token", json_string(token));
        http_reply_json(r, 201, host);
    }
    PQclear(res);
out:
    buf_free(&engines);
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
}

/* A new token for a host. By default it is the host's next token: the current one keeps
 * working until the agent first uses the new one (api/auth.c), so a rotation never cuts a
 * running agent off. immediate: it replaces the current one at once (a leaked token); the agent
 * is refused until it has the new one. A next token not used yet is replaced either way. */
static const char sql_host_token[] =
    "WITH u AS (UPDATE hosts h SET token_hash = CASE WHEN $3::boolean THEN $2 ELSE h.token_hash"
    "  END, token_hash_next = CASE WHEN $3::boolean THEN NULL ELSE $2 END WHERE h.name = $1"
    "  RETURNING h.*),"
    " e AS (INSERT INTO events (actor, kind, message) SELECT $4, 'host.token_issued',"
    "  format('host \"%s\": new agent token issued, %s', name, CASE WHEN $3::boolean THEN"
    "  'the old one revoked' ELSE 'the old one works until the agent uses the new one' END)"
    "  FROM u)"
    " SELECT " HOST_COLS " FROM u h,"
    " LATERAL (SELECT count(DISTINCT m.instance_id) FROM members m WHERE m.host_id = h.id) n";

void h_host_token(struct req *r)
{
    static const char *const keys[] = {"immediate", NULL};
    bool immediate = false;
    char hash[65];
    char *token = NULL;
    PGresult *res;
    json_t *host;

    if (body_parse(r, false) < 0 || body_allow(r, keys) < 0 ||
        body_bool(r, "immediate", &immediate) < 0)
        return;
    if (!(token = crypto_token_new(TOKEN_PREFIX_HOST))) {
        http_error(r, 500, "internal", NULL, "could not generate a token");
        return;
    }
    crypto_sha256_hex(token, strlen(token), hash);
    res = dbq_ok(r, sql_host_token, r->params[0], hash, immediate ? "true" : "false",
                 r->who.actor);
    if (res && PQntuples(res) == 0) {
        http_error(r, 404, "not_found", NULL, "host not found");
    } else if (res) {
        if (immediate)
            notify_bump(); /* the old token's cached row goes, in every dbaasd */
        log_info("event=host_token_issued host=%s immediate=%d", r->params[0], immediate);
        host = host_json(res, 0);
        json_object_set_new(host, "token", json_string(token));
        json_object_set_new(host, "immediate", json_boolean(immediate));
        http_reply_json(r, 201, host);
    }
    PQclear(res);
    explicit_bzero(token, strlen(token));
    free(token);
}

static const char sql_host_list[] =
    "SELECT " HOST_COLS HOST_FROM " WHERE h.id > $1 ORDER BY h.id LIMIT $2";

void h_host_list(struct req *r)
{
    dbq_list(r, sql_host_list, 16, host_json);
}

static void reply_host(struct req *r, PGresult *res)
{
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "host not found");
    else
        http_reply_json(r, 200, host_json(res, 0));
    PQclear(res);
}

static const char sql_host_get[] = "SELECT " HOST_COLS HOST_FROM " WHERE h.name = $1";

void h_host_get(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_host_get, r->params[0]);

    if (res)
        reply_host(r, res);
}

static const char sql_host_drain[] =
    "WITH u AS (UPDATE hosts h SET draining = $2::boolean FROM hosts o"
    "  WHERE o.id = h.id AND h.name = $1 RETURNING h.*, o.draining AS was),"
    " e AS (INSERT INTO events (actor, kind, message)"
    "  SELECT $3, CASE WHEN $2::boolean THEN 'host.draining' ELSE 'host.undrained' END,"
    "  format('host \"%s\" %s', name, CASE WHEN $2::boolean THEN 'draining' ELSE 'undrained' END)"
    "  FROM u WHERE u.was <> $2::boolean)"
    " SELECT " HOST_COLS " FROM u h,"
    " LATERAL (SELECT count(DISTINCT m.instance_id) FROM members m WHERE m.host_id = h.id) n";

static void set_draining(struct req *r, const char *value)
{
    PGresult *res = dbq_ok(r, sql_host_drain, r->params[0], value, r->who.actor);

    if (res)
        reply_host(r, res);
}

void h_host_drain(struct req *r)
{
    set_draining(r, "true");
}

void h_host_undrain(struct req *r)
{
    set_draining(r, "false");
}

static const char sql_host_delete[] =
    "WITH h AS (DELETE FROM hosts WHERE name = $1 RETURNING name)"
    " INSERT INTO events (actor, kind, message)"
    " SELECT $2, 'host.removed', format('host \"%s\" removed', name) FROM h RETURNING id";
/* Force: a host that is not ready and will not come back. Its members' rows go with it, which
 * finishes the deletes that waited for its agent (reconcile finalizes those instances and
 * returns their usage); an instance that kept a running member there is marked short of a
 * replica, so the scheduler places one elsewhere. Refused (nothing changes) while the host is
 * ready, or while it holds the running primary of an instance that is not being deleted: the
 * only writable copy, which HA has not failed over. Answers the host's state, such an
 * instance's name, the members removed and whether the host went. */
static const char sql_host_force_delete[] =
    "WITH h AS (SELECT id, name, state FROM hosts WHERE name = $1 FOR UPDATE),"
    " b AS (SELECT i.name FROM members m JOIN h ON m.host_id = h.id"
    "  JOIN instances i ON i.id = m.instance_id WHERE m.role = 'primary' AND m.desired = 'running'"
    "  AND i.status <> 'deleting' ORDER BY i.name LIMIT 1),"
    " ok AS (SELECT id, name FROM h WHERE state <> 'ready' AND NOT EXISTS (SELECT 1 FROM b)),"
    " d AS (DELETE FROM members m USING ok WHERE m.host_id = ok.id"
    "  RETURNING m.instance_id, m.desired = 'running' AS live),"
    " i AS (UPDATE instances i SET host_id = CASE WHEN i.host_id = ok.id THEN NULL"
    "  ELSE i.host_id END, replicas_pending = i.replicas_pending OR (i.status IN ('running',"
    "  'degraded', 'resizing') AND EXISTS (SELECT 1 FROM d WHERE d.instance_id = i.id AND d.live))"
    "  FROM ok WHERE i.host_id = ok.id OR i.id IN (SELECT instance_id FROM d) RETURNING i.id),"
    " x AS (DELETE FROM hosts USING ok WHERE hosts.id = ok.id RETURNING hosts.name),"
    " e AS (INSERT INTO events (actor, kind, message) SELECT $2, 'host.removed',"
    "  format('host \"%s\" removed by force with %s member(s)', name,"
    "  (SELECT count(*) FROM d)) FROM x)"
    " SELECT h.state, (SELECT name FROM b), (SELECT count(*) FROM d), (SELECT count(*) FROM x),"
    " (SELECT count(*) FROM i) FROM h";

static void host_force_delete(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_host_force_delete, r->params[0], r->who.actor);

    if (!res)
        return;
    if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "host not found");
    else if (strcmp(PQgetvalue(res, 0, 0), "ready") == 0)
        http_error(r, 409, "conflict", NULL,
                   "host \"%s\" is ready: stop its agent (or drain it) before removing it by force",
                   r->params[0]);
    else if (!PQgetisnull(res, 0, 1))
        http_error(r, 409, "conflict", NULL,
                   "host \"%s\" holds the running primary of instance \"%s\", which has not failed"
                   " over: delete the instance or wait for the failover",
                   r->params[0], PQgetvalue(res, 0, 1));
    else {
        log_info("event=host_force_removed host=%s members=%s", r->params[0],
                 PQgetvalue(res, 0, 2));
        notify_bump(); /* its token's cached row and the scheduler */
        http_reply_empty(r, 204);
    }
    PQclear(res);
}

void h_host_delete(struct req *r)
{
    const char *force = http_query(r, "force");
    PGresult *res;

    if (force && strcmp(force, "true") != 0 && strcmp(force, "false") != 0) {
        http_error(r, 400, "invalid_field", "force", "force must be true or false");
        return;
    }
    if (force && strcmp(force, "true") == 0) {
        host_force_delete(r);
        return;
    }
    res = dbq_run(r, sql_host_delete, r->params[0], r->who.actor);
    if (!res)
        return;
    if (dbq_fk_violation(res))
        http_error(r, 409, "conflict", NULL,
                   "host \"%s\" still holds instances (a host that will not come back: "
                   "?force=true)",
                   r->params[0]);
    else if (!store_ok(res))
        dbq_sql_error(r, res);
    else if (PQntuples(res) == 0)
        http_error(r, 404, "not_found", NULL, "host not found");
    else {
        notify_bump(); /* its token's cached row (api/auth.h) goes, in every dbaasd */
        http_reply_empty(r, 204);
    }
    PQclear(res);
}
