/* The metadata store: PostgreSQL through libpq.
 *
 * NOTES: every thread that touches the store gets its own connection (thread-local), opened on
 * first use and reopened after a failure; every statement is a string constant prepared once per
 * connection (keyed by the constant's address). All connections are also on a global list so that
 * store_shutdown() can close those of threads that are gone (libmicrohttpd's workers). */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define MAX_PREPARED 128
#define MIGRATION_LOCK_KEY 7212486
/* A statement whose connection broke within this long is tried once more on a new one. */
#define RETRY_IF_BROKEN_MS 1000

struct conn {
    PGconn *pg;
    const char *prepared[MAX_PREPARED]; /* statement "s<i>" is prepared[i] */
    int nprepared;
    bool in_tx;     /* between BEGIN and COMMIT/ROLLBACK: never retry on a new connection */
    bool tx_broken; /* the connection broke inside a transaction: every statement fails until
                       the caller ends it (ROLLBACK, or a COMMIT that fails), so that no later
                       statement of that transaction runs in autocommit on a new connection */
    long long pass_locked; /* the pass lock this session holds (0: none) */
    struct conn *next;
};

static char *conninfo;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;
static __thread struct conn *tl_conn;

void store_init(const char *info)
{
    free(conninfo);
    conninfo = xstrdup(info);
}

void store_shutdown(void)
{
    struct conn *c, *next;

    pthread_mutex_lock(&conns_lock);
    for (c = conns; c; c = next) {
        next = c->next;
        if (c->pg)
            PQfinish(c->pg);
        free(c);
    }
    conns = NULL;
    pthread_mutex_unlock(&conns_lock);
    tl_conn = NULL;
    free(conninfo);
    conninfo = NULL;
}

/* The connection settings every store session gets in front of the operator's conninfo (which
 * may override them): a dead or unreachable store is noticed within seconds, not when the
 * kernel's two-hour keepalive fires, the server notices an unreachable dbaasd as fast
 * (STORE_SERVER_TCP_OPTIONS), and no statement runs for more than STORE_STATEMENT_MS. */
static const char *const conn_keys[] = {"connect_timeout",
                                        "keepalives",
                                        "keepalives_idle",
                                        "keepalives_interval",
                                        "keepalives_count",
                                        "tcp_user_timeout",
                                        "options",
                                        "dbname",
                                        NULL};

PGconn *store_connect(const char *info)
{
    const char *values[] = {"5",
                            "1",
                            "5",
                            "2",
                            "3",
                            "10000",
                            "-c statement_timeout=" STORE_STATEMENT_MS_STR STORE_SERVER_TCP_OPTIONS,
                            info,
                            NULL};

    return PQconnectdbParams(conn_keys, values, 1);
}

/* Whether the store is known unreachable: a connection attempt or a statement failed after a
 * wait (RETRY_IF_BROKEN_MS or more: timed out, not refused or reset; a session the server
 * itself ended with an error, such as pg_terminate_backend(), does not count). Until a
 * connection attempt succeeds again, the sessions opened before are presumed dead (a statement
 * on one would wait tcp_user_timeout), one thread at a time tries a new session, at most once
 * per PROBE_GAP_MS after the last failure, and every other statement fails at once: requests
 * queued on a server thread behind one that waited for a dead session would otherwise each
 * wait as long again. */
#define PROBE_GAP_MS 1000
static pthread_mutex_t reach_lock = PTHREAD_MUTEX_INITIALIZER;
static bool unreachable; /* written under reach_lock, read atomically by conn_get() */
static bool probing;     /* under reach_lock */
static int64_t unreachable_ms, failed_ms;

/* A connection attempt or a statement that began at started failed: after a wait, the store
 * is unreachable; at once, it stays as it was known. prober: the attempt was the one probing
 * an unreachable store (reach_may_connect()). */
static void reach_failed(int64_t started, bool prober)
{
    int64_t now = clock_now_ms();
    bool first;

    pthread_mutex_lock(&reach_lock);
    if (prober)
        probing = false;
    first = !unreachable && now - started >= RETRY_IF_BROKEN_MS;
    if (first) {
        __atomic_store_n(&unreachable, true, __ATOMIC_RELAXED);
        unreachable_ms = now;
    }
    if (unreachable)
        failed_ms = now;
    pthread_mutex_unlock(&reach_lock);
    if (first)
        log_warn("event=store_unreachable waited_ms=%lld note=\"new sessions are tried by one "
                 "thread at a time, once a second; other statements fail at once\"",
                 (long long)(now - started));
}

/* 1: try connecting (*prober set when this thread is the one probing an unreachable store);
 * 0: do not, the store is unreachable and being tried, or was a moment ago. */
static int reach_may_connect(bool *prober, int64_t *ago_ms)
{
    int64_t now = clock_now_ms();
    int rc = 1;

    *prober = false;
    pthread_mutex_lock(&reach_lock);
    if (unreachable) {
        *ago_ms = now - failed_ms;
        if (probing || now - failed_ms < PROBE_GAP_MS)
            rc = 0;
        else
            probing = *prober = true;
    }
    pthread_mutex_unlock(&reach_lock);
    return rc;
}

static void reach_connected(bool prober)
{
    int64_t down_ms = -1;

    pthread_mutex_lock(&reach_lock);
    if (prober)
        probing = false;
    if (unreachable) {
        down_ms = clock_now_ms() - unreachable_ms;
        __atomic_store_n(&unreachable, false, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&reach_lock);
    if (down_ms >= 0)
        log_info("event=store_reachable down_ms=%lld", (long long)down_ms);
}

/* This thread's connection, connected; NULL with e set when the store cannot be reached. */
static struct conn *conn_get(struct err *e)
{
    struct conn *c = tl_conn;
    int64_t started, ago_ms = 0;
    bool prober;

    if (!c) {
        c = xcalloc(1, sizeof(*c));
        pthread_mutex_lock(&conns_lock);
        c->next = conns;
        conns = c;
        pthread_mutex_unlock(&conns_lock);
        tl_conn = c;
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        if (!__atomic_load_n(&unreachable, __ATOMIC_RELAXED))
            return c;
        /* Opened before the store became unreachable: a statement on it would wait for the
         * kernel to give up on it (tcp_user_timeout), so it is presumed dead. */
        if (c->in_tx) {
            PQfinish(c->pg);
            c->pg = NULL;
            c->in_tx = false;
            c->tx_broken = true;
            err_set(e, STORE_E_UNAVAILABLE,
                    "lost the connection to the metadata store during a transaction");
            return NULL;
        }
    }
    if (c->pg)
        PQfinish(c->pg);
    c->nprepared = 0;
    c->in_tx = false;
    c->pass_locked = 0;
    c->pg = NULL;
    if (!reach_may_connect(&prober, &ago_ms)) {
        err_set(e, STORE_E_UNAVAILABLE,
                "the metadata store is unreachable (a connection attempt failed %lld ms ago)",
                (long long)ago_ms);
        return NULL;
    }
    started = clock_now_ms();
    c->pg = store_connect(conninfo);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        err_set(e, STORE_E_UNAVAILABLE, "could not connect to the metadata store: %s",
                PQerrorMessage(c->pg));
        PQfinish(c->pg);
        c->pg = NULL;
        reach_failed(started, prober);
        return NULL;
    }
    reach_connected(prober);
    return c;
}

/* After a NULL or failed result: whether the connection itself broke. */
static bool conn_broken(struct conn *c)
{
    return !c->pg || PQstatus(c->pg) != CONNECTION_OK;
}

static int prepared_index(struct conn *c, const char *sql, struct err *e)
{
    char name[16];
    PGresult *res;
    int i;

    for (i = 0; i < c->nprepared; i++)
        if (c->prepared[i] == sql)
            return i;
    if (c->nprepared == MAX_PREPARED)
        return err_set(e, STORE_E_SQL, "too many prepared statements");
    i = c->nprepared;
    snprintf(name, sizeof(name), "s%d", i);
    res = PQprepare(c->pg, name, sql, 0, NULL);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        err_set(e, conn_broken(c) ? STORE_E_UNAVAILABLE : STORE_E_SQL,
                "could not prepare statement: %s", PQerrorMessage(c->pg));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    c->prepared[c->nprepared++] = sql;
    return i;
}

static __thread bool (*tl_guard)(void);
static __thread long long tl_pass_key;
static long long leader_key;
static int (*leader_pid)(void);

void store_set_guard(bool (*guard)(void), long long pass_key)
{
    tl_guard = guard;
    tl_pass_key = guard ? pass_key : 0;
}

void store_set_leader_lock(long long key, int (*holder_pid)(void))
{
    leader_key = key;
    leader_pid = holder_pid;
}

#define PASS_LOCK_WAIT_MS 3000 /* for an ended session to let its pass lock go */

/* One query of the pass lock; its result (first row, first column) as a boolean, or -1 with e
 * set. */
static int pass_query(struct conn *c, const char *sql, int n, const char *const *params,
                      struct err *e)
{
    PGresult *res = PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    int rc;

    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        err_set(e, conn_broken(c) ? STORE_E_UNAVAILABLE : STORE_E_SQL,
                "could not take the pass lock: %s", PQerrorMessage(c->pg));
        PQclear(res);
        return -1;
    }
    rc = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

/* Make this thread's session hold its pass lock (store_set_guard()); 0, or -1 with e set. */
static int pass_lock(struct conn *c, struct err *e)
{
    char key[24], lkey[24], pid[16];
    const char *const params[3] = {key, lkey, pid};
    int64_t deadline = clock_now_ms() + PASS_LOCK_WAIT_MS;
    bool ended = false;
    int got;

    if (!tl_pass_key || c->pass_locked == tl_pass_key)
        return 0;
    snprintf(key, sizeof(key), "%lld", tl_pass_key);
    snprintf(lkey, sizeof(lkey), "%lld", leader_key);
    for (;;) {
        got = pass_query(c, "SELECT pg_try_advisory_lock($1::bigint)", 1, params, e);
        if (got < 0)
            return -1;
        if (got) {
            c->pass_locked = tl_pass_key;
            return 0;
        }
        if (!ended) {
            /* Held by another session: an earlier leader's pass (or this thread's session
             * before a reconnect, not yet gone). Only the holder of the leader's lock may end
             * it, which the statement checks itself. */
            snprintf(pid, sizeof(pid), "%d", leader_pid ? leader_pid() : 0);
            got = pass_query(
                c,
                "WITH me AS (SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                "  AND objid = $2::bigint AND granted AND pid = $3::int) AS leads)"
                " SELECT me.leads, (SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l"
                "  WHERE me.leads AND l.locktype = 'advisory' AND l.objid = $1::bigint"
                "  AND l.granted AND l.pid <> pg_backend_pid()) FROM me",
                3, params, e);
            if (got < 0)
                return -1;
            if (!got)
                return err_set(e, STORE_E_GUARD,
                               "not sent: the pass lock is held and this dbaasd does not hold "
                               "the leader's lock");
            log_warn("event=pass_lock_taken key=%s note=\"ended the session of an earlier "
                     "leader's pass\"",
                     key);
            ended = true;
        }
        if (clock_now_ms() >= deadline)
            return err_set(e, STORE_E_GUARD,
                           "not sent: an earlier leader's session still holds the pass lock");
        clock_sleep_ms(20);
    }
}

/* Whether this thread's guard refuses the next statement (then e is set, and a transaction open
 * on the connection is rolled back: nothing of it may commit). */
static bool guard_refuses(struct err *e)
{
    struct conn *c = tl_conn;

    if (!tl_guard || tl_guard())
        return false;
    if (c && c->pg && c->in_tx) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
        c->in_tx = false;
        c->tx_broken = true;
    }
    err_set(e, STORE_E_GUARD, "not sent: this dbaasd may no longer lead");
    return true;
}

PGresult *store_exec(struct err *e, const char *sql, int nparams, const char *const *params)
{
    struct conn *c;
    PGresult *res;
    char name[16];
    int attempt, i;

    if (tl_conn && tl_conn->tx_broken) {
        err_set(e, STORE_E_UNAVAILABLE,
                "lost the connection to the metadata store during a transaction");
        return NULL;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        int64_t started = clock_now_ms(), sent;

        if (guard_refuses(e))
            return NULL;
        c = conn_get(e);
        if (!c)
            return NULL;
        if (pass_lock(c, e) < 0) {
            if (e->code == STORE_E_UNAVAILABLE && attempt == 0 && !c->in_tx &&
                clock_now_ms() - started < RETRY_IF_BROKEN_MS)
                continue;
            return NULL;
        }
        sent = clock_now_ms();
        i = prepared_index(c, sql, e);
        if (i < 0) {
            if (conn_broken(c))
                reach_failed(sent, false);
            if (conn_broken(c) && attempt == 0 && clock_now_ms() - started < RETRY_IF_BROKEN_MS)
                continue;
            return NULL;
        }
        snprintf(name, sizeof(name), "s%d", i);
        res = PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0);
        if (res && !conn_broken(c))
            return res;
        if (!*store_sqlstate(res)) /* not ended by the server (an administrator's kill) */
            reach_failed(sent, false);
        PQclear(res);
        /* The connection broke: retry once on a fresh connection when it broke at once (the
         * store restarted and reset it), not when it broke after a wait (the store is
         * unreachable: a new connection would only add connect_timeout before the 503), and
         * never inside a transaction, whose earlier statements died with the old one. */
        if (c->in_tx) {
            c->tx_broken = true;
            break;
        }
        if (clock_now_ms() - started >= RETRY_IF_BROKEN_MS)
            break;
    }
    err_set(e, STORE_E_UNAVAILABLE, "lost the connection to the metadata store");
    return NULL;
}

PGresult *store_exec_simple(struct err *e, const char *sql)
{
    struct conn *c;
    PGresult *res;
    int64_t sent;

    if (tl_conn && tl_conn->tx_broken) {
        /* The transaction died with its connection: ending it is all that is left to do. A
         * ROLLBACK succeeds (there is nothing to undo), anything else fails. */
        tl_conn->tx_broken = false;
        tl_conn->in_tx = false;
        if (strcmp(sql, "ROLLBACK") == 0)
            return PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
        err_set(e, STORE_E_UNAVAILABLE,
                "lost the connection to the metadata store during a transaction");
        return NULL;
    }
    if (strcmp(sql, "ROLLBACK") != 0 && guard_refuses(e))
        return NULL;
    c = conn_get(e);
    if (!c)
        return NULL;
    if (strcmp(sql, "ROLLBACK") != 0 && pass_lock(c, e) < 0)
        return NULL;
    sent = clock_now_ms();
    res = PQexec(c->pg, sql);
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
        c->in_tx = PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
    if (!res || conn_broken(c)) {
        if (!*store_sqlstate(res))
            reach_failed(sent, false);
        c->tx_broken = c->in_tx && strcmp(sql, "ROLLBACK") != 0 && strcmp(sql, "COMMIT") != 0;
        c->in_tx = false;
        PQclear(res);
        err_set(e, STORE_E_UNAVAILABLE, "lost the connection to the metadata store");
        return NULL;
    }
    return res;
}

bool store_ok(const PGresult *res)
{
    ExecStatusType st;

    if (!res)
        return false;
    st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char *store_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *store_constraint(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    return s ? s : "";
}

bool store_ping(void)
{
    static const char sql[] = "SELECT 1";
    struct err e;
    PGresult *res = store_exec(&e, sql, 0, NULL);
    bool ok = store_ok(res);

    PQclear(res);
    return ok;
}

int store_migrate(struct err *e)
{
    struct conn *c = conn_get(e);
    PGresult *res = NULL;
    char lock[64], version[16];
    const char *params[2];
    int i, applied = 0, rc = -1;

    if (!c)
        return -1;
    res = PQexec(c->pg, "BEGIN");
    if (!store_ok(res))
        goto fail;
    PQclear(res);
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)", MIGRATION_LOCK_KEY);
    res = PQexec(c->pg, lock);
    if (!store_ok(res))
        goto fail;
    PQclear(res);
    res = PQexec(c->pg, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version int PRIMARY KEY, name text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())");
    if (!store_ok(res))
        goto fail;
    for (i = 0; i < migrations_count; i++) {
        PQclear(res);
        snprintf(version, sizeof(version), "%d", migrations[i].version);
        params[0] = version;
        res = PQexecParams(c->pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                           params, NULL, NULL, 0);
        if (!store_ok(res))
            goto fail;
        if (PQntuples(res) > 0)
            continue;
        PQclear(res);
        res = PQexec(c->pg, migrations[i].sql);
        if (!store_ok(res)) {
            err_set(e, STORE_E_SQL, "could not apply migration %d \"%s\": %s",
                    migrations[i].version, migrations[i].name, PQerrorMessage(c->pg));
            goto out;
        }
        PQclear(res);
        params[1] = migrations[i].name;
        res = PQexecParams(c->pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           2, NULL, params, NULL, NULL, 0);
        if (!store_ok(res))
            goto fail;
        applied++;
    }
    PQclear(res);
    res = PQexec(c->pg, "COMMIT");
    if (!store_ok(res))
        goto fail;
    rc = applied;
    goto out;
fail:
    err_set(e, conn_broken(c) ? STORE_E_UNAVAILABLE : STORE_E_SQL, "could not migrate: %s",
            PQerrorMessage(c->pg));
out:
    PQclear(res);
    if (rc < 0 && !conn_broken(c))
        PQclear(PQexec(c->pg, "ROLLBACK"));
    return rc < 0 ? -1 : 0;
}
