/* store_check: store/store.c against a real PostgreSQL, for
 * tests/integration/test_store_faults.py::test_store_sessions_ended_and_timed_out. What
 * dbaasd's store layer does when the server ends its session (pg_terminate_backend(), as a
 * restart or an administrator does) inside and outside a transaction, and when a statement
 * runs past statement_timeout.
 *
 *   store_check CONNINFO TCP_CONNINFO
 *                          run every case on a scratch table (store_check, dropped first and
 *                          last), through CONNINFO, and server_tcp through TCP_CONNINFO (the same
 *                          server over TCP); prints "case=NAME ok ..." per case, or
 *                          "case=NAME FAILED: why" and exits 1
 *
 * The cases:
 * - tx_session_ended: the session of an open transaction is ended after its first INSERT; the
 *   next statement of the transaction fails (STORE_E_UNAVAILABLE, not retried on a new
 *   session, where it would run in autocommit), so do the ones after it and the COMMIT, and
 *   the table holds none of the transaction's rows. After the caller's ROLLBACK, a statement
 *   runs again (on a new session).
 * - autocommit_session_ended: a statement outside a transaction whose session was ended runs
 *   once more on a new session and succeeds.
 * - statement_timeout: a store session has statement_timeout STORE_STATEMENT_MS_STR ms; with a
 *   conninfo that lowers it to 300 ms, a longer statement fails with SQLSTATE 57014 (the
 *   server's error, returned, not retried) within a second or two, and inside a transaction the
 *   transaction fails whole: its earlier INSERT is not in the table after COMMIT.
 * - server_tcp: over TCP, the server's side of a store session has the keepalives and the
 *   tcp_user_timeout of STORE_SERVER_TCP_OPTIONS, so that the server ends a session (and its
 *   transaction and locks) whose dbaasd it cannot reach. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define WAIT_MS 10000 /* for the server to end a session */

static const char sql_insert[] = "INSERT INTO store_check (v) VALUES ($1::int)";
static const char sql_pid[] = "SELECT pg_backend_pid()";
static const char sql_timeout[] =
    "SELECT (extract(epoch FROM current_setting('statement_timeout')::interval) * 1000)::bigint";
static const char sql_sleep[] = "SELECT pg_sleep(5)";
static const char sql_one[] = "SELECT 1";

static const char *case_name;
static PGconn *admin; /* a session of the test's own, outside store.c */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    printf("case=%s FAILED: ", case_name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(1);
}

/* One statement on the admin session; its first value (or "" when it has none). */
static char *admin_sql(const char *sql, const char *param)
{
    PGresult *res =
        PQexecParams(admin, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
    char *v;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail("admin: %s: %s", sql, PQerrorMessage(admin));
    v = xstrdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return v;
}

/* The rows of the scratch table, as the admin session sees them. */
static int rows(void)
{
    char *v = admin_sql("SELECT count(*) FROM store_check", NULL);
    int n = atoi(v);

    free(v);
    return n;
}

/* A statement through store.c that must succeed; its first value. */
static char *ok(const char *sql, const char *param)
{
    struct err e;
    PGresult *res = store_exec(&e, sql, param ? 1 : 0, param ? &param : NULL);
    char *v;

    if (!res)
        fail("%s: %s", sql, e.msg);
    if (!store_ok(res))
        fail("%s: SQLSTATE %s", sql, store_sqlstate(res));
    v = xstrdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return v;
}

/* A transaction control statement through store.c: whether it succeeded. */
static bool simple(const char *sql)
{
    struct err e;
    PGresult *res = store_exec_simple(&e, sql);
    bool good = res && store_ok(res);

    PQclear(res);
    return good;
}

/* This thread's store session, ended by the server; returns once it is gone. */
static void end_store_session(void)
{
    char *pid = ok(sql_pid, NULL), *done;
    int64_t deadline = clock_now_ms() + WAIT_MS;
    struct timespec poll = {0, 20 * 1000 * 1000};

    free(admin_sql("SELECT pg_terminate_backend($1::int)", pid));
    for (;;) {
        done = admin_sql("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1::int", pid);
        if (strcmp(done, "t") == 0)
            break;
        free(done);
        if (clock_now_ms() > deadline)
            fail("session %s still there after %d ms", pid, WAIT_MS);
        nanosleep(&poll, NULL);
    }
    free(done);
    free(pid);
}

static void tx_session_ended(void)
{
    struct err e;
    const char *two = "2";
    PGresult *res;

    case_name = "tx_session_ended";
    if (!simple("BEGIN"))
        fail("BEGIN");
    free(ok(sql_insert, "1"));
    end_store_session();
    res = store_exec(&e, sql_insert, 1, &two);
    if (res) {
        PQclear(res);
        fail("the INSERT after the session ended was answered (retried in autocommit?)");
    }
    if (e.code != STORE_E_UNAVAILABLE)
        fail("the INSERT after the session ended failed with code %d, not unavailable", e.code);
    res = store_exec(&e, sql_insert, 1, &two);
    if (res) {
        PQclear(res);
        fail("a later INSERT of the broken transaction was answered");
    }
    if (simple("COMMIT"))
        fail("the COMMIT of the broken transaction succeeded");
    (void)simple("ROLLBACK");
    if (rows() != 0)
        fail("the table holds %d rows of the broken transaction", rows());
    free(ok(sql_insert, "3"));
    if (rows() != 1)
        fail("after the ROLLBACK, an INSERT gave %d rows, not 1", rows());
    printf("case=%s ok: next statement, later statement and COMMIT refused; 0 rows kept\n",
           case_name);
}

static void autocommit_session_ended(void)
{
    char *before, *after;
    int n = rows();

    case_name = "autocommit_session_ended";
    before = ok(sql_pid, NULL);
    end_store_session();
    free(ok(sql_insert, "4"));
    after = ok(sql_pid, NULL);
    if (rows() != n + 1)
        fail("the INSERT after the session ended left %d rows, not %d", rows(), n + 1);
    if (strcmp(before, after) == 0)
        fail("the same backend %s answered after it was ended", after);
    printf("case=%s ok: retried on a new session (backend %s, then %s)\n", case_name, before,
           after);
    free(before);
    free(after);
}

static void statement_timeout(const char *conninfo)
{
    char *set = ok(sql_timeout, NULL), *info;
    struct err e;
    PGresult *res;
    int64_t t0, ms;
    int n;

    case_name = "statement_timeout";
    if (strcmp(set, STORE_STATEMENT_MS_STR) != 0)
        fail("a store session has statement_timeout %s, not %s ms", set, STORE_STATEMENT_MS_STR);
    store_shutdown();
    info = xasprintf("%s options='-c statement_timeout=300'", conninfo);
    store_init(info);
    free(info);
    t0 = clock_now_ms();
    res = store_exec(&e, sql_sleep, 0, NULL);
    ms = clock_now_ms() - t0;
    if (!res)
        fail("the long statement: %s (not the server's error)", e.msg);
    if (strcmp(store_sqlstate(res), "57014") != 0)
        fail("the long statement ended with SQLSTATE '%s', not 57014", store_sqlstate(res));
    PQclear(res);
    if (ms > 3000)
        fail("the long statement was cancelled after %lld ms (timeout 300 ms)", (long long)ms);
    free(ok(sql_one, NULL)); /* the session lives on */
    n = rows();
    if (!simple("BEGIN"))
        fail("BEGIN");
    free(ok(sql_insert, "5"));
    res = store_exec(&e, sql_sleep, 0, NULL);
    if (!res || strcmp(store_sqlstate(res), "57014") != 0)
        fail("the long statement in a transaction was not cancelled");
    PQclear(res);
    (void)simple("COMMIT"); /* PostgreSQL answers a failed transaction's COMMIT by a rollback */
    if (rows() != n)
        fail("the cancelled transaction left %d rows, not %d", rows(), n);
    printf(
        "case=%s ok: statement_timeout %s ms; a 5 s statement cancelled after %lld ms with 57014;"
        " its transaction kept nothing\n",
        case_name, set, (long long)ms);
    free(set);
}

static void server_tcp(const char *tcp_conninfo)
{
    static const char sql_server[] =
        "SELECT current_setting('tcp_keepalives_idle') || ' ' ||"
        " current_setting('tcp_keepalives_interval') || ' ' ||"
        " current_setting('tcp_keepalives_count') || ' ' || current_setting('tcp_user_timeout')"
        " || ' ' || (SELECT client_addr IS NOT NULL FROM pg_stat_activity"
        " WHERE pid = pg_backend_pid())";
    char *got;

    case_name = "server_tcp";
    store_shutdown();
    store_init(tcp_conninfo);
    got = ok(sql_server, NULL);
    if (strcmp(got, "5 2 3 10000 true") != 0)
        fail("the server's keepalive idle, interval, count, user timeout and TCP client are "
             "\"%s\", not \"5 2 3 10000 true\"",
             got);
    printf("case=%s ok: the server's side has keepalives 5 s, 2 s, 3 probes and "
           "tcp_user_timeout 10 s\n",
           case_name);
    free(got);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: store_check CONNINFO TCP_CONNINFO\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    case_name = "setup";
    admin = PQconnectdb(argv[1]);
    if (PQstatus(admin) != CONNECTION_OK)
        fail("admin connection: %s", PQerrorMessage(admin));
    free(admin_sql("DROP TABLE IF EXISTS store_check", NULL));
    free(admin_sql("CREATE TABLE store_check (v int)", NULL));
    store_init(argv[1]);
    tx_session_ended();
    autocommit_session_ended();
    statement_timeout(argv[1]);
    server_tcp(argv[2]);
    store_shutdown();
    free(admin_sql("DROP TABLE store_check", NULL));
    PQfinish(admin);
    return 0;
}
