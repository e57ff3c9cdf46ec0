/* PostgreSQL 15 driver: initdb with data checksums, a configuration outside PGDATA sized from
 * the plan, the admin path over the Unix socket with peer authentication, and the tenant's
 * role from its SCRAM-SHA-256 verifier.
 *
 * NOTES
 * - Files in the member directory: postgresql.conf (every setting; the server runs with
 *   -c config_file=...), pg_hba.conf, pg_ident.conf. PGDATA (DIR/data) holds only data, so
 *   pg_rewind and pg_basebackup never carry one member's port or address to another.
 * - Admin path: the superuser is named after the OS user ("postgres"); pg_hba.conf lets it in
 *   only over the Unix socket with peer authentication, mapped from the OS users root (the
 *   agent) and the engine's own user. The socket directory is the member's (0700) or run_dir,
 *   and the socket itself is 0700. Tenants get scram-sha-256 over TCP; the superuser is
 *   rejected over TCP.
 * - Every admin session sets log_min_error_statement=panic so that a failing CREATE ROLE does
 *   not write its verifier to the server log, and synchronous_commit=local so that the agent's
 *   own writes never wait for a synchronous standby.
 * - The tenant's role is LOGIN CREATEDB and nothing more; it makes its applications' roles
 *   through the functions of engine_postgres_tenant.c, which create_user installs.
 * - Replication and failover (spec->repl) live in engine_postgres_repl.c (its NOTES); the two
 *   files share engines/engine_postgres.h. */
#include "engines/engine.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engines/engine_postgres.h"
#include "engines/engine_postgres_tenant.h"
#include "engines/engine_util.h"
#include "lib/crypto.h"
#include "lib/lines.h"
#include "lib/xalloc.h"
#include "lib/clock.h"

#define PG_INIT_TIMEOUT_MS 300000
#define PG_PENDING_RESTART "setting could not be applied"
/* Every admin session: a failing CREATE ROLE must not log its verifier, and the agent's own
 * writes (roles, grants) never wait for a synchronous standby: after a promotion in sync mode
 * the standbys can only connect once repl_setup made their slots. */
#define PG_ADMIN_OPTIONS "-c log_min_error_statement=panic -c synchronous_commit=local"

/* ---- sizing (see docs/engines.md) ---- */

static int64_t pg_shared_buffers_mb(const struct engine_spec *s)
{
    return s->memory_mb / 4;
}

static int64_t pg_max_connections(const struct engine_spec *s)
{
    return engine_util_clamp(s->memory_mb / 8, 20, 500);
}

/* ---- init, render, argv ---- */

static int pg_init(const struct engine_spec *s, const char *data_path, struct err *e)
{
    struct engine_user u;
    struct engine_strv sv = {0};
    char *prog;

    if (engine_util_user(s->os_user, &u, e) < 0)
        return -1;
    prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, "initdb");
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_pushf(&sv, "--pgdata=%s", data_path);
    engine_util_strv_pushf(&sv, "--username=%s", s->os_user);
    engine_util_strv_push(&sv, "--auth-local=peer");
    engine_util_strv_push(&sv, "--auth-host=reject");
    engine_util_strv_push(&sv, "--encoding=UTF8");
    engine_util_strv_push(&sv, "--locale=C.UTF-8");
    engine_util_strv_push(&sv, "--data-checksums");
    engine_util_strv_push(&sv, "--no-sync");
    engine_util_strv_push(&sv, "--no-instructions");
    return engine_util_run_tool(&u, engine_util_strv_steal(&sv), data_path, PG_INIT_TIMEOUT_MS,
                                "initdb", e);
}

static int pg_render(const struct engine_spec *s, const char *admin_secret,
                     struct engine_files *out, struct err *e)
{
    struct buf conf = BUF_INIT, hba = BUF_INIT, ident = BUF_INIT, pass = BUF_INIT;
    int64_t mem = s->memory_mb;
    int64_t max_wal = engine_util_clamp(s->disk_mb / 4, 64, 4096);

    (void)admin_secret;
    (void)e;
    buf_printf(&conf,
               "# PostgreSQL 15 settings of instance %s, written by the dbaas agent: every\n"
               "# configure rewrites this file (edits here are lost). Plan: %lld millicores,\n"
               "# %lld MB memory, %lld MB disk.\n\n",
               s->instance, (long long)s->cpu_millis, (long long)mem, (long long)s->disk_mb);
    buf_printf(&conf,
               "hba_file = '%s/pg_hba.conf'\n"
               "ident_file = '%s/pg_ident.conf'\n"
               "listen_addresses = '%s'\n"
               "port = %d\n"
               "unix_socket_directories = '%s'\n"
               "unix_socket_permissions = 0700\n"
               "cluster_name = '%s'\n\n",
               s->data_dir, s->data_dir, s->listen_addr, s->port, s->run_dir, s->instance);
    buf_printf(&conf,
               "# Sized from the plan\n"
               "max_connections = %lld\n"
               "shared_buffers = %lldMB\n"
               "effective_cache_size = %lldMB\n"
               "maintenance_work_mem = %lldMB\n"
               "max_parallel_workers = %lld\n"
               "max_parallel_workers_per_gather = %lld\n"
               "max_wal_size = %lldMB\n"
               "min_wal_size = %lldMB\n"
               "wal_keep_size = %lldMB\n"
               "# Temporary files are buffered writes that cgroup v1 cannot charge to the\n"
               "# instance's IO limits: bound them by the plan's disk instead\n"
               "temp_file_limit = %lldMB\n\n",
               (long long)pg_max_connections(s), (long long)pg_shared_buffers_mb(s),
               (long long)(mem * 3 / 4), (long long)engine_util_clamp(mem / 16, 4, 2048),
               (long long)engine_util_clamp(s->cpu_millis / 1000, 1, 8),
               (long long)engine_util_clamp(s->cpu_millis / 2000, 0, 4), (long long)max_wal,
               (long long)engine_util_clamp(max_wal / 2, 32, 80),
               (long long)engine_util_clamp(s->disk_mb / 16, 16, 1024),
               (long long)engine_util_clamp(s->disk_mb / 4, 16, INT64_C(1) << 30));
    buf_puts(&conf, "# Security and replication\n"
                    "password_encryption = scram-sha-256\n"
                    "superuser_reserved_connections = 3\n"
                    "wal_level = replica\n"
                    "wal_log_hints = on\n"
                    "max_wal_senders = 10\n"
                    "max_replication_slots = 10\n"
                    "hot_standby = on\n"
                    "wal_retrieve_retry_interval = 100ms\n\n"
                    "# Logging to stderr (the agent keeps it in server.log) and locale\n"
                    "logging_collector = off\n"
                    "log_destination = 'stderr'\n"
                    "log_line_prefix = '%m [%p] '\n"
                    "log_timezone = 'UTC'\n"
                    "timezone = 'UTC'\n"
                    "datestyle = 'iso, mdy'\n"
                    "lc_messages = 'C'\n"
                    "lc_monetary = 'C.UTF-8'\n"
                    "lc_numeric = 'C.UTF-8'\n"
                    "lc_time = 'C.UTF-8'\n"
                    "default_text_search_config = 'pg_catalog.english'\n"
                    "dynamic_shared_memory_type = posix\n");
    if (s->repl)
        pg_render_repl(s, &conf);

    buf_printf(&hba,
               "# Written by the dbaas agent. The superuser \"%s\" only over the Unix socket,\n"
               "# as OS user root (the agent) or %s; tenants with SCRAM over TCP.\n"
               "# TYPE  DATABASE  USER  ADDRESS  METHOD\n"
               "local   all       %s             peer map=dbaas_admin\n"
               "local   all       all            reject\n"
               "host    all       %s    all      reject\n",
               s->os_user, s->os_user, s->os_user, s->os_user);
    if (s->repl) {
        pg_render_repl_hba(s, &hba);
        buf_printf(&pass, "*:*:*:%s:%s\n", s->repl->user, s->repl->secret);
    }
    buf_puts(&hba, "host    all       all   all      scram-sha-256\n");
    buf_printf(&ident,
               "# Written by the dbaas agent: who may be the superuser over the socket.\n"
               "# MAP          SYSTEM-USER  PG-USER\n"
               "dbaas_admin    root         %s\n"
               "dbaas_admin    %s           %s\n",
               s->os_user, s->os_user, s->os_user);

    out->n = 3;
    out->f[0].name = "postgresql.conf";
    out->f[0].content = buf_steal(&conf);
    out->f[1].name = "pg_hba.conf";
    out->f[1].content = buf_steal(&hba);
    out->f[2].name = "pg_ident.conf";
    out->f[2].content = buf_steal(&ident);
    if (s->repl) {
        out->n = 4;
        out->f[3].name = PG_PASSFILE;
        out->f[3].content = buf_steal(&pass);
    }
    return 0;
}

static int pg_argv(const struct engine_spec *s, char ***argv_out, struct err *e)
{
    struct engine_strv sv = {0};
    char *prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, catalog_postgres.server_program);

    (void)e;
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_push(&sv, "-D");
    engine_util_strv_pushf(&sv, "%s/data", s->data_dir);
    engine_util_strv_push(&sv, "-c");
    engine_util_strv_pushf(&sv, "config_file=%s/postgresql.conf", s->data_dir);
    *argv_out = engine_util_strv_steal(&sv);
    return 0;
}

/* ---- admin sessions ---- */

/* libpq's message without its trailing newline, on one line. */
const char *pg_msg(const char *m, char *buf, size_t n)
{
    size_t len;

    snprintf(buf, n, "%s", m ? m : "");
    len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return buf;
}

/* Wait until the connection's socket is ready for events or the deadline passes. */
static int pg_wait(PGconn *c, short events, int64_t deadline)
{
    struct pollfd pfd = {PQsocket(c), events, 0};
    int64_t left;
    int r;

    for (;;) {
        left = deadline - clock_now_ms();
        if (left <= 0)
            return -1;
        r = poll(&pfd, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Notices (a repeated GRANT, IF NOT EXISTS) are not errors; a driver never logs them. */
static void pg_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A superuser session over the Unix socket (a physical replication session when replication),
 * established before the deadline. The caller closes it with PQfinish(). */
PGconn *pg_connect(const struct engine_spec *s, int64_t deadline, bool replication, struct err *e)
{
    char port[16], msg[400];
    const char *kw[] = {"host",    "port",       "user",    "dbname",      "application_name",
                        "sslmode", "gssencmode", "options", "replication", NULL};
    const char *val[] = {s->run_dir, port,      s->os_user,       PG_ADMIN_DB, "dbaas-agent",
                         "disable",  "disable", PG_ADMIN_OPTIONS, "true",      NULL};
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    PGconn *c;

    snprintf(port, sizeof(port), "%d", s->port);
    if (!replication)
        kw[8] = NULL;
    c = PQconnectStartParams(kw, val, 0);
    if (!c) {
        err_set(e, ENGINE_E_SYSTEM, "could not connect to PostgreSQL: out of memory");
        return NULL;
    }
    PQsetNoticeProcessor(c, pg_notice_ignore, NULL);
    if (PQstatus(c) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            err_set(e, ENGINE_E_UNAVAILABLE, "could not connect to PostgreSQL 15 in \"%s\": %s",
                    s->run_dir, pg_msg(PQerrorMessage(c), msg, sizeof(msg)));
            goto fail;
        }
        if (pg_wait(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline) < 0) {
            err_set(e, ENGINE_E_UNAVAILABLE,
                    "could not connect to PostgreSQL 15 in \"%s\": timed out", s->run_dir);
            goto fail;
        }
        st = PQconnectPoll(c);
    }
    return c;
fail:
    PQfinish(c);
    return NULL;
}

/* The result of the statement sent on c, before the deadline: the caller PQclear()s it; NULL
 * with e set. `what` names the action for messages. At the deadline the statement is
 * cancelled when `cancel` (PQcancel() itself waits for the server: health probes, which must
 * return in time even from a stopped server, do not cancel). */
PGresult *pg_result(PGconn *c, int64_t deadline, const char *what, bool cancel, struct err *e)
{
    PGresult *res = NULL, *extra;
    char msg[400];
    ExecStatusType st;

    while (PQisBusy(c)) {
        if (pg_wait(c, POLLIN, deadline) < 0) {
            PGcancel *cc = cancel ? PQgetCancel(c) : NULL;
            char ebuf[256];
            if (cc) {
                PQcancel(cc, ebuf, sizeof(ebuf));
                PQfreeCancel(cc);
            }
            err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: timed out", what);
            return NULL;
        }
        if (!PQconsumeInput(c)) {
            err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what,
                    pg_msg(PQerrorMessage(c), msg, sizeof(msg)));
            return NULL;
        }
    }
    res = PQgetResult(c);
    while ((extra = PQgetResult(c)) != NULL)
        PQclear(extra);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        err_set(e, ENGINE_E_ENGINE, "could not %s: %s", what,
                pg_msg(res ? PQresultErrorMessage(res) : PQerrorMessage(c), msg, sizeof(msg)));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Run one statement with parameters before the deadline (see pg_result()). */
PGresult *pg_query_x(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
                     const char *const *params, bool cancel, struct err *e)
{
    char msg[400];

    if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what,
                pg_msg(PQerrorMessage(c), msg, sizeof(msg)));
        return NULL;
    }
    return pg_result(c, deadline, what, cancel, e);
}

PGresult *pg_query(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
                   const char *const *params, struct err *e)
{
    return pg_query_x(c, deadline, what, sql, nparams, params, true, e);
}

static int pg_probe(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    PGconn *c = pg_connect(s, deadline, false, e);
    PGresult *res;

    if (!c)
        return -1;
    res = pg_query(c, deadline, "probe PostgreSQL", "SELECT 1", 0, NULL, e);
    PQclear(res);
    PQfinish(c);
    return res ? 0 : -1;
}

/* Whether a row exists for `sql` with one parameter: 1, 0, or -1 on error. */
int pg_exists(PGconn *c, int64_t deadline, const char *what, const char *sql, const char *param,
              struct err *e)
{
    PGresult *res = pg_query(c, deadline, what, sql, 1, &param, e);
    int n;

    if (!res)
        return -1;
    n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

/* A statement whose result is not needed: 0 / -1. */
int pg_run(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
           const char *const *params, struct err *e)
{
    PGresult *res = pg_query(c, deadline, what, sql, nparams, params, e);

    PQclear(res);
    return res ? 0 : -1;
}

/* Create or alter role `name` WITH `attributes` (a fixed text) and the SCRAM verifier as its
 * password. CREATE ROLE takes no parameters: both values were validated strictly, and are
 * quoted; the statement is wiped. */
int pg_set_role(PGconn *c, int64_t deadline, const char *name, const char *verifier,
                const char *attributes, struct err *e)
{
    char *ident = NULL, *lit = NULL, what[128];
    struct buf sql = BUF_INIT;
    int exists, rc = -1;

    snprintf(what, sizeof(what), "look up role \"%s\"", name);
    exists = pg_exists(c, deadline, what, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
                       name, e);
    if (exists < 0)
        goto out;
    ident = PQescapeIdentifier(c, name, strlen(name));
    lit = PQescapeLiteral(c, verifier, strlen(verifier));
    if (!ident || !lit) {
        err_set(e, ENGINE_E_SYSTEM, "could not quote the role of user \"%s\"", name);
        goto out;
    }
    buf_printf(&sql, "%s ROLE %s WITH %s PASSWORD %s", exists ? "ALTER" : "CREATE", ident,
               attributes, lit);
    snprintf(what, sizeof(what), "%s role \"%s\"", exists ? "alter" : "create", name);
    rc = pg_run(c, deadline, what, buf_str(&sql), 0, NULL, e);
    explicit_bzero(sql.data, sql.len);
out:
    if (lit) {
        explicit_bzero(lit, strlen(lit));
        PQfreemem(lit);
    }
    PQfreemem(ident);
    buf_free(&sql);
    return rc;
}

/* The tenant's role (no CREATEROLE: see engine_postgres_tenant.c), its database, and the
 * functions that make its applications' roles. A no-op on a standby. */
static int pg_create_user(const struct engine_spec *s, struct err *e)
{
    int64_t deadline = clock_now_ms() + PG_ADMIN_TIMEOUT_MS;
    PGconn *c = NULL;
    char *ident = NULL, what[128];
    struct buf sql = BUF_INIT;
    int exists, rc = -1;

    /* A standby is read-only: its tenant role and database come from the primary. */
    if (s->repl && s->repl->role == ENGINE_ROLE_REPLICA)
        return 0;
    if (!(c = pg_connect(s, deadline, false, e)))
        goto out;
    if (pg_set_role(c, deadline, s->username, s->verifier,
                    "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS", e) < 0)
        goto out;
    snprintf(what, sizeof(what), "look up database \"%s\"", s->username);
    exists = pg_exists(c, deadline, what, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
                       s->username, e);
    if (exists < 0)
        goto out;
    if (!exists) {
        if (!(ident = PQescapeIdentifier(c, s->username, strlen(s->username)))) {
            err_set(e, ENGINE_E_SYSTEM, "could not quote database \"%s\"", s->username);
            goto out;
        }
        buf_printf(&sql, "CREATE DATABASE %s OWNER %s", ident, ident);
        snprintf(what, sizeof(what), "create database \"%s\"", s->username);
        if (pg_run(c, deadline, what, buf_str(&sql), 0, NULL, e) < 0)
            goto out;
    }
    if (pg_tenant_functions(c, deadline, s->username, e) < 0)
        goto out;
    rc = 0;
out:
    PQfreemem(ident);
    buf_free(&sql);
    PQfinish(c);
    return rc;
}

/* Reload the rewritten configuration; pg_file_settings (parsed at query time) then says which
 * settings wait for a restart ("setting could not be applied"). */
static int pg_apply_live(const struct engine_spec *s, bool *restart_needed, struct err *e)
{
    int64_t deadline = clock_now_ms() + PG_ADMIN_TIMEOUT_MS;
    PGconn *c = NULL;
    PGresult *res = NULL;
    int rc = -1;

    *restart_needed = false;
    if (!(c = pg_connect(s, deadline, false, e)))
        goto out;
    if (!(res = pg_query(c, deadline, "reload the configuration", "SELECT pg_reload_conf()", 0,
                         NULL, e)))
        goto out;
    PQclear(res);
    res = pg_query(c, deadline, "check the configuration",
                   "SELECT name, coalesce(sourcefile, ''), coalesce(sourceline, 0), error"
                   " FROM pg_catalog.pg_file_settings WHERE error IS NOT NULL"
                   " ORDER BY seqno",
                   0, NULL, e);
    if (!res)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *error = PQgetvalue(res, i, 3);
        if (strcmp(error, PG_PENDING_RESTART) == 0) {
            *restart_needed = true;
            continue;
        }
        err_set(e, ENGINE_E_ENGINE, "configuration file \"%s\" line %s: %s", PQgetvalue(res, i, 1),
                PQgetvalue(res, i, 2), error);
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* ---- start errors ---- */

static const char *const pg_levels[] = {"PANIC:", "FATAL:", "ERROR:", "WARNING:", "LOG:", NULL};

static const char *pg_level(const char *line)
{
    const char *best = NULL;

    for (int i = 0; pg_levels[i]; i++) {
        const char *p = strstr(line, pg_levels[i]);
        if (p && (!best || p < best))
            best = p;
    }
    return best;
}

static bool pg_error_line(const char *line)
{
    const char *level = pg_level(line);

    if (!level)
        return false;
    if (strncmp(level, "LOG:", 4) == 0 || strncmp(level, "WARNING:", 8) == 0)
        return strstr(level, "could not") || strstr(level, "invalid") ||
               strstr(level, "syntax error") || strstr(level, "unrecognized");
    return true;
}

static size_t pg_error_skip(const char *line)
{
    const char *level = pg_level(line);

    return level ? (size_t)(level - line) : 0;
}

static void pg_start_error(const char *output, struct buf *out)
{
    lines_pick(output, pg_error_line, pg_error_skip, 4, out);
}

const struct engine_ops engine_postgres_ops = {
    .cat = &catalog_postgres,
    .stop_signal = SIGINT,
    .admin_secret = false,
    .init = pg_init,
    .render = pg_render,
    .argv = pg_argv,
    .probe = pg_probe,
    .create_user = pg_create_user,
    .apply_live = pg_apply_live,
    .start_error = pg_start_error,
    .seed_plan = pg_seed_plan,
    .seed_source = NULL, /* pg_basebackup copies over the replication protocol */
    .seed_finish = pg_seed_finish,
    .seed_error = pg_seed_error,
    .repl_setup = pg_repl_setup,
    .follow = pg_follow,
    .health = pg_health,
    .promote = pg_promote,
    .stop_writes = NULL, /* a clean stop sends every WAL record to the standbys first */
    .rejoin_plan = pg_rejoin_plan,
    .rejoin_finish = pg_seed_finish, /* standby.signal, as after a seed */
    .stopped_position = pg_stopped_position,
};
