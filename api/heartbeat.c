/* Handler: the node agents' heartbeat. An agent authenticates with its host's token and can act
 * only as that host: every statement is scoped by the host id from the token. docs/agent.md
 * describes the exchange. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/body.h"
#include "api/dbq.h"
#include "control/notify.h"
#include "control/reconcile.h"
#include "api/handlers.h"
#include "store/store.h"
#include "lib/crypto.h"
#include "lib/hbproto.h"
#include "lib/istate.h"
#include "lib/log.h"
#include "lib/clock.h"

#define HEARTBEAT_INTERVAL_MS 1000

#define MAX_WAIT_MS 5000

static const char sql_host_seen[] =
    "WITH o AS (SELECT state FROM hosts WHERE id = $1::bigint),"
    " u AS (UPDATE hosts SET state = 'ready', last_heartbeat = now(), unreachable_since = NULL,"
    "  agent = $2::jsonb, port_min = coalesce($3::int, port_min),"
    "  port_max = coalesce($4::int, port_max) WHERE id = $1::bigint RETURNING name),"
    " e AS (INSERT INTO events (actor, kind, message)"
    "  SELECT $5, 'host.ready', format('host \"%s\" is ready (was %s)', u.name, o.state)"
    "  FROM u, o WHERE o.state <> 'ready')"
    " SELECT o.state FROM o";
/* What the agent observed; a member whose restart count grew was restarted after a crash. */
static const char sql_observed[] =
    "WITH r AS (SELECT * FROM jsonb_to_recordset($2::jsonb)"
    " AS r(" HB_F_ID " bigint, " HB_F_STATE " text,"
    "  " HB_F_ERROR " text, " HB_F_PID " int, " HB_F_RESTARTS " int,"
    " " HB_F_APPLIED_VERSION " int, " HB_F_PENDING_RESTART " boolean,"
    "  " HB_F_USAGE " jsonb)),"
    " o AS (SELECT m.id, m.restarts FROM members m JOIN r ON r." HB_F_ID " = m.id"
    "  WHERE m.host_id = $1::bigint),"
    " u AS (UPDATE members m SET observed = r." HB_F_STATE ","
    " observed_error = left(r." HB_F_ERROR ", 2000),"
    "  pid = r." HB_F_PID ", restarts = coalesce(r." HB_F_RESTARTS ", 0),"
    "  observed_version = coalesce(r." HB_F_APPLIED_VERSION ", 0),"
    "  pending_restart = coalesce(r." HB_F_PENDING_RESTART ", false), usage = r." HB_F_USAGE ","
    "  observed_at = now() FROM r WHERE m.id = r." HB_F_ID " AND m.host_id = $1::bigint"
    "  RETURNING m.id, m.instance_id, m.role, m.restarts, m.observed_error)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT i.tenant_id, u.instance_id, $3, 'member.restarted', format('instance \"%s\": the"
    " %s''s engine %s; restarted by the agent (restart %s)', i.name, u.role,"
    " coalesce(u.observed_error, 'exited'), u.restarts)"
    " FROM u JOIN o ON o.id = u.id JOIN instances i ON i.id = u.instance_id"
    " WHERE u.restarts > o.restarts RETURNING id";
/* Disk: an event when a member passes 90% of its plan's disk (again after it fell below 80%),
 * and the instance is marked storage_full while a member is beyond 100%. */
static const char sql_disk_warn[] =
    "WITH w AS (UPDATE members m"
    " SET disk_warned = (m.usage->>'" HB_F_DISK_MB "')::bigint * 10 >= m.disk_mb * 8"
    "  FROM instances i WHERE i.id = m.instance_id AND m.host_id = $1::bigint"
    "  AND m.usage ? '" HB_F_DISK_MB "'"
    " AND m.disk_warned <> ((m.usage->>'" HB_F_DISK_MB "')::bigint * 10 >="
    "  m.disk_mb * CASE WHEN m.disk_warned THEN 8 ELSE 9 END)"
    "  RETURNING m.instance_id, m.role, m.disk_warned,"
    " (m.usage->>'" HB_F_DISK_MB "')::bigint AS used,"
    "  m.disk_mb, i.tenant_id, i.name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, instance_id, $2, 'instance.disk', format('instance \"%s\": the %s uses"
    " %s of %s MiB of disk (%s%%)', name, role, used, disk_mb, used * 100 / disk_mb)"
    " FROM w WHERE disk_warned RETURNING id";
static const char sql_storage_full[] =
    "WITH s AS (SELECT instance_id, bool_or((usage->>'" HB_F_DISK_MB "')::bigint > disk_mb) AS full"
    "  FROM members WHERE desired = '" HB_DESIRED_RUNNING "' AND instance_id IN"
    "  (SELECT instance_id FROM members WHERE host_id = $1::bigint) GROUP BY instance_id),"
    " u AS (UPDATE instances i SET storage_full = s.full, updated_at = now() FROM s"
    "  WHERE i.id = s.instance_id AND i.storage_full IS DISTINCT FROM coalesce(s.full, false)"
    "  RETURNING i.tenant_id, i.id, i.name, i.storage_full)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, $2, 'instance.storage_full', format('instance \"%s\" %s', name,"
    " CASE WHEN storage_full THEN 'is beyond its plan''s disk: storage_full'"
    " ELSE 'is back within its plan''s disk' END) FROM u RETURNING id";
static const char sql_release[] =
    "WITH d AS (DELETE FROM members m USING jsonb_to_recordset($2::jsonb)"
    " AS r(" HB_F_ID " bigint, " HB_F_STATE " text)"
    "  WHERE m.id = r." HB_F_ID " AND m.host_id = $1::bigint"
    " AND m.desired = '" HB_DESIRED_DELETED "'"
    "  AND r." HB_F_STATE " = '" HB_STATE_DELETED "'"
    " RETURNING m.cpu_millis, m.memory_mb, m.disk_mb),"
    " s AS (SELECT coalesce(sum(cpu_millis), 0) AS c, coalesce(sum(memory_mb), 0) AS m,"
    "  coalesce(sum(disk_mb), 0) AS d, count(*) AS n FROM d)"
    " UPDATE hosts SET alloc_cpu_millis = alloc_cpu_millis - s.c,"
    " alloc_memory_mb = alloc_memory_mb - s.m, alloc_disk_mb = alloc_disk_mb - s.d"
    " FROM s WHERE hosts.id = $1::bigint AND s.n > 0 RETURNING s.n";
static const char sql_instance_health[] =
    "SELECT i.id, i.status,"
    " coalesce(bool_and(m.observed = '" HB_STATE_RUNNING "'"
    " AND m.observed_version >= m.spec_version)"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(bool_or(m.role = 'primary' AND m.observed = '" HB_STATE_RUNNING "')"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(bool_or(m.role = 'primary' AND m.observed = '" HB_STATE_FAILED "')"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " string_agg(m.observed_error, '; ') FILTER (WHERE m.observed = '" HB_STATE_FAILED "'"
    "  AND m.desired = '" HB_DESIRED_RUNNING "'),"
    " coalesce(bool_or(m.pending_restart)"
    " FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(i.status_reason, '')"
    " FROM instances i JOIN members m ON m.instance_id = i.id"
    " WHERE i.id IN (SELECT instance_id FROM members WHERE host_id = $1::bigint)"
    " AND i.status IN ('provisioning', 'running', 'resizing', 'degraded', 'failed')"
    " GROUP BY i.id";
static const char sql_instance_status[] =
    "WITH u AS (UPDATE instances SET status = $2, status_reason = $3, updated_at = now()"
    "  WHERE id = $1::uuid AND status = $4 RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, $5, 'instance.status', format('instance \"%s\": %s -> %s%s', name,"
    " $4::text, $2::text, coalesce(': ' || $3, '')) FROM u RETURNING id";
static const char sql_desired[] =
    "SELECT coalesce(json_agg(json_build_object("
    "  '" HB_F_ID "', m.id, '" HB_F_INSTANCE_ID "', m.instance_id,"
    " '" HB_F_INSTANCE "', i.name, '" HB_F_ENGINE "', i.engine,"
    "  '" HB_F_VERSION "', i.version, '" HB_F_ROLE "', m.role, '" HB_F_PORT "', m.port,"
    " '" HB_F_DESIRED "', m.desired,"
    "  '" HB_F_SPEC_VERSION "', m.spec_version,"
    "  '" HB_F_LIMITS "', json_build_object('" HB_F_CPU_MILLIS "', m.cpu_millis,"
    " '" HB_F_MEMORY_MB "', m.memory_mb,"
    "   '" HB_F_DISK_MB "', m.disk_mb, '" HB_F_READ_IOPS "', coalesce(p.read_iops, 0),"
    "   '" HB_F_WRITE_IOPS "', coalesce(p.write_iops, 0),"
    " '" HB_F_READ_BPS "', coalesce(p.read_bps, 0),"
    "   '" HB_F_WRITE_BPS "', coalesce(p.write_bps, 0)),"
    "  '" HB_F_CREDENTIALS "', json_build_object('" HB_F_USERNAME "', i.username,"
    " '" HB_F_VERIFIER "', i.verifier),"
    "  '" HB_F_PRIMARY "', (SELECT json_build_object('" HB_F_HOST "', ph.address,"
    " '" HB_F_PORT "', pm.port)"
    "   FROM members pm JOIN hosts ph ON ph.id = pm.host_id WHERE pm.instance_id = m.instance_id"
    "   AND pm.role = 'primary' AND pm.desired = '" HB_DESIRED_RUNNING "' LIMIT 1))"
    "  ORDER BY m.id), '[]')::text"
    " FROM members m JOIN instances i ON i.id = m.instance_id"
    " LEFT JOIN plans p ON p.id = i.plan_id WHERE m.host_id = $1::bigint";

/* Check the reported members: an array of objects, each with an integer id and a known state.
 * 0, or -1 after replying 400. */
static int check_members(struct req *r, json_t *members)
{
    size_t i;
    json_t *m;
    enum hb_state state;

    if (!json_is_array(members))
        return http_error(r, 400, "invalid_field", HB_F_MEMBERS, HB_F_MEMBERS " must be an array");
    json_array_foreach(members, i, m)
    {
        if (!json_is_object(m) || !json_is_integer(json_object_get(m, HB_F_ID)))
            return http_error(r, 400, "invalid_field", HB_F_MEMBERS,
                              "each member must be an object with an integer " HB_F_ID);
        if (hb_state_parse(json_string_value(json_object_get(m, HB_F_STATE)), &state) < 0)
            return http_error(r, 400, "invalid_field", HB_F_MEMBERS,
                              "member " HB_F_STATE " must be one of " HB_STATE_PENDING
                              ", " HB_STATE_STARTING ", " HB_STATE_RUNNING ", " HB_STATE_FAILED
                              ", " HB_STATE_STOPPED ", " HB_STATE_DELETED);
    }
    return 0;
}

/* Move each instance with members on this host to the status its members show. */
static int update_instances(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_instance_health, r->who.host_id);
    int i;

    if (!res)
        return -1;
    for (i = 0; i < PQntuples(res); i++) {
        enum istate from, to;
        bool all_ok = PQgetvalue(res, i, 2)[0] == 't';
        bool primary_ok = PQgetvalue(res, i, 3)[0] == 't';
        bool primary_failed = PQgetvalue(res, i, 4)[0] == 't';
        bool pending_restart = PQgetvalue(res, i, 6)[0] == 't';
        const char *reason = NULL;
        char buf[600];
        PGresult *u;

        if (istate_parse(PQgetvalue(res, i, 1), &from) < 0)
            continue;
        to = from;
        if (all_ok) {
            to = from == IST_FAILED ? IST_PROVISIONING : IST_RUNNING;
            if (pending_restart)
                reason = "settings changed by the last resize apply at the next restart";
        } else if (primary_failed && from == IST_PROVISIONING) {
            to = IST_FAILED;
            snprintf(buf, sizeof(buf), "%s",
                     PQgetisnull(res, i, 5) ? "the primary failed to start"
                                            : PQgetvalue(res, i, 5));
            reason = buf;
        } else if (!all_ok && primary_ok && from == IST_RUNNING) {
            to = IST_DEGRADED;
            reason = "a replica is not running";
        }
        if (to == from && strcmp(PQgetvalue(res, i, 7), reason ? reason : "") == 0)
            continue;
        if (to != from && !istate_can_transition(from, to))
            continue;
        u = dbq_ok(r, sql_instance_status, PQgetvalue(res, i, 0), istate_name(to), reason,
                   istate_name(from), r->who.actor);
        if (!u) {
            PQclear(res);
            return -1;
        }
        if (to != from)
            log_info("event=instance_status id=%s from=%s to=%s", PQgetvalue(res, i, 0),
                     istate_name(from), istate_name(to));
        PQclear(u);
    }
    PQclear(res);
    return 0;
}

/* Answer the host's desired members; when the agent already has them (same hash) and its
 * wait is not over, park the request until they change (a long poll holding no thread). */
static void answer_desired(struct req *r)
{
    uint64_t gen = notify_generation();
    PGresult *res = dbq_ok(r, sql_desired, r->who.host_id);
    json_t *desired;
    char hash[65];

    if (!res)
        return;
    crypto_sha256_hex(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), hash);
    if (r->park_hash[0] && strcmp(r->park_hash, hash) == 0 &&
        clock_now_ms() < r->park_deadline_ms && !http_stopping()) {
        PQclear(res);
        http_park(r, gen, r->park_deadline_ms);
        return;
    }
    desired = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    http_reply_json(r, 200,
                    json_pack("{s:s,s:i,s:s,s:o}", HB_F_HOST, r->who.host,
                              HB_F_HEARTBEAT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, HB_F_DESIRED_HASH,
                              hash, HB_F_MEMBERS, desired ? desired : json_array()));
}

void h_agent_heartbeat(struct req *r)
{
    static const char *const keys[] = {HB_F_AGENT_VERSION, HB_F_ISOLATION, HB_F_CAPACITY,
                                       HB_F_ENGINES,       HB_F_PORTS,     HB_F_MEMBERS,
                                       HB_F_DESIRED_HASH,  HB_F_WAIT_MS,   NULL};
    json_t *members, *ports, *agent;
    char *members_text = NULL, *agent_text = NULL, pmin[24], pmax[24];
    const char *pmin_p = NULL, *pmax_p = NULL;
    PGresult *res = NULL;
    const char *seen_hash = NULL;
    int64_t wait_ms = 0;
    bool was_ready;

    if (r->resumed) {
        answer_desired(r);
        return;
    }
    if (body_parse(r, true) < 0 || body_allow(r, keys) < 0)
        return;
    members = json_object_get(r->json, HB_F_MEMBERS);
    if (!members)
        members = json_array();
    else
        json_incref(members);
    if (check_members(r, members) < 0 ||
        body_string(r, HB_F_DESIRED_HASH, false, 64, NULL, "a hash from an earlier reply",
                    &seen_hash) < 0 ||
        body_int(r, HB_F_WAIT_MS, false, false, 0, MAX_WAIT_MS, &wait_ms, NULL) < 0)
        goto out;
    ports = json_object_get(r->json, HB_F_PORTS);
    if (ports) {
        json_int_t lo = json_integer_value(json_object_get(ports, HB_F_MIN));
        json_int_t hi = json_integer_value(json_object_get(ports, HB_F_MAX));
        if (!json_is_object(ports) || lo < 1024 || hi > 65535 || lo > hi) {
            http_error(r, 400, "invalid_field", HB_F_PORTS,
                       "ports must be {\"min\",\"max\"} with 1024 <= min <= max <= 65535");
            goto out;
        }
        snprintf(pmin, sizeof(pmin), "%lld", (long long)lo);
        snprintf(pmax, sizeof(pmax), "%lld", (long long)hi);
        pmin_p = pmin;
        pmax_p = pmax;
    }
    agent = json_deep_copy(r->json);
    json_object_del(agent, HB_F_MEMBERS);
    json_object_del(agent, HB_F_DESIRED_HASH);
    json_object_del(agent, HB_F_WAIT_MS);
    agent_text = json_dumps(agent, JSON_COMPACT);
    json_decref(agent);
    members_text = json_dumps(members, JSON_COMPACT);

    res = dbq_ok(r, sql_host_seen, r->who.host_id, agent_text, pmin_p, pmax_p, r->who.actor);
    if (!res)
        goto out;
    was_ready = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "ready") == 0;
    PQclear(res);
    res = dbq_ok(r, sql_observed, r->who.host_id, members_text, r->who.actor);
    if (!res)
        goto out;
    PQclear(res);
    res = dbq_ok(r, sql_disk_warn, r->who.host_id, r->who.actor);
    if (!res)
        goto out;
    PQclear(res);
    res = dbq_ok(r, sql_storage_full, r->who.host_id, r->who.actor);
    if (!res)
        goto out;
    PQclear(res);
    res = dbq_ok(r, sql_release, r->who.host_id, members_text);
    if (!res)
        goto out;
    if (!was_ready || PQntuples(res) > 0)
        reconcile_kick(); /* a host came up or capacity was freed: try to place */
    PQclear(res);
    res = NULL;
    if (update_instances(r) < 0)
        goto out;
    snprintf(r->park_hash, sizeof(r->park_hash), "%s", seen_hash ? seen_hash : "");
    r->park_deadline_ms = clock_now_ms() + wait_ms;
    answer_desired(r);
out:
    PQclear(res);
    json_decref(members);
    free(members_text);
    free(agent_text);
}
