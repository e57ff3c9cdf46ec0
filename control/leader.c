/* Leader election: pg_try_advisory_lock on a session of its own (not the per-thread store
 * connections, whose sessions come and go). Used by the controller thread only. */
#include "control/leader.h"

#include <libpq-fe.h>
#include <string.h>

#include "control/lease.h"
#include "lib/log.h"

#define LEADER_LOCK_KEY "7212487"

static PGconn *session;
static bool leading;
/* leading, for other threads (leader_leading) */
static bool leading_shared;

static void set_leading(bool on)
{
    leading = on;
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

bool leader_check(const char *conninfo)
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
        log_info("event=leadership_acquired");
        /* Leases expire only after a TTL on this process's own clock, never by a stale view. */
        lease_note_takeover();
    }
    set_leading(leading);
    return leading;
}

void leader_release(void)
{
    if (session)
        PQfinish(session);
    session = NULL;
    set_leading(false);
}
