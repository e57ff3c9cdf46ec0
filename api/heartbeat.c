/* Handler: the node agents' heartbeat. An agent authenticates with its host's token and can act
 * only as that host: every statement is scoped by the host id from the token. docs/agent.md
 * describes the exchange. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/body.h"
#include "api/dbq.h"
#include "api/hbcheck.h"
#include "api/hbmemo.h"
#include "control/istatus.h"
#include "control/lease.h"
#include "control/notify.h"
#include "control/reconcile.h"
#include "api/handlers.h"
#include "store/store.h"
#include "lib/catalog.h"
#include "lib/crypto.h"
#include "lib/hbproto.h"
#include "lib/istate.h"
#include "lib/log.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

#define HEARTBEAT_INTERVAL_MS 1000

#define MAX_WAIT_MS 5000
/* The replication user's password: as long as the tenants' (api/instances.c). */
#define REPL_SECRET_LEN 32

/* The host is seen; also whether its seed port changed while it holds a primary (the answers to
 * the hosts of that primary's replicas change with it; a host with no primary wakes nobody: a
 * fleet of agents starting would otherwise wake every parked poll at each first heartbeat). */
static const char sql_host_seen[] =
    "WITH o AS (SELECT state, agent->'" HB_F_SEED_PORT "' AS seed FROM hosts"
    "  WHERE id = $1::bigint),"
    " u AS (UPDATE hosts SET state = 'ready', last_heartbeat = now(), unreachable_since = NULL,"
    "  agent = $2::jsonb, port_min = coalesce($3::int, port_min),"
    "  port_max = coalesce($4::int, port_max) WHERE id = $1::bigint RETURNING name),"
    " e AS (INSERT INTO events (actor, kind, message)"
    "  SELECT $5, 'host.ready', format('host \"%s\" is ready (was %s)', u.name, o.state)"
    "  FROM u, o WHERE o.state <> 'ready')"
    " SELECT o.state, o.seed IS DISTINCT FROM $2::jsonb->'" HB_F_SEED_PORT "'"
    "  AND EXISTS (SELECT 1 FROM members m WHERE m.host_id = $1::bigint"
    "  AND m.role = '" HB_ROLE_PRIMARY "') FROM o";
/* What the agent observed; a member whose restart count grew was restarted after a crash. The
 * health and seeding objects were cleaned by hbcheck_members(): only known fields, typed.
 * fenced: the member does not take writes because it was fenced (the HA loop waits for it). */
static const char sql_observed[] =
    "WITH r AS (SELECT * FROM jsonb_to_recordset($2::jsonb)"
    " AS r(" HB_F_ID " bigint, " HB_F_STATE " text,"
    "  " HB_F_ERROR " text, " HB_F_PID " int, " HB_F_RESTARTS " int,"
    " " HB_F_APPLIED_VERSION " int, " HB_F_PENDING_RESTART " boolean,"
    "  " HB_F_USAGE " jsonb, " HB_F_HEALTH " jsonb, " HB_F_SEEDING " jsonb,"
    "  " HB_F_RESIZE_VERSION " int, " HB_F_RESIZE_ERROR " text, " HB_F_FENCED " boolean)),"
    " o AS (SELECT m.id, m.restarts FROM members m JOIN r ON r." HB_F_ID " = m.id"
    "  WHERE m.host_id = $1::bigint),"
    " u AS (UPDATE members m SET observed = r." HB_F_STATE ","
    " observed_error = left(r." HB_F_ERROR ", 2000),"
    "  pid = r." HB_F_PID ", restarts = coalesce(r." HB_F_RESTARTS ", 0),"
    "  observed_version = coalesce(r." HB_F_APPLIED_VERSION ", 0),"
    "  pending_restart = coalesce(r." HB_F_PENDING_RESTART ", false), usage = r." HB_F_USAGE ","
    "  health = r." HB_F_HEALTH ", seeding = r." HB_F_SEEDING ","
    "  resize_version = r." HB_F_RESIZE_VERSION ","
    "  resize_error = left(r." HB_F_RESIZE_ERROR ", 2000),"
    "  fenced = coalesce(r." HB_F_FENCED ", false),"
    "  health_at = CASE WHEN r." HB_F_HEALTH " IS NOT NULL THEN now() - make_interval(secs =>"
    "   coalesce((r." HB_F_HEALTH "->>'" HB_F_AGE_MS "')::bigint, 0) / 1000.0) END,"
    "  observed_at = now() FROM r WHERE m.id = r." HB_F_ID " AND m.host_id = $1::bigint"
    "  RETURNING m.id, m.instance_id, m.role, m.restarts, m.observed_error)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT i.tenant_id, u.instance_id, $3, 'member.restarted', format('instance \"%s\": the"
    " %s''s engine %s; restarted by the agent (restart %s)', i.name, u.role,"
    " coalesce(u.observed_error, 'exited'), u.restarts)"
    " FROM u JOIN o ON o.id = u.id JOIN instances i ON i.id = u.instance_id"
    " WHERE u.restarts > o.restarts RETURNING id";
/* The replicas on this host that are caught up now: the start of the lag_seconds estimate. */
static const char sql_caught_up[] =
    "UPDATE members m SET caught_up_at = now() FROM member_health v"
    " WHERE v.id = m.id AND m.host_id = $1::bigint AND v.lag_bytes = 0 RETURNING m.id";
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
    " RETURNING m.cpu_millis, m.memory_mb, m.disk_mb, m.instance_id),"
    " s AS (SELECT coalesce(sum(cpu_millis), 0) AS c, coalesce(sum(memory_mb), 0) AS m,"
    "  coalesce(sum(disk_mb), 0) AS d, count(*) AS n,"
    "  array_agg(DISTINCT instance_id)::text AS i FROM d)"
    " UPDATE hosts SET alloc_cpu_millis = alloc_cpu_millis - s.c,"
    " alloc_memory_mb = alloc_memory_mb - s.m, alloc_disk_mb = alloc_disk_mb - s.d"
    " FROM s WHERE hosts.id = $1::bigint AND s.n > 0 RETURNING s.n, s.i";
/* Each instance with a member on this host, as its members show it: 2 every member meant to
 * run is current, 3 the primary runs, 4 the primary failed, 5 the failed members' errors,
 * 6 a restart is pending, 7 the status_reason now, 8 what is wrong with the replicas (the first
 * problem of each replica meant to run, then the replicas asked for and not placed yet), 9 the
 * members whose agent could not apply their current spec_version's limits, and why. */
static const char sql_instance_health[] =
    "SELECT i.id, i.status,"
    " coalesce(bool_and(m.observed = '" HB_STATE_RUNNING "'"
    " AND m.observed_version >= m.spec_version)"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(bool_or(m.role = '" HB_ROLE_PRIMARY "' AND m.observed = '" HB_STATE_RUNNING "')"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(bool_or(m.role = '" HB_ROLE_PRIMARY "' AND m.observed = '" HB_STATE_FAILED "')"
    "  FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " string_agg(m.observed_error, '; ') FILTER (WHERE m.observed = '" HB_STATE_FAILED "'"
    "  AND m.desired = '" HB_DESIRED_RUNNING "'),"
    " coalesce(bool_or(m.pending_restart)"
    " FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'), false),"
    " coalesce(i.status_reason, ''),"
    " concat_ws('; ', string_agg(CASE"
    "   WHEN h.state <> 'ready' THEN format('replica %s: host \"%s\" is %s', m.id, h.name, h.state)"
    "   WHEN m.observed <> '" HB_STATE_RUNNING "'"
    "    THEN format('replica %s on host \"%s\" is %s', m.id, h.name, m.observed)"
    "   WHEN m.health IS NULL"
    "    THEN format('replica %s on host \"%s\" has not been probed yet', m.id, h.name)"
    "   WHEN v.alive IS NOT TRUE"
    "    THEN format('replica %s on host \"%s\" does not answer its health probe', m.id, h.name)"
    "   WHEN v.upstream_up IS NOT TRUE"
    "    THEN format('replica %s on host \"%s\" is not connected to the primary', m.id, h.name)"
    "   WHEN v.lag_bytes > i.max_lag_bytes"
    "    THEN format('replica %s on host \"%s\" lags more than max_lag_bytes (%s) behind the"
    " primary', m.id, h.name, i.max_lag_bytes) END, '; ' ORDER BY m.id)"
    "  FILTER (WHERE m.role = '" HB_ROLE_REPLICA "' AND m.desired = '" HB_DESIRED_RUNNING "'),"
    "  CASE WHEN count(*) FILTER (WHERE m.role = '" HB_ROLE_REPLICA "'"
    "   AND m.desired = '" HB_DESIRED_RUNNING "') < i.replicas"
    "  THEN format('%s of %s replicas not placed yet%s', i.replicas - count(*) FILTER (WHERE"
    "   m.role = '" HB_ROLE_REPLICA "' AND m.desired = '" HB_DESIRED_RUNNING "'), i.replicas,"
    "   coalesce(': ' || i.place_refusal, '')) END),"
    " string_agg(format('the %s (member %s) on host \"%s\": %s', m.role, m.id, h.name,"
    "  m.resize_error), '; ' ORDER BY m.id) FILTER (WHERE m.desired = '" HB_DESIRED_RUNNING "'"
    "  AND m.resize_version = m.spec_version AND m.observed_version < m.spec_version)"
    " FROM instances i JOIN members m ON m.instance_id = i.id JOIN hosts h ON h.id = m.host_id"
    " JOIN member_health v ON v.id = m.id"
    " WHERE i.id IN (SELECT instance_id FROM members WHERE host_id = $1::bigint)"
    " AND i.status IN ('provisioning', 'running', 'resizing', 'degraded', 'failed')"
    " GROUP BY i.id";
static const char sql_instance_status[] =
    "WITH u AS (UPDATE instances SET status = $2, status_reason = $3, updated_at = now()"
    "  WHERE id = $1::uuid AND status = $4 RETURNING tenant_id, id, name)"
    " INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    " SELECT tenant_id, id, $5, 'instance.status', format('instance \"%s\": %s -> %s%s', name,"
    " $4::text, $2::text, coalesce(': ' || $3, '')) FROM u RETURNING id";
/* The instances with a member on this host that have no replication secret yet (made before
 * secrets existed): one is made for each, once (the first writer wins). */
static const char sql_secretless[] =
    "SELECT DISTINCT m.instance_id FROM members m WHERE m.host_id = $1::bigint"
    " AND m.desired = '" HB_DESIRED_RUNNING "'"
    " AND NOT EXISTS (SELECT 1 FROM instance_secrets s WHERE s.instance_id = m.instance_id)";
static const char sql_secret_add[] =
    "INSERT INTO instance_secrets (instance_id, repl_secret) VALUES ($1::uuid, $2)"
    " ON CONFLICT (instance_id) DO NOTHING";
/* The host's desired members. A member meant to run gets the instance's replication secret; a
 * primary the replicas it serves, a replica where to seed from (the primary's host and the seed
 * port its agent reported); every member whether the instance replicates synchronously and
 * whether it must stop taking writes (fence, docs/ha.md). Roles come from the member rows, so a
 * promotion changes the answer of every host of the instance (the primary's id and address,
 * the replicas' list). Every list is in id order: the text is hashed. */
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
    "  '" HB_F_PRIMARY "', CASE WHEN pm.id IS NOT NULL THEN json_build_object('" HB_F_ID "',"
    "   pm.id, '" HB_F_HOST "', pm.address, '" HB_F_PORT "', pm.port) END,"
    "  '" HB_F_REPLICAS "', CASE WHEN m.role = '" HB_ROLE_PRIMARY "' THEN (SELECT"
    "   coalesce(json_agg(json_build_object('" HB_F_ID "', rm.id, '" HB_F_HOST "', rh.address,"
    "   '" HB_F_PORT "', rm.port) ORDER BY rm.id), '[]') FROM members rm"
    "   JOIN hosts rh ON rh.id = rm.host_id WHERE rm.instance_id = m.instance_id"
    "   AND rm.role = '" HB_ROLE_REPLICA "' AND rm.desired = '" HB_DESIRED_RUNNING "') END,"
    "  '" HB_F_SEED "', CASE WHEN m.role = '" HB_ROLE_REPLICA "'"
    "   AND pm.agent->>'" HB_F_SEED_PORT "' IS NOT NULL THEN json_build_object('" HB_F_HOST "',"
    "   pm.address, '" HB_F_PORT "', (pm.agent->>'" HB_F_SEED_PORT "')::int) END,"
    "  '" HB_F_SYNC "', i.sync, '" HB_F_FENCE "', m.fence,"
    "  '" HB_F_REPLICATION "', CASE WHEN m.desired = '" HB_DESIRED_RUNNING "' THEN (SELECT"
    "   json_build_object('" HB_F_USER "', '" CATALOG_REPL_USER "', '" HB_F_SECRET "',"
    "   s.repl_secret) FROM instance_secrets s WHERE s.instance_id = m.instance_id) END)"
    "  ORDER BY m.id), '[]')::text"
    " FROM members m JOIN instances i ON i.id = m.instance_id"
    " LEFT JOIN plans p ON p.id = i.plan_id"
    " LEFT JOIN LATERAL (SELECT pm.id, pm.port, ph.address, ph.agent FROM members pm"
    "  JOIN hosts ph ON ph.id = pm.host_id WHERE pm.instance_id = m.instance_id"
    "  AND pm.role = '" HB_ROLE_PRIMARY "' AND pm.desired = '" HB_DESIRED_RUNNING "'"
    "  ORDER BY pm.id LIMIT 1) pm ON true"
    " WHERE m.host_id = $1::bigint";
/* The generation of the host's desired members: a new value from the sequence whenever the
 * answer differs from the last one (hash), under the host row's lock (docs/agent.md). */
static const char sql_host_lock[] = "SELECT 1 FROM hosts WHERE id = $1::bigint FOR UPDATE";
/* The hash and generation of the last answer (fast path: a resumed long poll). */
static const char sql_host_gen[] =
    "SELECT coalesce(desired_hash, ''), desired_gen FROM hosts WHERE id = $1::bigint";
static const char sql_generation[] =
    "UPDATE hosts SET desired_gen = CASE WHEN desired_hash IS DISTINCT FROM $2"
    "  THEN nextval('desired_gen_seq') ELSE desired_gen END, desired_hash = $2"
    " WHERE id = $1::bigint RETURNING desired_gen";

/* Move each instance with members on this host to the status its members show. */
static int update_instances(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_instance_health, r->who.host_id);
    int i;

    if (!res)
        return -1;
    for (i = 0; i < PQntuples(res); i++) {
        struct istatus_facts f;
        struct istatus_verdict v;
        char resize_reason[2048];
        enum istate from;
        PGresult *u;

        if (istate_parse(PQgetvalue(res, i, 1), &from) < 0)
            continue;
        f.all_current = PQgetvalue(res, i, 2)[0] == 't';
        f.primary_running = PQgetvalue(res, i, 3)[0] == 't';
        f.primary_failed = PQgetvalue(res, i, 4)[0] == 't';
        f.failed_errors = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5);
        f.pending_restart = PQgetvalue(res, i, 6)[0] == 't';
        f.replica_problem = PQgetvalue(res, i, 8);
        f.resize_failed = NULL;
        if (!PQgetisnull(res, i, 9)) {
            /* a longer text is cut: its start says what failed */
            if (snprintf(resize_reason, sizeof(resize_reason), "resize failed: %s",
                         PQgetvalue(res, i, 9)) < 0)
                resize_reason[0] = '\0';
            f.resize_failed = resize_reason;
        }
        v = istatus_decide(from, &f);
        if (v.to == from &&
            (v.keep_reason || strcmp(PQgetvalue(res, i, 7), v.reason ? v.reason : "") == 0))
            continue;
        if (v.to != from && !istate_can_transition(from, v.to))
            continue;
        u = dbq_ok(r, sql_instance_status, PQgetvalue(res, i, 0), istate_name(v.to), v.reason,
                   istate_name(from), r->who.actor);
        if (!u) {
            PQclear(res);
            return -1;
        }
        if (v.to != from)
            log_info("event=instance_status id=%s from=%s to=%s", PQgetvalue(res, i, 0),
                     istate_name(from), istate_name(v.to));
        PQclear(u);
    }
    PQclear(res);
    return 0;
}

/* Give each instance with a member meant to run on this host a replication secret if it has
 * none yet. 0, or -1 after replying. */
static int ensure_secrets(struct req *r)
{
    PGresult *res = dbq_ok(r, sql_secretless, r->who.host_id);
    int i, rc = 0;

    if (!res)
        return -1;
    for (i = 0; i < PQntuples(res) && rc == 0; i++) {
        char *secret = crypto_password_new(REPL_SECRET_LEN);
        PGresult *u;

        if (!secret) {
            rc = http_error(r, 500, "internal", NULL, "could not generate a secret");
            break;
        }
        u = dbq_run(r, sql_secret_add, PQgetvalue(res, i, 0), secret);
        explicit_bzero(secret, REPL_SECRET_LEN);
        free(secret);
        if (!u) {
            rc = -1;
        } else if (store_ok(u)) {
            notify_bump_instance(PQgetvalue(res, i, 0)); /* its other hosts get it at once too */
        } else {
            /* Never the store's message here: it may quote the row. */
            log_error("event=sql_error method=%s path=%s sqlstate=%s what=\"replication secret\"",
                      r->method, r->path, store_sqlstate(u));
            rc = http_error(r, 500, "internal", NULL, "internal error");
        }
        PQclear(u);
    }
    PQclear(res);
    return rc;
}

/* The host's desired members (text, *out, caller frees), their hash and their generation, in
 * one transaction holding the host row's lock, so that the answers to one host are ordered:
 * each is read after the previous one committed, and the generation changes exactly when the
 * members do. When the hash equals park_hash the transaction is rolled back and *gen is 0.
 * 0, or -1 after replying. */
static int read_desired(struct req *r, const char *park_hash, char **out, char hash[65],
                        long long *gen)
{
    PGresult *res = NULL;

    *out = NULL;
    *gen = 0;
    if (dbq_begin(r) < 0)
        return -1;
    res = dbq_ok(r, sql_host_lock, r->who.host_id);
    if (!res)
        goto fail;
    PQclear(res);
    res = dbq_ok(r, sql_desired, r->who.host_id);
    if (!res)
        goto fail;
    crypto_sha256_hex(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), hash);
    *out = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (park_hash && strcmp(park_hash, hash) == 0) {
        dbq_rollback();
        return 0;
    }
    res = dbq_ok(r, sql_generation, r->who.host_id, hash);
    if (!res)
        goto fail;
    *gen = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    if (dbq_commit(r) < 0)
        goto fail_replied;
    auth_host_forget(r); /* the row's hash and generation moved */
    return 0;
fail:
    dbq_rollback();
fail_replied:
    PQclear(res);
    xfree_secret(out);
    return -1;
}

/* The host's lease: {port, key, ttl_ms, renew_ms}, or NULL when leases are off or the key could
 * not be read (logged; the agent renews with the lease it has). The key is a secret: it goes
 * only into this reply, never into a log. */
static json_t *lease_json(struct req *r)
{
    unsigned char key[LEASE_KEY_LEN];
    struct ha_settings hs;
    struct err e;
    json_t *o = NULL;
    char *b64;

    if (lease_port() == 0)
        return NULL;
    if (lease_host_key(strtoll(r->who.host_id, NULL, 10), key, &e) < 0) {
        log_warn("event=lease_key_failed host=%s error=\"%s\"", r->who.host, e.msg);
        return NULL;
    }
    b64 = crypto_base64url_encode(key, sizeof(key));
    explicit_bzero(key, sizeof(key));
    lease_settings(&hs);
    o = json_pack("{s:I,s:i,s:s,s:i,s:i}", HB_F_HOST_ID,
                  (json_int_t)strtoll(r->who.host_id, NULL, 10), HB_F_PORT, lease_port(), HB_F_KEY,
                  b64, HB_F_TTL_MS, hs.lease_ttl_ms, HB_F_RENEW_MS, hs.renew_ms);
    explicit_bzero(b64, strlen(b64));
    free(b64);
    return o;
}

/* Reply with the desired members (text, borrowed), their hash and generation, and the lease. */
static void reply_desired(struct req *r, const char *text, const char *hash, long long gen)
{
    json_t *desired = json_loads(text, 0, NULL);
    json_t *body =
        json_pack("{s:s,s:i,s:s,s:I,s:o}", HB_F_HOST, r->who.host, HB_F_HEARTBEAT_INTERVAL_MS,
                  HEARTBEAT_INTERVAL_MS, HB_F_DESIRED_HASH, hash, HB_F_GENERATION, (json_int_t)gen,
                  HB_F_MEMBERS, desired ? desired : json_array());
    json_t *lease = lease_json(r);

    if (lease)
        json_object_set_new(body, HB_F_LEASE, lease);
    http_reply_json(r, 200, body);
}

/* The fast path: when the desired members hash to what the store says was answered last (the
 * host row as the token check read it, or read again after a wake-up), answer or park without a
 * transaction, a lock or a write; and without reading them again when this host's last read is
 * recent and no change of this host was notified since (api/hbmemo.h). seen: the notify
 * generation taken before anything was read. 1 when answered or parked, 0 when the locked path
 * must run, -1 after replying an error. */
static int answer_unchanged(struct req *r, uint64_t seen, bool may_park)
{
    char *text = NULL, hash[65];
    int64_t host_id = strtoll(r->who.host_id, NULL, 10);
    uint64_t changed = notify_host_generation(host_id);
    PGresult *res;

    if (r->resumed && r->park_secret) {
        if (changed <= r->park_gen) {
            /* The wait is over and nothing was notified for this host since the members were
             * read: the answer read then. */
            reply_desired(r, r->park_secret, r->park_hash, r->park_value);
            xfree_secret(&r->park_secret);
            return 1;
        }
        /* Woken by a change of this host: read the members again; if they still hash to what
         * was parked, that hash's generation stands and the poll parks again. */
        snprintf(r->who.host_desired_hash, sizeof(r->who.host_desired_hash), "%s", r->park_hash);
        r->who.host_desired_gen = r->park_value;
        xfree_secret(&r->park_secret);
    } else if (r->resumed) {
        res = dbq_ok(r, sql_host_gen, r->who.host_id);
        if (!res)
            return -1;
        snprintf(r->who.host_desired_hash, sizeof(r->who.host_desired_hash), "%s",
                 PQgetvalue(res, 0, 0));
        r->who.host_desired_gen = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        PQclear(res);
    }
    if (!r->who.host_desired_hash[0])
        return 0;
    /* Read less than HBMEMO_DESIRED_MS ago and nothing notified since: the same answer. */
    text = hbmemo_desired_get(host_id, changed, r->who.host_desired_hash, clock_now_ms());
    if (text) {
        snprintf(hash, sizeof(hash), "%s", r->who.host_desired_hash);
    } else {
        res = dbq_ok(r, sql_desired, r->who.host_id);
        if (!res)
            return -1;
        crypto_sha256_hex(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), hash);
        if (strcmp(hash, r->who.host_desired_hash) != 0) {
            PQclear(res);
            return 0;
        }
        text = xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        hbmemo_desired_put(host_id, seen, hash, text, clock_now_ms());
    }
    if (may_park && strcmp(r->park_hash, hash) == 0) {
        r->park_secret = text; /* wiped and freed with the request */
        r->park_value = r->who.host_desired_gen;
        http_park(r, host_id, seen, r->park_deadline_ms);
        return 1;
    }
    reply_desired(r, text, hash, r->who.host_desired_gen);
    xfree_secret(&text);
    return 1;
}

/* Answer the host's desired members; when the agent already has them (same hash) and its
 * wait is not over, park the request until they change (a long poll holding no thread). */
static void answer_desired(struct req *r)
{
    uint64_t seen = notify_generation();
    bool may_park = r->park_hash[0] && clock_now_ms() < r->park_deadline_ms && !http_stopping();
    char *text = NULL, hash[65];
    long long gen;
    int fast = answer_unchanged(r, seen, may_park);

    if (fast != 0)
        return;
    if (ensure_secrets(r) < 0 ||
        read_desired(r, may_park ? r->park_hash : NULL, &text, hash, &gen) < 0)
        return;
    if (gen == 0) {
        xfree_secret(&text);
        http_park(r, strtoll(r->who.host_id, NULL, 10), seen, r->park_deadline_ms);
        return;
    }
    reply_desired(r, text, hash, gen);
    xfree_secret(&text);
}

/* The host's own fields (hbcheck_host()): ports {min, max} into pmin/pmax (left "" when
 * absent). 0, or -1 after replying 400. */
static int check_host_fields(struct req *r, char pmin[24], char pmax[24])
{
    struct hbcheck_host host;
    const char *field;
    struct err e;

    pmin[0] = pmax[0] = '\0';
    if (hbcheck_host(r->json, &host, &field, &e) < 0)
        return http_error(r, 400, "invalid_field", field, "%s", e.msg);
    if (host.has_ports) {
        dbq_i64(host.port_min, pmin);
        dbq_i64(host.port_max, pmax);
    }
    return 0;
}

/* Write what the heartbeat reported and changed since this process last wrote it (plan, from
 * hbmemo_plan()), and move the instances of the host to the status their members show. 0, or
 * -1 after replying. */
static int write_report(struct req *r, const struct hbmemo_plan *plan, const char *agent_text,
                        const char *members_text, const char *pmin, const char *pmax,
                        bool has_members)
{
    size_t changed = json_array_size(plan->members);
    PGresult *res = NULL;
    bool kick = false;
    char *changed_text = NULL;
    int rc = -1;

    if (plan->host) {
        res = dbq_ok(r, sql_host_seen, r->who.host_id, agent_text, pmin[0] ? pmin : NULL,
                     pmax[0] ? pmax : NULL, r->who.actor);
        auth_host_forget(r); /* the row's state may have moved */
        if (!res)
            goto out;
        if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "ready") != 0)
            kick = true; /* a host came up: try to place */
        if (PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't')
            notify_bump(); /* other hosts' parked answers may change */
        PQclear(res);
        res = NULL;
    }
    if (changed > 0) {
        changed_text = json_dumps(plan->members, JSON_COMPACT);
        res = dbq_ok(r, sql_observed, r->who.host_id, changed_text, r->who.actor);
        if (!res)
            goto out;
        PQclear(res);
        res = dbq_ok(r, sql_caught_up, r->who.host_id);
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
        res = NULL;
    }
    if (plan->any_deleted) {
        res = dbq_ok(r, sql_release, r->who.host_id, members_text);
        if (!res)
            goto out;
        if (PQntuples(res) > 0) {
            kick = true; /* capacity was freed */
            /* this host's desired members changed (api/hbmemo.h keeps them), and their
             * instances' other members' may have */
            notify_bump_instances(PQgetvalue(res, 0, 1), strtoll(r->who.host_id, NULL, 10));
        }
        PQclear(res);
        res = NULL;
    }
    if (kick)
        reconcile_kick();
    /* Also when this host's report did not change: another host's state may move the status of
     * an instance with a member here (a replica's host became unreachable). A read. */
    if ((has_members || plan->host || changed > 0) && update_instances(r) < 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    free(changed_text);
    return rc;
}

void h_agent_heartbeat(struct req *r)
{
    static const char *const keys[] = {
        HB_F_AGENT_VERSION, HB_F_ISOLATION,   HB_F_CAPACITY, HB_F_ENGINES,
        HB_F_PORTS,         HB_F_SEED_PORT,   HB_F_MEMBERS,  HB_F_DESIRED_HASH,
        HB_F_WAIT_MS,       HB_F_LEASE_VALID, HB_F_IO_LIMITS, NULL};
    json_t *members, *agent;
    char *members_text = NULL, *agent_text = NULL, pmin[24], pmax[24];
    const char *seen_hash = NULL;
    int64_t wait_ms = 0, host_id, now;
    struct hbmemo_plan plan = {0};
    struct err e;

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
    if (hbcheck_members(members, &e) < 0) {
        http_error(r, 400, "invalid_field", HB_F_MEMBERS, "%s", e.msg);
        goto out;
    }
    if (body_string(r, HB_F_DESIRED_HASH, false, 64, NULL, "a hash from an earlier reply",
                    &seen_hash) < 0 ||
        body_int(r, HB_F_WAIT_MS, false, false, 0, MAX_WAIT_MS, &wait_ms, NULL) < 0 ||
        check_host_fields(r, pmin, pmax) < 0)
        goto out;
    host_id = strtoll(r->who.host_id, NULL, 10);
    lease_note_heartbeat(host_id);
    agent = json_deep_copy(r->json);
    json_object_del(agent, HB_F_MEMBERS);
    json_object_del(agent, HB_F_DESIRED_HASH);
    json_object_del(agent, HB_F_WAIT_MS);
    agent_text = json_dumps(agent, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(agent);
    members_text = json_dumps(members, JSON_COMPACT);

    /* Only what changed is written: an idle host's heartbeat writes nothing durable
     * (api/hbmemo.h); its arrival goes to host_seen within a second (control/lease.c). */
    now = clock_now_ms();
    hbmemo_plan(host_id, agent_text, members, r->who.host_ready, now, &plan);
    if (write_report(r, &plan, agent_text, members_text, pmin, pmax, json_array_size(members) > 0) <
        0) {
        hbmemo_forget(host_id);
        goto out;
    }
    hbmemo_done(host_id, &plan, now);
    snprintf(r->park_hash, sizeof(r->park_hash), "%s", seen_hash ? seen_hash : "");
    r->park_deadline_ms = clock_now_ms() + wait_ms;
    answer_desired(r);
out:
    hbmemo_plan_free(&plan);
    json_decref(members);
    free(members_text);
    free(agent_text);
}
