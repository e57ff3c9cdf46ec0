/* dbaasd's controller loop: host liveness, deletions, replica replacement and placement.
 *
 * NOTES: one thread, its own store connection; it acts only while this dbaasd leads (an
 * advisory lock, control/leader.c). Each pass is one statement per task, each idempotent and
 * safe to repeat after a crash at any point. The API wakes the loop (reconcile_kick) after
 * changes so that placement does not wait for the next tick. */
#include "control/reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "control/errc.h"
#include "control/leader.h"
#include "control/notify.h"
#include "control/placement.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

static pthread_t thread;
static bool running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping;
static bool kicked;
static int interval;
static char *conninfo;

/* Hosts whose agent missed its heartbeats for heartbeat_timeout_ms become unreachable. A
 * heartbeat's arrival is in host_seen (UNLOGGED, written every second by each dbaasd) or, after
 * a change and at least every minute, in hosts.last_heartbeat: the later of the two counts. */
static const char sql_liveness[] =
    "WITH u AS (UPDATE hosts h SET state = 'unreachable', unreachable_since = now()"
    "  FROM (SELECT h2.id, greatest(h2.last_heartbeat, s.at) AS seen FROM hosts h2"
    "   LEFT JOIN host_seen s ON s.host_id = h2.id WHERE h2.state = 'ready') l"
    "  WHERE h.id = l.id AND h.state = 'ready' AND l.seen < now() - make_interval(secs =>"
    "  (SELECT value::int FROM settings WHERE key = 'heartbeat_timeout_ms') / 1000.0)"
    "  RETURNING h.name, l.seen)"
    " INSERT INTO events (actor, kind, message)"
    " SELECT $1, 'host.unreachable', format('host \"%s\" unreachable: last heartbeat at %s',"
    " name, iso(seen)) FROM u RETURNING id";
/* A replaced replica is let go once its replacement runs, or at once when its host is
 * unreachable (it cannot serve anyway; the agent deletes it when the host returns). */
static const char sql_retire[] =
    "UPDATE members o SET desired = 'deleted', spec_version = o.spec_version + 1"
    " FROM members n, hosts h WHERE n.replaces = o.id AND h.id = o.host_id"
    " AND o.desired = 'running' AND (n.observed = 'running' OR h.state = 'unreachable')"
    " AND $1::text IS NOT NULL RETURNING o.instance_id";
/* Members of instances being deleted are to be deleted by their agents. */
static const char sql_delete_members[] =
    "UPDATE members m SET desired = 'deleted', spec_version = m.spec_version + 1"
    " FROM instances i WHERE i.id = m.instance_id AND i.status = 'deleting'"
    " AND m.desired <> 'deleted' AND $1::text IS NOT NULL RETURNING m.instance_id";

/* An instance whose members are all gone is deleted: its usage goes back to the tenant, and its
 * replication secret is forgotten. */
static const char sql_finalize[] =
    "WITH d AS (UPDATE instances i SET status = 'deleted', deleted_at = now(), updated_at = now(),"
    "   plan_id = NULL, host_id = NULL"
    "  FROM plans p WHERE p.id = i.plan_id AND i.status = 'deleting'"
    "  AND NOT EXISTS (SELECT 1 FROM members m WHERE m.instance_id = i.id)"
    "  RETURNING i.id, i.tenant_id, i.name, i.replicas + 1 AS m, p.cpu_millis, p.memory_mb,"
    "   p.disk_mb),"
    " s AS (SELECT tenant_id, count(*) AS n, sum(m * cpu_millis) AS cpu, sum(m * memory_mb) AS mem,"
    "  sum(m * disk_mb) AS disk FROM d GROUP BY tenant_id),"
    " t AS (UPDATE tenants SET used_instances = used_instances - s.n,"
    "  used_cpu_millis = used_cpu_millis - s.cpu, used_memory_mb = used_memory_mb - s.mem,"
    "  used_disk_mb = used_disk_mb - s.disk FROM s WHERE tenants.id = s.tenant_id),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, 'system', 'instance.deleted', format('instance \"%s\" deleted', name)"
    "  FROM d),"
    " x AS (DELETE FROM instance_secrets WHERE instance_id IN (SELECT id FROM d))"
    " SELECT count(*) FROM d WHERE $1::int IS NOT NULL";
static const char sql_expire_keys[] =
    "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval";

/* Run a statement whose rows are events or changed ids; returns the row count, -1 on error.
 * ids, when not NULL, gets the rows' first column appended, each followed by a comma. */
static int run(const char *sql, const char *what, struct buf *ids, struct err *e)
{
    PGresult *res = store_exec(e, sql, 1, (const char *const[]){"system"});
    int i, n;

    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "could not %s: %s", what, PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    for (i = 0; ids && i < n; i++)
        buf_printf(ids, "%s,", PQgetvalue(res, i, 0));
    PQclear(res);
    return n;
}

int reconcile_once(struct err *e)
{
    PGresult *res;
    int n = -1;

    int unreachable, retired, deleted;
    struct buf ids = BUF_INIT;

    unreachable = run(sql_liveness, "check host liveness", NULL, e);
    if (unreachable < 0)
        return -1;
    if (unreachable > 0)
        notify_bump(); /* a host's state moved: its token's cached row (api/auth.h) with it */
    /* the instances whose members are let go: an array literal of their ids */
    buf_append(&ids, "{", 1);
    retired = run(sql_retire, "retire replaced members", &ids, e);
    deleted = retired < 0 ? -1 : run(sql_delete_members, "delete members", &ids, e);
    if (deleted > 0 || retired > 0) {
        ids.data[ids.len - 1] = '}'; /* the last comma */
        notify_bump_instances(buf_str(&ids), 0);
    }
    buf_free(&ids);
    if (deleted < 0)
        return -1;
    if (placement_pass(e) < 0)
        return -1;
    res = store_exec(e, sql_finalize, 1, (const char *const[]){"1"});
    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "could not finalize deletions: %s", PQresultErrorMessage(res));
        goto out;
    }
    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = store_exec(e, sql_expire_keys, 1, (const char *const[]){"24 hours"});
    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, API_E_STORE, "could not expire idempotency keys: %s", PQresultErrorMessage(res));
        n = -1;
    }
out:
    PQclear(res);
    return n;
}

static void *loop(void *arg)
{
    struct timespec until;
    struct err e;
    int n;

    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        kicked = false;
        pthread_mutex_unlock(&lock);
        if (leader_check(conninfo, NULL)) {
            store_set_guard(leader_valid, LEADER_PASS_KEY_RECONCILE);
            n = reconcile_once(&e);
            store_set_guard(NULL, 0);
            if (n < 0)
                log_warn("event=reconcile_failed error=\"%s\"", e.msg);
            else if (n > 0)
                log_info("event=instances_deleted count=%d", n);
        }
        pthread_mutex_lock(&lock);
        clock_deadline(&until, interval);
        while (!stopping && !kicked && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&lock);
    leader_release();
    return NULL;
}

void reconcile_kick(void)
{
    pthread_mutex_lock(&lock);
    kicked = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

int reconcile_start(const char *info, int interval_ms, struct err *e)
{
    pthread_condattr_t attr;
    sigset_t all, old;
    int rc;

    interval = interval_ms;
    stopping = false;
    free(conninfo);
    conninfo = xstrdup(info);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&wake);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    /* The thread inherits a mask with every signal blocked: signals go to the main thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&thread, NULL, loop, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set(e, API_E_SYSTEM, "could not start the reconcile thread: error %d", rc);
    running = true;
    return 0;
}

void reconcile_stop(void)
{
    if (!running)
        return;
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
    free(conninfo);
    conninfo = NULL;
}
