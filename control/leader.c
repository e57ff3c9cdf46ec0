/* Leader election: pg_try_advisory_lock on a session of its own (not the per-thread store
 * connections, whose sessions come and go). Called by the controller and HA threads; one mutex
 * orders them.
 *
 * NOTES
 * - A leader whose host or network dies: its session has keepalives on both ends (the client's
 *   from store_connect(), the server's set per session below), so the store drops the session,
 *   and the lock with it, within about STALE_S seconds.
 * - A leader that hangs (SIGSTOP, a stuck thread) keeps its session open and its lock held, and
 *   the kernel still answers keepalives. The leader runs its check query at least every second,
 *   so the session's query_start says when it last did; a candidate that finds it older than
 *   STALE_S terminates that session (pg_terminate_backend: every dbaasd uses the same role) and
 *   takes the lock at its next check.
 * - A leader that wakes up after such a takeover must not act on its old belief: leader_valid()
 *   says whether the last successful check is recent (monotonic clock), and leader_check() runs
 *   its query before answering true. The controller and HA loops make leader_valid() the store
 *   guard of their passes (store_set_guard()): every statement of a pass asks it first, so a
 *   leader frozen in the middle of a pass and replaced (which takes at least 4 s, over
 *   VALID_MS) sends nothing new when it runs again, and never commits a transaction it had
 *   open. The one statement it may have been about to send (frozen between the guard and the
 *   send) is fenced in the store: each loop's session holds a pass lock
 *   (LEADER_PASS_KEY_*), which the new leader's pass takes by ending the old session (only the
 *   holder of this lock may, store/store.c), so that statement meets a closed session; a new
 *   session of the old leader cannot take the pass lock back. */
#include "control/leader.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "control/lease.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/store.h"

#define LEADER_LOCK_KEY "7212487"
#define STALE_S "5"   /* a lock holder silent this long is hung: its session is ended */
#define VALID_MS 2000 /* leader_valid(): a check at most this old */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static PGconn *session;
static bool leading;
static int64_t checked_ms;  /* monotonic time of the last check that confirmed the lock */
static unsigned long epoch; /* how many times this process took the lead */
static bool leading_shared; /* leading, for threads that only look (leader_leading) */
static int session_pid;     /* the backend pid of the session holding the lock (0: none) */

/* For the pass locks (store_set_leader_lock()); any thread. */
static int leader_session_pid(void)
{
    return __atomic_load_n(&session_pid, __ATOMIC_SEQ_CST);
}

static void set_leading(bool on)
{
    leading = on;
    __atomic_store_n(&session_pid, on && session ? PQbackendPID(session) : 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&leading_shared, on, __ATOMIC_SEQ_CST);
}

bool leader_leading(void)
{
    return __atomic_load_n(&leading_shared, __ATOMIC_SEQ_CST);
}

static void lose(const char *why)
{
    if (leading)
        log_warn("event=leadership_lost reason=\"%s\"", why);
    set_leading(false);
    if (session)
        PQfinish(session);
    session = NULL;
}

static bool query_ok(PGresult *res, int rows)
{
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && (rows < 0 || PQntuples(res) == rows);

    PQclear(res);
    return ok;
}

/* A new session whose server side also gives up on a dead peer within seconds. */
static bool open_session(const char *conninfo)
{
    PGresult *res;

    store_set_leader_lock(strtoll(LEADER_LOCK_KEY, NULL, 10), leader_session_pid);
    session = store_connect(conninfo);
    if (PQstatus(session) != CONNECTION_OK)
        return false;
    res = PQexec(session, "SELECT set_config('tcp_keepalives_idle', '2', false),"
                          " set_config('tcp_keepalives_interval', '1', false),"
                          " set_config('tcp_keepalives_count', '2', false),"
                          " set_config('tcp_user_timeout', '5000', false)");
    return query_ok(res, 1);
}

/* The lock is held by someone else: end the holder's session if it has been silent for longer
 * than STALE_S (a hung leader). */
static void end_hung_holder(void)
{
    const char *params[1] = {LEADER_LOCK_KEY};
    PGresult *res =
        PQexecParams(session,
                     "SELECT a.pid, pg_terminate_backend(a.pid) FROM pg_locks l"
                     " JOIN pg_stat_activity a ON a.pid = l.pid"
                     " WHERE l.locktype = 'advisory' AND l.objid = $1::bigint AND l.granted"
                     " AND a.pid <> pg_backend_pid()"
                     " AND a.query_start < now() - interval '" STALE_S " seconds'",
                     1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        log_warn("event=leader_session_ended pid=%s reason=\"the leader has not checked its lock"
                 " for " STALE_S " s\"",
                 PQgetvalue(res, 0, 0));
    PQclear(res);
}

static bool check_locked(const char *conninfo)
{
    const char *params[1] = {LEADER_LOCK_KEY};
    PGresult *res;

    if (!session && !open_session(conninfo)) {
        lose("could not connect to the store");
        return false;
    }
    if (leading) {
        /* Still ours only while the session lives. */
        res = PQexecParams(session,
                           "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                           " AND objid = $1::bigint AND pid = pg_backend_pid() AND granted",
                           1, NULL, params, NULL, NULL, 0);
        if (!query_ok(res, 1)) {
            lose("the session holding the lock is gone");
            return false;
        }
        __atomic_store_n(&checked_ms, clock_now_ms(), __ATOMIC_SEQ_CST);
        return true;
    }
    res = PQexecParams(session, "SELECT pg_try_advisory_lock($1::bigint)", 1, NULL, params, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        lose("could not query the store");
        return false;
    }
    set_leading(strcmp(PQgetvalue(res, 0, 0), "t") == 0);
    PQclear(res);
    if (leading) {
        __atomic_store_n(&checked_ms, clock_now_ms(), __ATOMIC_SEQ_CST);
        epoch++;
        log_info("event=leadership_acquired");
        /* Leases expire only after a TTL on this process's own clock, never by a stale view. */
        lease_note_takeover();
    } else {
        end_hung_holder();
    }
    return leading;
}

bool leader_check(const char *conninfo, unsigned long *term)
{
    bool r;

    pthread_mutex_lock(&mu);
    r = check_locked(conninfo);
    if (term)
        *term = epoch;
    pthread_mutex_unlock(&mu);
    return r;
}

bool leader_valid(void)
{
    /* no mutex: a check holding it may wait on an unreachable store for seconds */
    return leader_leading() &&
           clock_now_ms() - __atomic_load_n(&checked_ms, __ATOMIC_SEQ_CST) < VALID_MS;
}

void leader_release(void)
{
    pthread_mutex_lock(&mu);
    if (session)
        PQfinish(session);
    session = NULL;
    set_leading(false);
    pthread_mutex_unlock(&mu);
}
