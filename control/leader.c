/* Leader election: pg_try_advisory_lock on a session of its own (not the per-thread store
 * connections, whose sessions come and go). Used by the controller thread only. */
#include "control/leader.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <string.h>

#include "lib/log.h"

#define LEADER_LOCK_KEY "7212487"

/* The controller thread and the HA thread (control/ha.c) share the session: one at a time. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static PGconn *session;
static bool leading;
static unsigned long epoch;

static void lose(const char *why)
{
    if (leading)
        log_warn("event=leadership_lost reason=\"%s\"", why);
    leading = false;
    if (session)
        PQfinish(session);
    session = NULL;
}

static bool check(const char *conninfo)
{
    const char *params[1] = {LEADER_LOCK_KEY};
    PGresult *res;

    if (!session) {
        session = PQconnectdb(conninfo);
        if (PQstatus(session) != CONNECTION_OK) {
            lose("could not connect to the store");
            return false;
        }
    }
    if (leading) {
        /* Still ours only while the session lives. */
        res = PQexecParams(session,
                           "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                           " AND objid = $1::bigint AND pid = pg_backend_pid() AND granted",
                           1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            PQclear(res);
            lose("the session holding the lock is gone");
            return false;
        }
        PQclear(res);
        return true;
    }
    res = PQexecParams(session, "SELECT pg_try_advisory_lock($1::bigint)", 1, NULL, params, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        lose("could not query the store");
        return false;
    }
    leading = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (leading) {
        epoch++;
        log_info("event=leadership_acquired");
    }
    return leading;
}

bool leader_check(const char *conninfo, unsigned long *term)
{
    bool rc;

    pthread_mutex_lock(&mu);
    rc = check(conninfo);
    if (term)
        *term = epoch;
    pthread_mutex_unlock(&mu);
    return rc;
}

void leader_release(void)
{
    pthread_mutex_lock(&mu);
    if (session)
        PQfinish(session);
    session = NULL;
    leading = false;
    pthread_mutex_unlock(&mu);
}
