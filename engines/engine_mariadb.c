/* MariaDB 10.11 driver (the "mysql" engine): mariadb-install-db, a my.cnf sized from the plan
 * with GTID and the binary log on, the admin path over the Unix socket with unix_socket
 * authentication, and the tenant's user from its mysql_native_password hash.
 *
 * NOTES
 * - Files in the member directory: my.cnf (the server runs with --defaults-file=it, so no
 *   system option file is read) and mariadbd.pid. The socket is RUN/mysqld.<port>.sock.
 * - Admin path: mariadb-install-db creates root@localhost and <os user>@localhost identified
 *   via unix_socket (their password login is disabled), so only the OS users root (the agent)
 *   and the engine's own user get in, and only over the socket in a 0700 directory.
 * - The tenant owns its databases and no global privilege beyond PROCESS and SHOW DATABASES
 *   (engine_mariadb_tenant.c): it cannot bypass read_only (the HA fence), read the engine
 *   user's files, stop the server, write the system schemas or touch other accounts.
 * - Live resize: max_connections, the buffer pool and the redo log size (all dynamic in
 *   10.11); nothing is normally left for a restart.
 * - server_id is derived from the instance, the listen address and the port (FNV-1a), so
 *   members of one instance differ; with replication it is the member id.
 * - Replication and failover (spec->repl) live in engine_mariadb_repl.c (its NOTES); the two
 *   files share engines/engine_mariadb.h. */
#include "engines/engine.h"

#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/engine_mariadb.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/xalloc.h"

#define MY_DEFAULT_SBIN "/usr/sbin"
#define MY_INIT_TIMEOUT_MS 300000

/* ---- sizing (see docs/engines.md) ---- */

int64_t mdb_buffer_pool_mb(const struct engine_spec *s)
{
    return s->memory_mb / 2 > 5 ? s->memory_mb / 2 : 5;
}

static int64_t mdb_max_connections(const struct engine_spec *s)
{
    return engine_util_clamp(s->memory_mb / 8, 20, 500);
}

static int64_t mdb_log_file_mb(const struct engine_spec *s)
{
    return engine_util_clamp(s->memory_mb / 8, 8, 512);
}

/* 1 .. 2^32-1, stable for a member: the member id (validated to fit) with replication. */
static uint32_t mdb_server_id(const struct engine_spec *s)
{
    uint32_t h = 2166136261u;
    char port[16];
    const char *parts[] = {s->instance, "/", s->listen_addr, "/", port};

    if (s->repl)
        return (uint32_t)s->repl->member_id;
    snprintf(port, sizeof(port), "%d", s->port);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        for (const char *p = parts[i]; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 16777619u;
        }
    return h ? h : 1;
}

char *mdb_socket(const struct engine_spec *s)
{
    return xasprintf("%s/mysqld.%d.sock", s->run_dir, s->port);
}

/* ---- init, render, argv ---- */

static int mdb_init(const struct engine_spec *s, const char *data_path, struct err *e)
{
    struct engine_user u;
    struct engine_strv sv = {0};
    char *prog;

    if (engine_util_user(s->os_user, &u, e) < 0)
        return -1;
    prog = engine_util_program(s->bin_dir, MY_DEFAULT_BIN, "mariadb-install-db");
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_push(&sv, "--no-defaults");
    engine_util_strv_pushf(&sv, "--datadir=%s", data_path);
    engine_util_strv_push(&sv, "--auth-root-authentication-method=socket");
    engine_util_strv_pushf(&sv, "--auth-root-socket-user=%s", s->os_user);
    engine_util_strv_push(&sv, "--skip-test-db");
    engine_util_strv_push(&sv, "--skip-name-resolve");
    engine_util_strv_pushf(&sv, "--innodb-log-file-size=%lldM", (long long)mdb_log_file_mb(s));
    engine_util_strv_pushf(&sv, "--innodb-buffer-pool-size=%lldM",
                           (long long)mdb_buffer_pool_mb(s));
    return engine_util_run_tool(&u, engine_util_strv_steal(&sv), data_path, MY_INIT_TIMEOUT_MS,
                                "mariadb-install-db", e);
}

static int mdb_render(const struct engine_spec *s, const char *admin_secret,
                      struct engine_files *out, struct err *e)
{
    struct buf cnf = BUF_INIT;
    char *sock = mdb_socket(s);

    (void)admin_secret;
    (void)e;
    buf_printf(&cnf,
               "# MariaDB 10.11 settings of instance %s, written by the dbaas agent: every\n"
               "# configure rewrites this file (edits here are lost). Plan: %lld millicores,\n"
               "# %lld MB memory, %lld MB disk.\n\n"
               "[mariadbd]\n"
               "datadir = %s/data\n"
               "bind-address = %s\n"
               "port = %d\n"
               "socket = %s\n"
               "pid-file = %s/mariadbd.pid\n"
               "skip-name-resolve\n"
               "secure-file-priv = %s/data\n"
               "character-set-server = utf8mb4\n"
               "collation-server = utf8mb4_general_ci\n"
               "performance-schema = OFF\n\n",
               s->instance, (long long)s->cpu_millis, (long long)s->memory_mb,
               (long long)s->disk_mb, s->data_dir, s->listen_addr, s->port, sock, s->data_dir,
               s->data_dir);
    buf_printf(&cnf,
               "# Sized from the plan\n"
               "innodb-buffer-pool-size = %lldM\n"
               "innodb-log-file-size = %lldM\n"
               "max-connections = %lld\n"
               "table-open-cache = 400\n"
               "table-definition-cache = 400\n"
               "max-binlog-size = %lldM\n\n",
               (long long)mdb_buffer_pool_mb(s), (long long)mdb_log_file_mb(s),
               (long long)mdb_max_connections(s),
               (long long)engine_util_clamp(s->disk_mb / 16, 4, 1024));
    buf_printf(&cnf,
               "# Durability, binary log and GTID (replicas follow with MASTER_USE_GTID)\n"
               "innodb-flush-log-at-trx-commit = 1\n"
               "server-id = %u\n"
               "log-bin = binlog\n"
               "log-bin-index = binlog.index\n"
               "relay-log = relay-bin\n"
               "binlog-format = ROW\n"
               "sync-binlog = 1\n"
               "log-slave-updates = ON\n"
               "gtid-strict-mode = ON\n"
               "binlog-expire-logs-seconds = 259200\n",
               (unsigned)mdb_server_id(s));
    free(sock);
    out->n = 1;
    out->f[0].name = "my.cnf";
    if (s->repl) {
        mdb_render_repl(s, &cnf);
        out->n = 2;
        out->f[1].name = MY_SECRET_FILE;
        out->f[1].content = xasprintf("%s\n", s->repl->secret);
    }
    out->f[0].content = buf_steal(&cnf);
    return 0;
}

static int mdb_argv(const struct engine_spec *s, char ***argv_out, struct err *e)
{
    struct engine_strv sv = {0};
    char *prog = engine_util_program(s->bin_dir, MY_DEFAULT_SBIN, catalog_mysql.server_program);

    (void)e;
    engine_util_strv_push(&sv, prog);
    free(prog);
    /* Must be the first option. */
    engine_util_strv_pushf(&sv, "--defaults-file=%s/my.cnf", s->data_dir);
    if (s->repl && s->repl->sync && s->repl->role == ENGINE_ROLE_PRIMARY &&
        (!mdb_sync_armed(s) || !mdb_sync_master_on(s)))
        engine_util_strv_push(&sv, "--rpl-semi-sync-master-enabled=OFF");
    *argv_out = engine_util_strv_steal(&sv);
    return 0;
}

/* ---- admin sessions ---- */

static void mdb_library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

/* mysql_init() would initialise the library on first use, which is not thread-safe. */
void mdb_connect_prepare(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, mdb_library_init);
}

/* A root session over the Unix socket (unix_socket authentication). Timeouts are whole
 * seconds in Connector/C: timeout_ms is rounded up. The caller closes it. */
MYSQL *mdb_connect(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    unsigned int secs = (unsigned int)((timeout_ms + 999) / 1000);
    char *sock = mdb_socket(s);
    MYSQL *m;

    mdb_connect_prepare();
    m = mysql_init(NULL);

    if (!m) {
        err_set(e, ENGINE_E_SYSTEM, "could not connect to MariaDB: out of memory");
        goto out;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, "localhost", "root", NULL, NULL, 0, sock, 0)) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not connect to MariaDB 10.11 on \"%s\": %s", sock,
                mysql_error(m));
        mysql_close(m);
        m = NULL;
    }
out:
    free(sock);
    return m;
}

/* Run one statement; `what` names the action for messages. Results are discarded. */
int mdb_exec(MYSQL *m, const char *what, const char *sql, struct err *e)
{
    MYSQL_RES *res;

    if (mysql_real_query(m, sql, strlen(sql)) != 0)
        return err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                       "could not %s: %s", what, mysql_error(m));
    res = mysql_store_result(m);
    mysql_free_result(res);
    return 0;
}

static int mdb_probe(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    MYSQL *m = mdb_connect(s, timeout_ms, e);
    int rc;

    if (!m)
        return -1;
    rc = mdb_exec(m, "probe MariaDB", "SELECT 1", e);
    mysql_close(m);
    return rc;
}

/* Whether account user@'%' (escaped) has the hash (escaped) and as many global privileges as
 * the list in `privileges` names: 1 yes, 0 no, -1 error. */
static int mdb_account_current(MYSQL *m, const char *user, const char *hash, const char *privileges,
                               struct err *e)
{
    struct buf sql = BUF_INIT;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    long n = 1;
    int rc = -1;

    for (const char *p = privileges; *p && strncmp(p, " ON ", 4) != 0; p++)
        n += *p == ',';
    /* GRANTEE reads 'user'@'%' (quotes included) */
    buf_printf(&sql,
               "SELECT (SELECT COUNT(*) FROM mysql.user WHERE User = '%s' AND Host = '%%'"
               " AND Password = '%s'), (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES"
               " WHERE GRANTEE = CONCAT('''', '%s', '''@''%%'''))",
               user, hash, user);
    if (mysql_real_query(m, sql.data, sql.len) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                "could not look up an account: %s", mysql_error(m));
        goto out;
    }
    row = mysql_fetch_row(res);
    rc = row && row[0] && row[1] && atol(row[0]) == 1 && atol(row[1]) == n;
out:
    mysql_free_result(res);
    explicit_bzero(sql.data, sql.len);
    buf_free(&sql);
    return rc;
}

/* Create or update account name@'%' from its mysql_native_password hash, then grant it
 * `privileges` ("<list> ON <level>", a fixed text), WITH GRANT OPTION when grant_option. */
int mdb_account(MYSQL *m, const char *name, const char *native_hash, const char *privileges,
                bool grant_option, struct err *e)
{
    struct buf sql = BUF_INIT;
    char user[2 * 32 + 1], hash[2 * 41 + 1], what[128];
    int rc = -1;

    /* Account management takes no placeholders: both values were validated strictly, and
     * are escaped as string literals. */
    mysql_real_escape_string(m, user, name, (unsigned long)strlen(name));
    mysql_real_escape_string(m, hash, native_hash, (unsigned long)strlen(native_hash));
    if ((rc = mdb_account_current(m, user, hash, privileges, e)) != 0) {
        rc = rc > 0 ? 0 : -1;
        goto out;
    }
    rc = -1;
    buf_printf(&sql, "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY PASSWORD '%s'", user, hash);
    snprintf(what, sizeof(what), "create user \"%s\"", name);
    if (mdb_exec(m, what, buf_str(&sql), e) < 0)
        goto out;
    explicit_bzero(sql.data, sql.len);
    buf_reset(&sql);
    buf_printf(&sql, "ALTER USER '%s'@'%%' IDENTIFIED BY PASSWORD '%s'", user, hash);
    snprintf(what, sizeof(what), "alter user \"%s\"", name);
    if (mdb_exec(m, what, buf_str(&sql), e) < 0)
        goto out;
    explicit_bzero(sql.data, sql.len);
    buf_reset(&sql);
    buf_printf(&sql, "GRANT %s TO '%s'@'%%'%s", privileges, user,
               grant_option ? " WITH GRANT OPTION" : "");
    snprintf(what, sizeof(what), "grant privileges to user \"%s\"", name);
    if (mdb_exec(m, what, buf_str(&sql), e) < 0)
        goto out;
    rc = 0;
out:
    if (sql.data)
        explicit_bzero(sql.data, sql.len);
    explicit_bzero(hash, sizeof(hash));
    buf_free(&sql);
    return rc;
}

static int mdb_create_user(const struct engine_spec *s, struct err *e)
{
    MYSQL *m = NULL;
    MYSQL_RES *res = NULL;
    struct buf sql = BUF_INIT;
    char what[128];
    int rc = -1;

    /* A replica: the account replicates from the primary (see the NOTES). */
    if (s->repl && s->repl->role == ENGINE_ROLE_REPLICA)
        return 0;
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)))
        goto out;
    if (mdb_tenant_account(m, s->username, s->verifier, e) < 0)
        goto out;
    /* The user name is [a-z][a-z0-9_]*: a valid unquoted-safe identifier inside backquotes.
     * Only when missing: CREATE DATABASE IF NOT EXISTS is logged even when it does nothing,
     * and a logged statement of a sync primary waits for a replica (at every start). */
    snprintf(what, sizeof(what), "create database \"%s\"", s->username);
    buf_printf(&sql, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '%s'",
               s->username);
    if (mysql_real_query(m, sql.data, sql.len) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, ENGINE_E_ENGINE, "could not %s: %s", what, mysql_error(m));
        goto out;
    }
    buf_reset(&sql);
    buf_printf(&sql, "CREATE DATABASE `%s`", s->username);
    if (mysql_num_rows(res) == 0 && mdb_exec(m, what, buf_str(&sql), e) < 0)
        goto out;
    /* A new sync primary is armed here, its provisioning (the replication account too) done
     * and before the agent reports it running: a write before this is in every replica's copy
     * (a seed is served by a running primary only), and every write after it waits for a
     * replica (engine_mariadb_repl.c). */
    if (s->repl && (mdb_repl_account(m, s, e) < 0 || mdb_sync_live(m, s, e) < 0))
        goto out;
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    buf_free(&sql);
    if (m)
        mysql_close(m);
    return rc;
}

/* SET GLOBAL name = value. With restart_needed, a refusal by the server (ENGINE_E_ENGINE) is
 * left to the next start, which applies my.cnf: *restart_needed is set instead of failing;
 * without it, a refusal is an error. */
static int mdb_set_live(MYSQL *m, const char *what, const char *name, long long value,
                        bool *restart_needed, struct err *e)
{
    struct buf sql = BUF_INIT;
    struct err refused;
    int rc = 0;

    buf_printf(&sql, "SET GLOBAL %s = %lld", name, value);
    if (mdb_exec(m, what, buf_str(&sql), &refused) < 0) {
        if (restart_needed && refused.code == ENGINE_E_ENGINE)
            *restart_needed = true;
        else
            rc = (*e = refused, -1);
    }
    buf_free(&sql);
    return rc;
}

/* max_connections, the buffer pool and (since 10.11) the redo log size all change live. A
 * resize the server refuses is left to the next start, which applies my.cnf: it is reported
 * as pending rather than as an error. */
static int mdb_apply_live(const struct engine_spec *s, bool *restart_needed, struct err *e)
{
    MYSQL *m;
    int rc = -1;

    *restart_needed = false;
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)))
        return -1;
    if (mdb_set_live(m, "set max_connections", "max_connections", mdb_max_connections(s), NULL, e) <
            0 ||
        mdb_set_live(m, "resize the InnoDB buffer pool", "innodb_buffer_pool_size",
                     (long long)mdb_buffer_pool_mb(s) * 1024 * 1024, restart_needed, e) < 0 ||
        mdb_set_live(m, "resize the InnoDB redo log", "innodb_log_file_size",
                     (long long)mdb_log_file_mb(s) * 1024 * 1024, restart_needed, e) < 0)
        goto out;
    if (s->repl && mdb_sync_live(m, s, e) < 0)
        goto out;
    rc = 0;
out:
    mysql_close(m);
    return rc;
}

/* ---- start errors ---- */

static bool mdb_error_line(const char *line)
{
    const char *p = strstr(line, "[ERROR]");

    return p && strcmp(p, "[ERROR] Aborting") != 0;
}

static size_t mdb_error_skip(const char *line)
{
    const char *p = strstr(line, "[ERROR]");

    return p ? (size_t)(p - line) + strlen("[ERROR]") : 0;
}

static void mdb_start_error(const char *output, struct buf *out)
{
    lines_pick(output, mdb_error_line, mdb_error_skip, 4, out);
}

/* mysqld sets its own file creation mask from these (mysys: UMASK | 0600 for files, UMASK_DIR |
 * 0700 for directories; 0660 / 0700 without them): files 0600 as the other engines' (umask 077
 * at spawn, docs/engines.md). */
static const char *const mdb_server_env[] = {"UMASK=0600", "UMASK_DIR=0700", NULL};

const struct engine_ops engine_mariadb_ops = {
    .cat = &catalog_mysql,
    .stop_signal = SIGTERM,
    .admin_secret = false,
    .server_env = mdb_server_env,
    .init = mdb_init,
    .render = mdb_render,
    .argv = mdb_argv,
    .probe = mdb_probe,
    .create_user = mdb_create_user,
    .apply_live = mdb_apply_live,
    .start_error = mdb_start_error,
    .seed_plan = mdb_seed_plan,
    .seed_source = mdb_seed_source,
    .seed_source_unblock = mdb_seed_source_unblock,
    .seed_finish = mdb_seed_finish,
    .seed_error = NULL,
    .repl_setup = mdb_repl_setup,
    .follow = mdb_follow,
    .health = mdb_health,
    .promote = mdb_promote,
    .stop_writes = mdb_stop_writes,
    .rejoin_plan = NULL, /* follow re-points by GTID and detects a divergence */
    .rejoin_finish = NULL,
};
