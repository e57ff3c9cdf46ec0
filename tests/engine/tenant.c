/* engine_check's client side: the tenant's writes and reads and the refused attempts, with each
 * engine's own client library over TCP 127.0.0.1 (see tenant.h). */
#include "tests/engine/tenant.h"

#include <hiredis.h>
#include <libpq-fe.h>
#include <mysql.h>
/* after mysql.h, which it needs */
#include <mariadb_rpl.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "lib/clock.h"

#define CONNECT_TIMEOUT_S 10
#define TENANT_DB "app"
#define MY_ER_NO_SUCH_TABLE 1146
#define PG_UNDEFINED_TABLE "42P01"

/* A message on one line, without its trailing newline. */
static void say(struct buf *msg, const char *text)
{
    size_t n = strlen(text);

    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    buf_reset(msg);
    for (size_t i = 0; i < n; i++)
        buf_append(msg, text[i] == '\n' ? " " : &text[i], 1);
}

/* ---- PostgreSQL (libpq) ---- */

static PGconn *pg_open(int port, const char *user, const char *password, const char *db,
                       bool replication, struct buf *msg)
{
    char p[16], timeout[16];
    const char *kw[] = {
        "host",        "port", "user", "password", "dbname", "sslmode", "connect_timeout",
        "replication", NULL};
    const char *val[] = {"127.0.0.1", p, user, password, db, "disable", timeout, "true", NULL};
    PGconn *c;

    snprintf(p, sizeof(p), "%d", port);
    snprintf(timeout, sizeof(timeout), "%d", CONNECT_TIMEOUT_S);
    if (!replication)
        kw[7] = NULL;
    c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        say(msg, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* 0 and the result's rows in *res (the caller clears it), or -1 with msg and *sqlstate. */
static int pg_do(PGconn *c, const char *sql, int n, const char *const *params, PGresult **res,
                 char sqlstate[6], struct buf *msg)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(sqlstate, 6, "%s", state ? state : "");
        say(msg, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return 0;
}

static int pg_write(int port, const char *password, const char *key, const char *value,
                    struct buf *msg)
{
    PGconn *c = pg_open(port, TENANT_DB, password, TENANT_DB, false, msg);
    const char *params[] = {key, value};
    char state[6];
    int rc;

    if (!c)
        return -1;
    rc = pg_do(c, "CREATE TABLE IF NOT EXISTS repl_check (k text PRIMARY KEY, v text)", 0, NULL,
               NULL, state, msg);
    if (rc == 0)
        rc = pg_do(c,
                   "INSERT INTO repl_check VALUES ($1, $2)"
                   " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                   2, params, NULL, state, msg);
    PQfinish(c);
    return rc;
}

static int pg_read(int port, const char *password, const char *key, char *value, size_t n,
                   struct buf *msg)
{
    PGconn *c = pg_open(port, TENANT_DB, password, TENANT_DB, false, msg);
    PGresult *res = NULL;
    char state[6] = "";
    int rc;

    if (!c)
        return -1;
    rc = pg_do(c, "SELECT v FROM repl_check WHERE k = $1", 1, &key, &res, state, msg);
    if (rc < 0)
        rc = strcmp(state, PG_UNDEFINED_TABLE) == 0 ? 0 : -1;
    else if (PQntuples(res) == 0)
        rc = 0;
    else {
        snprintf(value, n, "%s", PQgetvalue(res, 0, 0));
        rc = 1;
    }
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* ---- MariaDB (Connector/C) ---- */

static MYSQL *my_open(int port, const char *user, const char *password, const char *db,
                      struct buf *msg)
{
    unsigned int secs = CONNECT_TIMEOUT_S;
    MYSQL *m = mysql_init(NULL);

    if (!m) {
        say(msg, "out of memory");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
    if (!mysql_real_connect(m, "127.0.0.1", user, password, db, (unsigned int)port, NULL, 0)) {
        say(msg, mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* Keys and values are engine_check's own [A-Za-z0-9_-] strings: nothing to escape. */
static int my_do(MYSQL *m, const char *sql, struct buf *msg)
{
    MYSQL_RES *res;

    if (mysql_query(m, sql) != 0) {
        say(msg, mysql_error(m));
        return -1;
    }
    res = mysql_store_result(m);
    mysql_free_result(res);
    return 0;
}

static int my_write(int port, const char *password, const char *key, const char *value,
                    struct buf *msg)
{
    MYSQL *m = my_open(port, TENANT_DB, password, TENANT_DB, msg);
    char sql[512];
    int rc;

    if (!m)
        return -1;
    snprintf(sql, sizeof(sql), "REPLACE INTO repl_check VALUES ('%s', '%s')", key, value);
    rc = my_do(m,
               "CREATE TABLE IF NOT EXISTS repl_check (k varchar(64) PRIMARY KEY, v varchar(200))",
               msg);
    if (rc == 0)
        rc = my_do(m, sql, msg);
    mysql_close(m);
    return rc;
}

static int my_read(int port, const char *password, const char *key, char *value, size_t n,
                   struct buf *msg)
{
    MYSQL *m = my_open(port, TENANT_DB, password, TENANT_DB, msg);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    char sql[256];
    int rc = -1;

    if (!m)
        return -1;
    snprintf(sql, sizeof(sql), "SELECT v FROM repl_check WHERE k = '%s'", key);
    if (mysql_query(m, sql) != 0) {
        rc = mysql_errno(m) == MY_ER_NO_SUCH_TABLE ? 0 : -1;
        say(msg, mysql_error(m));
        goto out;
    }
    res = mysql_store_result(m);
    rc = 0;
    if (res && (row = mysql_fetch_row(res)) != NULL && row[0]) {
        snprintf(value, n, "%s", row[0]);
        rc = 1;
    }
out:
    mysql_free_result(res);
    mysql_close(m);
    return rc;
}

/* A binary log dump from the start of the first binary log, as a replica would ask. */
static int my_replicate(int port, const char *user, const char *password, struct buf *msg)
{
    MYSQL *m = my_open(port, user, password, NULL, msg);
    MARIADB_RPL *rpl;
    MARIADB_RPL_EVENT *ev = NULL;
    int rc = 0;

    if (!m)
        return -1;
    rpl = mariadb_rpl_init(m);
    if (!rpl) {
        say(msg, "could not start a binlog dump");
        mysql_close(m);
        return -1;
    }
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, (uint32_t)4242);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)4);
    mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, "binlog.000001", (size_t)13);
    if (mariadb_rpl_open(rpl) != 0 || !(ev = mariadb_rpl_fetch(rpl, NULL))) {
        say(msg, mysql_errno(m) ? mysql_error(m) : mariadb_rpl_error(rpl));
    } else {
        say(msg, "a binlog event was sent");
        rc = 1;
    }
    if (ev)
        mariadb_free_rpl_event(ev);
    mariadb_rpl_close(rpl);
    mysql_close(m);
    return rc;
}

/* ---- Redis (hiredis) ---- */

static redisContext *rd_open(int port, const char *user, const char *password, struct buf *msg)
{
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r;

    if (!c || c->err) {
        say(msg, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    r = redisCommandArgv(c, 3, (const char *[]){"AUTH", user, password}, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        say(msg, r ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

/* One command of argc words: the reply (the caller frees it), NULL with msg when it failed or
 * was refused. */
static redisReply *rd_do(redisContext *c, struct buf *msg, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);

    if (!r || r->type == REDIS_REPLY_ERROR) {
        say(msg, r ? r->str : c->errstr);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int rd_write(int port, const char *password, const char *key, const char *value,
                    struct buf *msg)
{
    redisContext *c = rd_open(port, TENANT_DB, password, msg);
    redisReply *r;

    if (!c)
        return -1;
    r = rd_do(c, msg, 3, (const char *[]){"SET", key, value});
    freeReplyObject(r);
    redisFree(c);
    return r ? 0 : -1;
}

static int rd_read(int port, const char *password, const char *key, char *value, size_t n,
                   struct buf *msg)
{
    redisContext *c = rd_open(port, TENANT_DB, password, msg);
    redisReply *r;
    int rc = -1;

    if (!c)
        return -1;
    if ((r = rd_do(c, msg, 2, (const char *[]){"GET", key})) != NULL) {
        rc = r->type == REDIS_REPLY_STRING;
        if (rc)
            snprintf(value, n, "%s", r->str);
    }
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* ---- by engine ---- */

int tenant_write(const char *engine, int port, const char *password, const char *key,
                 const char *value, struct buf *msg)
{
    if (strcmp(engine, "postgres") == 0)
        return pg_write(port, password, key, value, msg);
    if (strcmp(engine, "mysql") == 0)
        return my_write(port, password, key, value, msg);
    return rd_write(port, password, key, value, msg);
}

int tenant_read(const char *engine, int port, const char *password, const char *key, char *value,
                size_t n, struct buf *msg)
{
    if (strcmp(engine, "postgres") == 0)
        return pg_read(port, password, key, value, n, msg);
    if (strcmp(engine, "mysql") == 0)
        return my_read(port, password, key, value, n, msg);
    return rd_read(port, password, key, value, n, msg);
}

int tenant_replicate(const char *engine, int port, const char *user, const char *password,
                     struct buf *msg)
{
    if (strcmp(engine, "postgres") == 0) {
        PGconn *c = pg_open(port, user, password, "replication", true, msg);
        PGresult *r;
        int rc;

        if (!c)
            return 0;
        r = PQexec(c, "IDENTIFY_SYSTEM");
        rc = PQresultStatus(r) == PGRES_TUPLES_OK;
        say(msg, rc ? "IDENTIFY_SYSTEM answered" : PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return rc;
    }
    if (strcmp(engine, "mysql") == 0)
        return my_replicate(port, user, password, msg);
    {
        redisContext *c = rd_open(port, user, password, msg);
        redisReply *r;

        if (!c)
            return 0;
        r = rd_do(c, msg, 3, (const char *[]){"PSYNC", "?", "-1"});
        if (r)
            say(msg, "PSYNC answered");
        freeReplyObject(r);
        redisFree(c);
        return r != NULL;
    }
}

int tenant_read_as(const char *engine, int port, const char *user, const char *password,
                   struct buf *msg)
{
    if (strcmp(engine, "postgres") == 0) {
        PGconn *c = pg_open(port, user, password, TENANT_DB, false, msg);
        char state[6];
        int rc;

        if (!c)
            return 0;
        rc = pg_do(c, "SELECT count(*) FROM repl_check", 0, NULL, NULL, state, msg) == 0;
        PQfinish(c);
        return rc;
    }
    if (strcmp(engine, "mysql") == 0) {
        MYSQL *m = my_open(port, user, password, NULL, msg);
        int rc;

        if (!m)
            return 0;
        rc = my_do(m, "SELECT count(*) FROM " TENANT_DB ".repl_check", msg) == 0;
        mysql_close(m);
        return rc;
    }
    {
        redisContext *c = rd_open(port, user, password, msg);
        redisReply *r;

        if (!c)
            return 0;
        r = rd_do(c, msg, 2, (const char *[]){"GET", "k"});
        freeReplyObject(r);
        redisFree(c);
        return r != NULL;
    }
}

/* ---- a write with a deadline (sync mode, fences) ---- */

/* One statement on c, answered before deadline: 0, -1 refused (msg), -2 no answer in time. */
static int pg_do_by(PGconn *c, const char *sql, int n, const char *const *params, int64_t deadline,
                    struct buf *msg)
{
    PGresult *r, *last = NULL;
    int rc = 0;

    if (!PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0)) {
        say(msg, PQerrorMessage(c));
        return -1;
    }
    while (PQisBusy(c)) {
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        int64_t left = deadline - clock_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
            say(msg, "no answer before the deadline");
            return -2;
        }
        if (!PQconsumeInput(c)) {
            say(msg, PQerrorMessage(c));
            return -1;
        }
    }
    while ((r = PQgetResult(c)) != NULL) {
        PQclear(last);
        last = r;
    }
    if (!last ||
        (PQresultStatus(last) != PGRES_COMMAND_OK && PQresultStatus(last) != PGRES_TUPLES_OK)) {
        say(msg, last ? PQresultErrorMessage(last) : PQerrorMessage(c));
        rc = -1;
    }
    PQclear(last);
    return rc;
}

int tenant_write_by(const char *engine, int port, const char *password, const char *key,
                    const char *value, int timeout_ms, struct buf *msg)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    int rc = -1;

    buf_reset(msg);
    if (strcmp(engine, "postgres") == 0) {
        PGconn *c = pg_open(port, TENANT_DB, password, TENANT_DB, false, msg);
        const char *params[] = {key, value};

        if (!c)
            return -1;
        rc = pg_do_by(c, "CREATE TABLE IF NOT EXISTS repl_check (k text PRIMARY KEY, v text)", 0,
                      NULL, deadline, msg);
        if (rc == 0)
            rc = pg_do_by(c,
                          "INSERT INTO repl_check VALUES ($1, $2)"
                          " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                          2, params, deadline, msg);
        PQfinish(c); /* unanswered: the server never tells this client it committed */
        return rc;
    }
    if (strcmp(engine, "mysql") == 0) {
        MYSQL *m = my_open(port, TENANT_DB, password, TENANT_DB, msg);
        unsigned int secs = (unsigned int)((timeout_ms + 999) / 1000);
        char sql[512];

        if (!m)
            return -1;
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
        snprintf(sql, sizeof(sql), "REPLACE INTO repl_check VALUES ('%s', '%s')", key, value);
        rc = my_do(m, sql, msg);
        if (rc < 0 && mysql_errno(m) == 2013 /* CR_SERVER_LOST: the read timed out */)
            rc = -2;
        mysql_close(m);
        return rc;
    }
    {
        redisContext *c = rd_open(port, TENANT_DB, password, msg);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        redisReply *r;

        if (!c)
            return -1;
        redisSetTimeout(c, tv);
        r = redisCommandArgv(c, 3, (const char *[]){"SET", key, value}, NULL);
        if (!r && c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            say(msg, "no answer before the deadline");
            rc = -2;
        } else if (!r || r->type == REDIS_REPLY_ERROR) {
            say(msg, r ? r->str : c->errstr);
            rc = -1;
        } else
            rc = 0;
        freeReplyObject(r);
        redisFree(c);
        return rc;
    }
}
