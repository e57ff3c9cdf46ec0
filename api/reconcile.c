/* dbaasd's background loop.
 *
 * NOTES: one thread, its own store connection. Each pass is one statement per task, each
 * idempotent and safe to repeat after a crash at any point. Until the node agent exists, an
 * instance being deleted that was never placed holds nothing: the pass marks it deleted and
 * returns its resources to the tenant's quota in the same statement. */
#include "api/reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "api/store.h"
#include "lib/log.h"

static pthread_t thread;
static bool running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping;
static int interval;

static const char sql_finalize[] =
    "WITH d AS (UPDATE instances i SET status = 'deleted', deleted_at = now(), updated_at = now(),"
    "   plan_id = NULL"
    "  FROM plans p WHERE p.id = i.plan_id AND i.status = 'deleting' AND i.host_id IS NULL"
    "  RETURNING i.id, i.tenant_id, i.name, i.replicas + 1 AS m, p.cpu_millis, p.memory_mb,"
    "   p.disk_mb),"
    " s AS (SELECT tenant_id, count(*) AS n, sum(m * cpu_millis) AS cpu, sum(m * memory_mb) AS mem,"
    "  sum(m * disk_mb) AS disk FROM d GROUP BY tenant_id),"
    " t AS (UPDATE tenants SET used_instances = used_instances - s.n,"
    "  used_cpu_millis = used_cpu_millis - s.cpu, used_memory_mb = used_memory_mb - s.mem,"
    "  used_disk_mb = used_disk_mb - s.disk FROM s WHERE tenants.id = s.tenant_id),"
    " e AS (INSERT INTO events (tenant_id, instance_id, actor, kind, message)"
    "  SELECT tenant_id, id, 'system', 'instance.deleted', format('instance \"%s\" deleted', name)"
    "  FROM d)"
    " SELECT count(*) FROM d WHERE $1::int IS NOT NULL";
static const char sql_expire_keys[] =
    "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval";

int reconcile_once(struct err *e)
{
    PGresult *res;
    int n = -1;

    res = store_exec(e, sql_finalize, 1, (const char *const[]){"1"});
    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, STORE_FAILED, "could not finalize deletions: %s", PQresultErrorMessage(res));
        goto out;
    }
    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = store_exec(e, sql_expire_keys, 1, (const char *const[]){"24 hours"});
    if (!res)
        return -1;
    if (!store_ok(res)) {
        err_set(e, STORE_FAILED, "could not expire idempotency keys: %s",
                PQresultErrorMessage(res));
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
        pthread_mutex_unlock(&lock);
        n = reconcile_once(&e);
        if (n < 0)
            log_warn("event=reconcile_failed error=\"%s\"", e.msg);
        else if (n > 0)
            log_info("event=instances_deleted count=%d", n);
        pthread_mutex_lock(&lock);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval / 1000;
        until.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int reconcile_start(int interval_ms, struct err *e)
{
    pthread_condattr_t attr;
    sigset_t all, old;
    int rc;

    interval = interval_ms;
    stopping = false;
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
        return err_set(e, 1, "could not start the reconcile thread: error %d", rc);
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
}
