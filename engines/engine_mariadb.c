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
 * - The tenant gets a fixed list of global privileges without SUPER, READ_ONLY ADMIN, FILE,
 *   SHUTDOWN, RELOAD or the replication and binlog administration privileges: it cannot
 *   bypass read_only (the HA fence), read the engine user's files, or stop the server.
 * - Live resize: max_connections, the buffer pool and the redo log size (all dynamic in
 *   10.11); nothing is normally left for a restart.
 * - server_id is derived from the instance, the listen address and the port (FNV-1a), so
 *   members of one instance differ; with replication it is the member id.
 * - Replication (spec->repl): every member writes binary logs with GTIDs (log-slave-updates,
 *   so a replica can take over) and keeps the replication password in repl.secret (0600).
 *   A primary has the account CATALOG_REPL_USER@'%' with REPLICATION SLAVE only (repl_setup,
 *   from a hash computed here). A replica is seeded with mariadb-backup: the primary streams
 *   a backup (seed_source), the replica unpacks it with mbstream and prepares it; seed_finish
 *   keeps the backup's GTID position in data/dbaas_seed.gtid, which follow sets as
 *   gtid_slave_pos the first time before CHANGE MASTER ... MASTER_USE_GTID=slave_pos (the
 *   password read from repl.secret; the server itself keeps it in data/master.info). A
 *   replica runs read_only: replication and the admin users bypass it, the tenant does not.
 *   On a replica create_user does nothing: the tenant's account replicates, and a local write
 *   would be an errant GTID that breaks gtid_strict_mode. */
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

#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/xalloc.h"

#define MY_DEFAULT_SBIN "/usr/sbin"
#define MY_DEFAULT_BIN "/usr/bin"
#define MY_ADMIN_TIMEOUT_MS 30000
#define MY_INIT_TIMEOUT_MS 300000
#define MY_SECRET_FILE "repl.secret"
#define MY_SEED_GTID "dbaas_seed.gtid" /* in the data directory, until follow used it */
#define MY_GTID_CHARS "0123456789-,"
#define MY_ER_ACCESS_DENIED 1045

/* What the tenant may do: everything a database owner needs, nothing that reaches the
 * server's files, its shutdown, the read_only fence or replication. */
#define MY_TENANT_PRIVILEGES                                                                       \
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, "                     \
    "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, "      \
    "ALTER ROUTINE, EVENT, TRIGGER, SHOW DATABASES, PROCESS, CREATE USER, DELETE HISTORY"

/* ---- sizing (see docs/engines.md) ---- */

static int64_t mdb_buffer_pool_mb(const struct engine_spec *s)
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

static char *mdb_socket(const struct engine_spec *s)
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
        const struct engine_repl *r = s->repl;
        buf_printf(&cnf,
                   "\n# Replication (HA), member %lld, %s: follow sets the source (CHANGE MASTER\n"
                   "# ... MASTER_USE_GTID=slave_pos); the password is in " MY_SECRET_FILE ".\n"
                   "slave-net-timeout = 10\n",
                   (long long)r->member_id,
                   r->role == ENGINE_ROLE_PRIMARY ? "a primary" : "a replica");
        if (r->role == ENGINE_ROLE_REPLICA)
            buf_puts(&cnf, "# Replication and the admin users bypass read-only; the tenant does "
                           "not.\n"
                           "read-only = ON\n");
        out->n = 2;
        out->f[1].name = MY_SECRET_FILE;
        out->f[1].content = xasprintf("%s\n", r->secret);
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
    *argv_out = engine_util_strv_steal(&sv);
    return 0;
}

/* ---- admin sessions ---- */

static void mdb_library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

/* mysql_init() would initialise the library on first use, which is not thread-safe. */
static void mdb_connect_prepare(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, mdb_library_init);
}

/* A root session over the Unix socket (unix_socket authentication). Timeouts are whole
 * seconds in Connector/C: timeout_ms is rounded up. The caller closes it. */
static MYSQL *mdb_connect(const struct engine_spec *s, int timeout_ms, struct err *e)
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
static int mdb_exec(MYSQL *m, const char *what, const char *sql, struct err *e)
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

/* Create or update account name@'%' from its mysql_native_password hash, then grant it
 * `privileges` ("<list> ON <level>", a fixed text), WITH GRANT OPTION when grant_option. */
static int mdb_account(MYSQL *m, const char *name, const char *native_hash, const char *privileges,
                       bool grant_option, struct err *e)
{
    struct buf sql = BUF_INIT;
    char user[2 * 32 + 1], hash[2 * 41 + 1], what[128];
    int rc = -1;

    /* Account management takes no placeholders: both values were validated strictly, and
     * are escaped as string literals. */
    mysql_real_escape_string(m, user, name, (unsigned long)strlen(name));
    mysql_real_escape_string(m, hash, native_hash, (unsigned long)strlen(native_hash));
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
    struct buf sql = BUF_INIT;
    char what[128];
    int rc = -1;

    /* A replica: the account replicates from the primary (see the NOTES). */
    if (s->repl && s->repl->role == ENGINE_ROLE_REPLICA)
        return 0;
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)))
        goto out;
    if (mdb_account(m, s->username, s->verifier, MY_TENANT_PRIVILEGES " ON *.*", true, e) < 0)
        goto out;
    /* The user name is [a-z][a-z0-9_]*: a valid unquoted-safe identifier inside backquotes. */
    buf_printf(&sql, "CREATE DATABASE IF NOT EXISTS `%s`", s->username);
    snprintf(what, sizeof(what), "create database \"%s\"", s->username);
    if (mdb_exec(m, what, buf_str(&sql), e) < 0)
        goto out;
    rc = 0;
out:
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
    rc = 0;
out:
    mysql_close(m);
    return rc;
}

/* ---- replication: seeding ---- */

/* On the primary's host: a backup of the running server streamed to stdout (xbstream), taken
 * by the OS user over the admin socket (its unix_socket account has what mariadb-backup
 * needs). Its log goes to stderr: the caller keeps it out of the stream. Temporary files go
 * to the member directory; the target directory is only a name in stream mode. */
static int mdb_seed_source(const struct engine_spec *s, char ***argv_out, struct err *e)
{
    struct engine_strv sv = {0};
    char *prog = engine_util_program(s->bin_dir, MY_DEFAULT_BIN, "mariadb-backup");
    char *sock = mdb_socket(s);

    (void)e;
    engine_util_strv_push(&sv, prog);
    engine_util_strv_pushf(&sv, "--defaults-file=%s/my.cnf", s->data_dir); /* must be first */
    engine_util_strv_push(&sv, "--backup");
    engine_util_strv_push(&sv, "--stream=xbstream");
    engine_util_strv_pushf(&sv, "--target-dir=%s/seed.tmp", s->data_dir);
    engine_util_strv_pushf(&sv, "--tmpdir=%s", s->data_dir);
    engine_util_strv_pushf(&sv, "--user=%s", s->os_user);
    engine_util_strv_pushf(&sv, "--socket=%s", sock);
    free(sock);
    free(prog);
    *argv_out = engine_util_strv_steal(&sv);
    return 0;
}

/* Unpack the primary's stream into data_path, then prepare it (crash recovery of the copy)
 * within the plan's buffer pool. */
static int mdb_seed_plan(const struct engine_spec *s, const char *data_path,
                         struct engine_seed_plan *out, struct err *e)
{
    struct engine_strv sv = {0};
    char *prog;

    (void)e;
    prog = engine_util_program(s->bin_dir, MY_DEFAULT_BIN, "mbstream");
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_push(&sv, "-x");
    engine_util_strv_push(&sv, "-C");
    engine_util_strv_push(&sv, data_path);
    out->step[0].argv = engine_util_strv_steal(&sv);
    out->step[0].stdin_stream = true;
    out->step[0].what = "mbstream";
    out->n = 1;

    prog = engine_util_program(s->bin_dir, MY_DEFAULT_BIN, "mariadb-backup");
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_push(&sv, "--no-defaults"); /* the copy's backup-my.cnf has its settings */
    engine_util_strv_push(&sv, "--prepare");
    engine_util_strv_pushf(&sv, "--target-dir=%s", data_path);
    engine_util_strv_pushf(&sv, "--use-memory=%lldM", (long long)mdb_buffer_pool_mb(s));
    out->step[1].argv = engine_util_strv_steal(&sv);
    out->step[1].stdin_stream = false;
    out->step[1].what = "mariadb-backup --prepare";
    out->n = 2;
    return 0;
}

/* The backup's GTID position ("<binlog file>\t<position>\t<GTID list>"), kept for follow. */
static int mdb_seed_finish(const struct engine_spec *s, const char *data_path, struct err *e)
{
    static const char *const names[] = {"mariadb_backup_binlog_info", "xtrabackup_binlog_info"};
    struct engine_user u;
    char *path = NULL, *info = NULL, *gtid = NULL, *p;
    int rc = -1;

    if (engine_util_user(s->os_user, &u, e) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !info; i++) {
        free(path);
        path = engine_util_path(data_path, names[i]);
        info = fileio_read(path, 4096, FILEIO_NOFOLLOW, NULL);
    }
    if (!info) {
        err_set(e, ENGINE_E_ENGINE,
                "the backup in \"%s\" has no binary log position (mariadb_backup_binlog_info)",
                data_path);
        goto out;
    }
    info[strcspn(info, "\r\n")] = '\0';
    p = strchr(info, '\t');
    p = p ? strchr(p + 1, '\t') : NULL;
    gtid = xstrdup(p ? p + 1 : "");
    if (*gtid && !engine_util_charset(gtid, 1024, MY_GTID_CHARS)) {
        err_set(e, ENGINE_E_ENGINE, "invalid GTID position \"%.100s\" in \"%s\"", gtid, path);
        goto out;
    }
    free(path);
    path = engine_util_path(data_path, MY_SEED_GTID);
    rc = engine_util_write_file(path, gtid, &u, e);
out:
    free(gtid);
    free(info);
    free(path);
    return rc;
}

/* ---- replication: the account, following, health ---- */

static int mdb_repl_setup(const struct engine_spec *s, struct err *e)
{
    MYSQL *m = NULL;
    char *hash = crypto_mysql_native_hash(s->repl->secret);
    int rc = -1;

    if (!hash) {
        err_set(e, ENGINE_E_SYSTEM, "could not compute the hash of user \"%s\"", s->repl->user);
        goto out;
    }
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)))
        goto out;
    rc = mdb_account(m, s->repl->user, hash, "REPLICATION SLAVE ON *.*", false, e);
out:
    engine_util_secret_free(hash);
    if (m)
        mysql_close(m);
    return rc;
}

/* What SHOW SLAVE STATUS says (the default connection). */
struct mdb_slave {
    bool configured; /* a source is set */
    char host[64];   /* Master_Host */
    int port;        /* Master_Port */
    char user[64];   /* Master_User */
    bool io_yes, sql_yes;
    bool io_connecting;  /* Slave_IO_Running = Connecting */
    int io_errno;        /* Last_IO_Errno */
    char read_file[128]; /* Master_Log_File, Read_Master_Log_Pos: received */
    int64_t read_pos;
    char exec_file[128]; /* Relay_Master_Log_File, Exec_Master_Log_Pos: applied */
    int64_t exec_pos;
    double behind; /* Seconds_Behind_Master; -1 NULL */
};

/* Fill st from one result of SHOW SLAVE STATUS (zero rows: not configured). */
static void mdb_slave_parse(MYSQL_RES *res, struct mdb_slave *st)
{
    MYSQL_ROW row = mysql_fetch_row(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    unsigned int n = mysql_num_fields(res);

    memset(st, 0, sizeof(*st));
    st->read_pos = st->exec_pos = -1;
    st->behind = -1;
    for (unsigned int i = 0; row && i < n; i++) {
        const char *name = f[i].name, *v = row[i];
        if (!v)
            continue;
        if (strcmp(name, "Master_Host") == 0) {
            snprintf(st->host, sizeof(st->host), "%s", v);
            st->configured = *v != '\0';
        } else if (strcmp(name, "Master_Port") == 0)
            st->port = atoi(v);
        else if (strcmp(name, "Master_User") == 0)
            snprintf(st->user, sizeof(st->user), "%s", v);
        else if (strcmp(name, "Slave_IO_Running") == 0) {
            st->io_yes = strcmp(v, "Yes") == 0;
            st->io_connecting = strcmp(v, "Connecting") == 0;
        } else if (strcmp(name, "Slave_SQL_Running") == 0)
            st->sql_yes = strcmp(v, "Yes") == 0;
        else if (strcmp(name, "Last_IO_Errno") == 0)
            st->io_errno = atoi(v);
        else if (strcmp(name, "Master_Log_File") == 0)
            snprintf(st->read_file, sizeof(st->read_file), "%s", v);
        else if (strcmp(name, "Read_Master_Log_Pos") == 0)
            st->read_pos = strtoll(v, NULL, 10);
        else if (strcmp(name, "Relay_Master_Log_File") == 0)
            snprintf(st->exec_file, sizeof(st->exec_file), "%s", v);
        else if (strcmp(name, "Exec_Master_Log_Pos") == 0)
            st->exec_pos = strtoll(v, NULL, 10);
        else if (strcmp(name, "Seconds_Behind_Master") == 0)
            st->behind = strtod(v, NULL);
    }
}

static int mdb_slave_status(MYSQL *m, struct mdb_slave *st, struct err *e)
{
    MYSQL_RES *res;

    if (mysql_real_query(m, "SHOW SLAVE STATUS", strlen("SHOW SLAVE STATUS")) != 0 ||
        !(res = mysql_store_result(m)))
        return err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                       "could not read the replica status: %s", mysql_error(m));
    mdb_slave_parse(res, st);
    mysql_free_result(res);
    return 0;
}

/* Replicating from that upstream already, or only waiting for it to come back. */
static bool mdb_following(const struct mdb_slave *st, const struct engine_repl *r)
{
    return st->configured && strcmp(st->host, r->upstream.host) == 0 &&
           st->port == r->upstream.port && strcmp(st->user, r->user) == 0 && st->sql_yes &&
           (st->io_yes || (st->io_connecting && st->io_errno != MY_ER_ACCESS_DENIED));
}

/* CHANGE MASTER with the password from repl.secret (a statement that is neither logged nor
 * binlogged) and START SLAVE; the first time, the seed's GTID position before that. */
static int mdb_follow(const struct engine_spec *s, struct err *e)
{
    const struct engine_repl *r = s->repl;
    MYSQL *m = NULL;
    struct mdb_slave st;
    struct buf sql = BUF_INIT;
    char *secret = NULL, *esc = NULL, *seed_path = NULL, *gtid = NULL, *path = NULL, what[160];
    int rc = -1;

    seed_path = xasprintf("%s/data/" MY_SEED_GTID, s->data_dir);
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)) || mdb_slave_status(m, &st, e) < 0)
        goto out;
    snprintf(what, sizeof(what), "follow %s:%d", r->upstream.host, r->upstream.port);
    if (mdb_following(&st, r)) {
        rc = 0;
        goto done;
    }
    path = engine_util_path(s->data_dir, MY_SECRET_FILE);
    if (!(secret = engine_util_read_secret(path, e)))
        goto out;
    if (!st.configured) {
        /* First time: the position the seed's backup was taken at. */
        gtid = fileio_read(seed_path, 4096, FILEIO_NOFOLLOW, NULL);
        if (gtid && *gtid && !engine_util_charset(gtid, 4096, MY_GTID_CHARS)) {
            err_set(e, ENGINE_E_ENGINE, "invalid GTID position in \"%s\"", seed_path);
            goto out;
        }
        if (gtid) {
            buf_printf(&sql, "SET GLOBAL gtid_slave_pos = '%s'", gtid);
            if (mdb_exec(m, what, buf_str(&sql), e) < 0)
                goto out;
        }
    } else if (mdb_exec(m, what, "STOP SLAVE", e) < 0) {
        goto out;
    }
    esc = xmalloc(2 * strlen(secret) + 1);
    mysql_real_escape_string(m, esc, secret, (unsigned long)strlen(secret));
    buf_reset(&sql);
    buf_printf(&sql,
               "CHANGE MASTER TO MASTER_HOST = '%s', MASTER_PORT = %d, MASTER_USER = '%s', "
               "MASTER_PASSWORD = '%s', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
               r->upstream.host, r->upstream.port, r->user, esc);
    rc = mdb_exec(m, what, buf_str(&sql), e);
    explicit_bzero(sql.data, sql.len);
    if (rc < 0 || (rc = mdb_exec(m, what, "START SLAVE", e)) < 0)
        goto out;
done:
    /* Used: a later RESET SLAVE ALL must never bring the old position back. */
    if (unlink(seed_path) < 0 && errno != ENOENT) {
        rc = err_set(e, ENGINE_E_SYSTEM, "could not remove \"%s\": %s", seed_path, strerror(errno));
        goto out;
    }
out:
    engine_util_secret_free(esc);
    engine_util_secret_free(secret);
    buf_free(&sql);
    free(gtid);
    free(path);
    free(seed_path);
    if (m)
        mysql_close(m);
    return rc;
}

/* Health runs on Connector/C's non-blocking API, so that one deadline in milliseconds bounds
 * the whole probe even when the server is stopped (its blocking timeouts are whole seconds,
 * per read). */

/* Wait for what the library asked for (MYSQL_WAIT_*) until the deadline: the flags to pass
 * on, or -1 at the deadline. */
static int mdb_nb_wait(MYSQL *m, int status, int64_t deadline)
{
    struct pollfd pfd = {mysql_get_socket(m), 0, 0};
    int64_t left;
    int r, out = 0;

    if (status & MYSQL_WAIT_READ)
        pfd.events |= POLLIN;
    if (status & MYSQL_WAIT_WRITE)
        pfd.events |= POLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        pfd.events |= POLLPRI;
    for (;;) {
        left = deadline - clock_now_ms();
        if (left <= 0)
            return -1;
        if (status & MYSQL_WAIT_TIMEOUT && mysql_get_timeout_value_ms(m) < left)
            left = mysql_get_timeout_value_ms(m);
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) /* our deadline, or the library's own timeout first */
            return clock_now_ms() >= deadline ? -1 : MYSQL_WAIT_TIMEOUT;
        break;
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        out |= MYSQL_WAIT_READ;
    if (pfd.revents & POLLOUT)
        out |= MYSQL_WAIT_WRITE;
    if (pfd.revents & POLLPRI)
        out |= MYSQL_WAIT_EXCEPT;
    return out;
}

/* After a deadline passed in the middle of a call: shut the socket, so that mysql_close()
 * cannot block on a stopped server (a closed connection's goodbye keeps the server's log
 * quiet otherwise). */
static void mdb_nb_abort(MYSQL *m)
{
    if (mysql_get_socket(m) >= 0)
        shutdown(mysql_get_socket(m), SHUT_RDWR);
}

static MYSQL *mdb_nb_connect(const struct engine_spec *s, int64_t deadline, struct err *e)
{
    char *sock = mdb_socket(s);
    MYSQL *m, *ret = NULL;
    int status;

    mdb_connect_prepare();
    if (!(m = mysql_init(NULL))) {
        err_set(e, ENGINE_E_SYSTEM, "could not connect to MariaDB: out of memory");
        goto out;
    }
    mysql_options(m, MYSQL_OPT_NONBLOCK, 0);
    status = mysql_real_connect_start(&ret, m, "localhost", "root", NULL, NULL, 0, sock, 0);
    while (status && (status = mdb_nb_wait(m, status, deadline)) >= 0)
        status = mysql_real_connect_cont(&ret, m, status);
    if (!ret) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not connect to MariaDB 10.11 on \"%s\": %s", sock,
                status < 0 ? "timed out" : mysql_error(m));
        if (status < 0)
            mdb_nb_abort(m);
        mysql_close(m);
        m = NULL;
    }
out:
    free(sock);
    return m;
}

/* One statement and its result (the caller frees it), before the deadline. */
static MYSQL_RES *mdb_nb_query(MYSQL *m, const char *sql, int64_t deadline, struct err *e)
{
    MYSQL_RES *res = NULL;
    int status, ret = 1;

    status = mysql_real_query_start(&ret, m, sql, (unsigned long)strlen(sql));
    while (status && (status = mdb_nb_wait(m, status, deadline)) >= 0)
        status = mysql_real_query_cont(&ret, m, status);
    if (status == 0 && ret == 0) {
        status = mysql_store_result_start(&res, m);
        while (status && (status = mdb_nb_wait(m, status, deadline)) >= 0)
            status = mysql_store_result_cont(&res, m, status);
    }
    if (status < 0) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not probe MariaDB (%s): timed out", sql);
        mdb_nb_abort(m);
    } else if (!res)
        err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                "could not probe MariaDB (%s): %s", sql, mysql_error(m));
    return status < 0 ? NULL : res;
}

/* A binary log coordinate as one ordered number: the file's sequence number in the high bits
 * (files are at most 1 GiB), the byte offset in the low 32. -1 when unknown. */
static int64_t mdb_coord(const char *file, int64_t pos)
{
    const char *dot = file ? strrchr(file, '.') : NULL;
    char *end;
    long long seq;

    if (!dot || pos < 0)
        return -1;
    seq = strtoll(dot + 1, &end, 10);
    if (end == dot + 1 || *end || seq < 0 || seq > INT32_MAX)
        return -1;
    return ((int64_t)seq << 32) + pos;
}

/* read_only, GTID positions, the source if any, else this server's own binary log. */
static int mdb_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out,
                      struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms, binlog_size, done, got;
    MYSQL *m = mdb_nb_connect(s, deadline, e);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    struct mdb_slave st;
    char slave_pos[sizeof(out->position)];
    bool read_only;
    int rc = -1;

    if (!m)
        goto out;
    res = mdb_nb_query(m,
                       "SELECT @@global.read_only, @@global.max_binlog_size,"
                       " @@global.gtid_current_pos, @@global.gtid_slave_pos",
                       deadline, e);
    if (!res || !(row = mysql_fetch_row(res)))
        goto out;
    out->alive = true;
    read_only = row[0] && strcmp(row[0], "0") != 0;
    out->writable = !read_only;
    binlog_size = row[1] ? strtoll(row[1], NULL, 10) : 0;
    snprintf(out->position, sizeof(out->position), "%s", row[2] ? row[2] : "");
    snprintf(slave_pos, sizeof(slave_pos), "%s", row[3] ? row[3] : "");
    mysql_free_result(res);
    if (!(res = mdb_nb_query(m, "SHOW SLAVE STATUS", deadline, e)))
        goto out;
    mdb_slave_parse(res, &st);
    mysql_free_result(res);
    res = NULL;
    out->role = st.configured || read_only ? ENGINE_ROLE_REPLICA : ENGINE_ROLE_PRIMARY;
    if (st.configured) {
        /* Coordinates in the primary's binary log: comparable with its own position. */
        snprintf(out->position, sizeof(out->position), "%s", slave_pos);
        done = mdb_coord(st.exec_file, st.exec_pos);
        got = mdb_coord(st.read_file, st.read_pos);
        out->position_bytes = done;
        out->upstream_up = st.io_yes && st.sql_yes;
        if (done >= 0 && got >= 0)
            out->lag_bytes = ((got >> 32) - (done >> 32)) * binlog_size + (got & 0xffffffff) -
                             (done & 0xffffffff);
        if (out->lag_bytes < 0 && done >= 0 && got >= 0)
            out->lag_bytes = 0;
        out->lag_seconds = st.behind;
    } else if (read_only) {
        /* A replica that does not follow yet: its own binary log is not comparable. */
        out->upstream_up = 0;
    } else {
        if (!(res = mdb_nb_query(m, "SHOW MASTER STATUS", deadline, e)))
            goto out;
        if ((row = mysql_fetch_row(res)) != NULL)
            out->position_bytes = mdb_coord(row[0], row[1] ? strtoll(row[1], NULL, 10) : -1);
    }
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    if (m)
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

const struct engine_ops engine_mariadb_ops = {
    .cat = &catalog_mysql,
    .stop_signal = SIGTERM,
    .admin_secret = false,
    .init = mdb_init,
    .render = mdb_render,
    .argv = mdb_argv,
    .probe = mdb_probe,
    .create_user = mdb_create_user,
    .apply_live = mdb_apply_live,
    .start_error = mdb_start_error,
    .seed_plan = mdb_seed_plan,
    .seed_source = mdb_seed_source,
    .seed_finish = mdb_seed_finish,
    .seed_error = NULL,
    .repl_setup = mdb_repl_setup,
    .follow = mdb_follow,
    .health = mdb_health,
    .promote = NULL, /* failover: engines/ helper implements */
};
