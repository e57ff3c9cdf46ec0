/* MariaDB 10.11 driver, replication and failover: the settings of each role (semi-synchronous
 * replication included), seeding with mariadb-backup, the replication account, following by
 * GTID with divergence detection, health, promotion and the switchover fence.
 *
 * NOTES
 * - Every member writes binary logs with GTIDs (log-slave-updates, so a replica can take over)
 *   and keeps the replication password in repl.secret (0600). A primary has the account
 *   CATALOG_REPL_USER@'%' with REPLICATION SLAVE only (repl_setup, from a hash computed here).
 * - A replica is seeded with mariadb-backup: the primary streams a backup (seed_source), the
 *   replica unpacks it with mbstream and prepares it; seed_finish keeps the backup's GTID
 *   position in data/dbaas_seed.gtid, which follow sets as gtid_slave_pos the first time
 *   before CHANGE MASTER ... MASTER_USE_GTID=slave_pos (the password read from repl.secret;
 *   the server itself keeps it in data/master.info). A replica runs read_only: replication and
 *   the admin users bypass it, the tenant does not. On a replica create_user does nothing: the
 *   tenant's account replicates, and a local write would be an errant GTID that breaks
 *   gtid_strict_mode.
 * - Failover: promote applies what the replica received, then STOP SLAVE, RESET SLAVE ALL,
 *   read_only OFF. A former primary rejoins with no steps: it starts read-only as a replica,
 *   and follow starts from its own gtid_binlog_pos; when it holds transactions the new primary
 *   lacks (the positions say so, or the primary refuses the position with error 1236) follow
 *   answers ENGINE_E_DIVERGED and the caller seeds it afresh.
 * - Sync (repl->sync): semi-synchronous replication, built into 10.11: AFTER_SYNC, no replica no
 *   acknowledgement (wait_no_slave), and the largest timeout the server takes (about 584
 *   million years), so it never falls back to asynchronous in practice. Every member renders
 *   the master side's settings; only a primary with replicas switches it on (with none,
 *   nobody is waited for, like PostgreSQL's empty synchronous_standby_names). A new sync
 *   primary would wait for a replica during its own provisioning (the tenant's account is a
 *   write), and no replica can be seeded from it before it runs: until DIR/sync.armed exists
 *   it starts with the master side off (mdb_argv), and create_user turns it on, and writes
 *   the marker, once the account is there, before the agent reports the member running. So
 *   every tenant write either is in the copy every replica is seeded from (which a running
 *   primary only serves) or waits for a replica's acknowledgement; the copy's BACKUP STAGE
 *   BLOCK_COMMIT and such waits are untied by mdb_seed_source_unblock(). A promoted replica
 *   turns it on at once and writes the marker. */
#include "engines/engine.h"

#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engines/engine_mariadb.h"
#include "engines/answers.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

#define MY_SEED_GTID "dbaas_seed.gtid" /* in the data directory, until follow used it */
#define MY_GTID_CHARS "0123456789-,"
#define MY_GTID_MAX 1024
#define MY_ER_ACCESS_DENIED 1045
#define MY_ER_NO_SUCH_THREAD 1094
#define MY_ER_MASTER_FATAL 1236 /* the primary refused our position: not in its binary log */
#define MY_PEER_TIMEOUT_S 5     /* asking the primary for its position */
#define MY_FOLLOW_CHECK_MS 5000 /* after START SLAVE: the primary accepts or refuses us */
#define MY_APPLY_WAIT_S "25"    /* promote: apply the relay log (below MY_ADMIN_TIMEOUT_MS) */

/* ---- render, live settings ---- */

void mdb_render_repl(const struct engine_spec *s, struct buf *cnf)
{
    const struct engine_repl *r = s->repl;
    bool primary = r->role == ENGINE_ROLE_PRIMARY;

    buf_printf(cnf,
               "\n# Replication (HA), member %lld, %s: follow sets the source (CHANGE MASTER\n"
               "# ... MASTER_USE_GTID=slave_pos); the password is in " MY_SECRET_FILE ".\n"
               "slave-net-timeout = 10\n",
               (long long)r->member_id, primary ? "a primary" : "a replica");
    if (!primary)
        buf_puts(cnf, "# Replication and the admin users bypass read-only; the tenant does "
                      "not.\n"
                      "read-only = ON\n");
    buf_printf(cnf,
               "# Semi-synchronous replication%s: a commit is acknowledged once a replica\n"
               "# has it in its relay log; no fallback to asynchronous (no replica: wait)\n"
               "rpl-semi-sync-master-enabled = %s\n"
               "rpl-semi-sync-slave-enabled = %s\n"
               "rpl-semi-sync-master-wait-point = AFTER_SYNC\n"
               "rpl-semi-sync-master-wait-no-slave = ON\n"
               "rpl-semi-sync-master-timeout = " MY_SEMI_SYNC_TIMEOUT "\n",
               r->sync ? "" : " (off)", mdb_sync_master_on(s) ? "ON" : "OFF",
               r->sync ? "ON" : "OFF");
}

/* ---- replication: seeding ---- */

/* On the primary's host: a backup of the running server streamed to stdout (xbstream), taken
 * by the OS user over the admin socket (its unix_socket account has what mariadb-backup
 * needs). Its log goes to stderr: the caller keeps it out of the stream. Temporary files go
 * to the member directory; the target directory is only a name in stream mode. */
int mdb_seed_source(const struct engine_spec *s, char ***argv_out, struct err *e)
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
int mdb_seed_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                  struct err *e)
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
int mdb_seed_finish(const struct engine_spec *s, const char *data_path, struct err *e)
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

int mdb_repl_account(MYSQL *m, const struct engine_spec *s, struct err *e)
{
    char *hash = crypto_mysql_native_hash(s->repl->secret);
    char user[2 * 80 + 1];
    int rc;

    if (!hash)
        return err_set(e, ENGINE_E_SYSTEM, "could not compute the hash of user \"%s\"",
                       s->repl->user);
    rc = mdb_account(m, s->repl->user, hash, "REPLICATION SLAVE ON *.*", false, e);
    if (rc == 0) { /* a user name has at most 80 characters (mdb_account refused longer) */
        mysql_real_escape_string(m, user, s->repl->user, (unsigned long)strnlen(s->repl->user, 80));
        rc = mdb_shadow_rows(m, user, e);
    }
    engine_util_secret_free(hash);
    return rc;
}

int mdb_repl_setup(const struct engine_spec *s, struct err *e)
{
    MYSQL *m = NULL;
    int rc = -1;

    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)))
        goto out;
    rc = mdb_repl_account(m, s, e);
    if (rc == 0)
        rc = mdb_sync_live(m, s, e);
out:
    if (m)
        mysql_close(m);
    return rc;
}

/* Fill st from one result of SHOW SLAVE STATUS (zero rows: not configured). The columns are
 * read by answer_slave_column(), which tests/fuzz/fuzz_engine_answer.c feeds anything. */
static void mdb_slave_parse(MYSQL_RES *res, struct answer_slave *st)
{
    MYSQL_ROW row = mysql_fetch_row(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    unsigned int n = mysql_num_fields(res);

    answer_slave_init(st);
    for (unsigned int i = 0; row && i < n; i++)
        answer_slave_column(st, f[i].name, row[i]);
}

int mdb_slave_status(MYSQL *m, struct answer_slave *st, struct err *e)
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
static bool mdb_following(const struct answer_slave *st, const struct engine_repl *r)
{
    return st->configured && strcmp(st->host, r->upstream.host) == 0 &&
           st->port == r->upstream.port && strcmp(st->user, r->user) == 0 && st->sql_yes &&
           (st->io_yes || (st->io_connecting && st->io_errno != MY_ER_ACCESS_DENIED));
}

/* ---- following, divergence ---- */

/* One string value of `sql` into out (a GTID list, checked): 0 / -1. */
static int mdb_gtid_query(MYSQL *m, const char *what, const char *sql, char *out, size_t n,
                          struct err *e)
{
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;

    if (mysql_real_query(m, sql, strlen(sql)) != 0 || !(res = mysql_store_result(m)))
        return err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                       "could not %s: %s", what, mysql_error(m));
    row = mysql_fetch_row(res);
    snprintf(out, n, "%s", row && row[0] ? row[0] : "");
    mysql_free_result(res);
    if (*out && !engine_util_charset(out, n - 1, MY_GTID_CHARS))
        return err_set(e, ENGINE_E_ENGINE, "could not %s: invalid GTID position \"%.100s\"", what,
                       out);
    return 0;
}

/* The upstream's gtid_binlog_pos, asked over TCP as the replication user (it may read server
 * variables and nothing else): 1 read into out, 0 when it could not be asked (unreachable: the
 * I/O thread checks later). */
static int mdb_upstream_pos(const struct engine_repl *r, const char *secret, char *out, size_t n)
{
    unsigned int secs = MY_PEER_TIMEOUT_S;
    struct err ignored;
    MYSQL *m;
    int rc = 0;

    mdb_connect_prepare();
    if (!(m = mysql_init(NULL)))
        return 0;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    if (mysql_real_connect(m, r->upstream.host, r->user, secret, NULL,
                           (unsigned int)r->upstream.port, NULL, 0) &&
        mdb_gtid_query(m, "read the primary's position", "SELECT @@global.gtid_binlog_pos", out, n,
                       &ignored) == 0)
        rc = 1;
    mysql_close(m);
    return rc;
}

static int mdb_diverged(const struct engine_spec *s, const char *why, struct err *e)
{
    return err_set(
        e, ENGINE_E_DIVERGED,
        "cannot follow %s:%d: MariaDB in \"%s\" has transactions the primary lacks (%s); "
        "it needs a new seed",
        s->repl->upstream.host, s->repl->upstream.port, s->data_dir, why);
}

/* After START SLAVE: wait (deadline) until the primary accepted our position (the I/O thread
 * runs and received its first event) or refused it (error 1236: not in its binary log, i.e.
 * diverged). A primary that does not answer yet is no error: the next follow checks again. */
static int mdb_follow_check(MYSQL *m, const struct engine_spec *s, struct err *e)
{
    int64_t deadline = clock_now_ms() + MY_FOLLOW_CHECK_MS;
    struct answer_slave st;

    for (;;) {
        if (mdb_slave_status(m, &st, e) < 0)
            return -1;
        if (st.io_errno == MY_ER_MASTER_FATAL) {
            struct err ignored;
            mdb_exec(m, "stop the replica", "STOP SLAVE", &ignored);
            return mdb_diverged(s, st.io_error, e);
        }
        if ((st.io_yes && st.read_file[0]) || clock_now_ms() > deadline)
            return 0;
        clock_sleep_ms(20);
    }
}

/* Replicate from repl->upstream by GTID. Already following it: only the semi-sync switch.
 * Otherwise the starting position first: the seed's (a new replica), or, when no source was
 * ever set (a former primary, or one promoted before), its own binary log position; then the
 * divergence check against the primary's position, CHANGE MASTER with the password from
 * repl.secret (a statement that is neither logged nor binlogged) and START SLAVE. The I/O
 * thread's error 1236 (our position is not in the primary's binary log) is a divergence too,
 * whenever it is seen. */
int mdb_follow(const struct engine_spec *s, struct err *e)
{
    const struct engine_repl *r = s->repl;
    MYSQL *m = NULL;
    struct answer_slave st;
    struct buf sql = BUF_INIT;
    char *secret = NULL, *esc = NULL, *seed_path = NULL, *gtid = NULL, *path = NULL, what[160];
    char own[MY_GTID_MAX], theirs[MY_GTID_MAX];
    bool same;
    int rc = -1;

    seed_path = xasprintf("%s/data/" MY_SEED_GTID, s->data_dir);
    if (!(m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e)) || mdb_slave_status(m, &st, e) < 0)
        goto out;
    snprintf(what, sizeof(what), "follow %s:%d", r->upstream.host, r->upstream.port);
    same = st.configured && strcmp(st.host, r->upstream.host) == 0 && st.port == r->upstream.port &&
           strcmp(st.user, r->user) == 0;
    if (same && st.io_errno == MY_ER_MASTER_FATAL) {
        rc = mdb_diverged(s, st.io_error, e);
        goto out;
    }
    if (mdb_following(&st, r)) {
        rc = mdb_sync_live(m, s, e);
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
        if (gtid)
            buf_printf(&sql, "SET GLOBAL gtid_slave_pos = '%s'", gtid);
        else if (mdb_gtid_query(m, what, "SELECT @@global.gtid_binlog_pos", own, sizeof(own), e) <
                 0)
            goto out;
        else if (*own) /* what this member wrote itself, or applied and logged */
            buf_puts(&sql, "SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos");
        if (sql.len && mdb_exec(m, what, buf_str(&sql), e) < 0)
            goto out;
    } else if (mdb_exec(m, what, "STOP SLAVE", e) < 0) {
        goto out;
    }
    if (mdb_gtid_query(m, what, "SELECT @@global.gtid_slave_pos", own, sizeof(own), e) < 0)
        goto out;
    if (mdb_upstream_pos(r, secret, theirs, sizeof(theirs)) == 1 &&
        answer_gtid_ahead(own, theirs)) {
        char why[2 * MY_GTID_MAX + 64];
        snprintf(why, sizeof(why), "its position %.200s, the primary's %.200s", own, theirs);
        rc = mdb_diverged(s, why, e);
        goto out;
    }
    /* The semi-sync switch is read when the I/O thread connects. */
    if (mdb_sync_live(m, s, e) < 0)
        goto out;
    esc = xmalloc(2 * strlen(secret) + 1);
    mysql_real_escape_string(m, esc, secret, (unsigned long)strlen(secret));
    buf_reset(&sql);
    buf_printf(&sql,
               "CHANGE MASTER TO MASTER_HOST = '%s', MASTER_PORT = %d, MASTER_USER = '%s', "
               "MASTER_PASSWORD = '%s', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
               r->upstream.host, r->upstream.port, r->user, esc);
    rc = mdb_exec(m, what, buf_str(&sql), e);
    explicit_bzero(sql.data, sql.len);
    if (rc < 0 || (rc = mdb_exec(m, what, "START SLAVE", e)) < 0 ||
        (rc = mdb_follow_check(m, s, e)) < 0)
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

/* ---- failover ---- */

/* A replica stops replicating once it applied everything it received (relay log included: in
 * sync mode a write the old primary acknowledged may be only there), forgets its source and
 * takes writes, with the primary's semi-sync settings. Idempotent. */
int mdb_promote(const struct engine_spec *s, struct err *e)
{
    MYSQL *m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    struct answer_slave st;
    struct buf sql = BUF_INIT;
    const char *what = "promote the replica";
    int rc = -1;

    if (!m || mdb_slave_status(m, &st, e) < 0)
        goto out;
    if (st.configured) {
        if (mdb_exec(m, what, "STOP SLAVE IO_THREAD", e) < 0 || mdb_slave_status(m, &st, e) < 0)
            goto out;
        if (st.gtid_io[0]) {
            if (!engine_util_charset(st.gtid_io, sizeof(st.gtid_io) - 1, MY_GTID_CHARS)) {
                err_set(e, ENGINE_E_ENGINE, "could not %s: invalid received position \"%.100s\"",
                        what, st.gtid_io);
                goto out;
            }
            buf_printf(&sql, "SELECT MASTER_GTID_WAIT('%s', " MY_APPLY_WAIT_S ")", st.gtid_io);
            if (mysql_real_query(m, sql.data, sql.len) != 0 || !(res = mysql_store_result(m))) {
                err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what, mysql_error(m));
                goto out;
            }
            row = mysql_fetch_row(res);
            if (!row || !row[0] || strcmp(row[0], "0") != 0) {
                err_set(e, ENGINE_E_UNAVAILABLE,
                        "could not %s: it did not apply what it received (up to %s) within %s s%s",
                        what, st.gtid_io, MY_APPLY_WAIT_S,
                        st.sql_yes ? "" : " (its SQL thread does not run)");
                goto out;
            }
        }
        if (mdb_exec(m, what, "STOP SLAVE", e) < 0 || mdb_exec(m, what, "RESET SLAVE ALL", e) < 0)
            goto out;
    }
    if (mdb_sync_live(m, s, e) < 0 || mdb_exec(m, what, "SET GLOBAL read_only = OFF", e) < 0)
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

/* Switchover: refuse writes (read_only), then end every session that could still hold an
 * open transaction, except ours, the admin accounts' (over the socket), the server's own
 * threads and the replicas' binlog dumps. read_only binds every account without SUPER or
 * READ_ONLY ADMIN: when one has either (the tenant never gets them; docs/engines.md), the
 * fence cannot hold and the answer is ENGINE_E_UNSUPPORTED (the caller stops the engine). */
int mdb_stop_writes(const struct engine_spec *s, struct err *e)
{
    MYSQL *m = mdb_connect(s, MY_ADMIN_TIMEOUT_MS, e);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    struct buf sql = BUF_INIT;
    char os[2 * 32 + 1], what[64];
    int rc = -1;

    if (!m)
        goto out;
    mysql_real_escape_string(m, os, s->os_user, (unsigned long)strlen(s->os_user));
    buf_printf(&sql,
               "SELECT GRANTEE FROM information_schema.USER_PRIVILEGES"
               " WHERE PRIVILEGE_TYPE IN ('SUPER', 'READ_ONLY ADMIN')"
               " AND GRANTEE NOT IN ('''root''@''localhost''', CONCAT('''', '%s', "
               "'''@''localhost''')) LIMIT 1",
               os);
    if (mysql_real_query(m, sql.data, sql.len) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not check who bypasses read_only: %s",
                mysql_error(m));
        goto out;
    }
    if ((row = mysql_fetch_row(res)) != NULL) {
        err_set(e, ENGINE_E_UNSUPPORTED,
                "cannot refuse writes while running: account %.100s bypasses read_only (SUPER "
                "or READ_ONLY ADMIN); stop the engine instead",
                row[0] ? row[0] : "?");
        goto out;
    }
    mysql_free_result(res);
    res = NULL;
    if (mdb_exec(m, "refuse writes", "SET GLOBAL read_only = ON", e) < 0)
        goto out;
    buf_reset(&sql);
    buf_printf(&sql,
               "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
               " AND COMMAND NOT IN ('Binlog Dump', 'Daemon')"
               " AND USER NOT IN ('system user', 'event_scheduler')"
               " AND NOT (USER IN ('root', '%s') AND HOST = 'localhost')",
               os);
    if (mysql_real_query(m, sql.data, sql.len) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not list the sessions: %s", mysql_error(m));
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        char kill[64];
        if (!row[0] || !engine_util_charset(row[0], 20, "0123456789"))
            continue;
        snprintf(kill, sizeof(kill), "KILL CONNECTION %s", row[0]);
        snprintf(what, sizeof(what), "end session %s", row[0]);
        /* A session that ended meanwhile: ER_NO_SUCH_THREAD */
        if (mysql_real_query(m, kill, strlen(kill)) != 0 &&
            mysql_errno(m) != MY_ER_NO_SUCH_THREAD) {
            err_set(e, ENGINE_E_ENGINE, "could not %s: %s", what, mysql_error(m));
            goto out;
        }
    }
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    buf_free(&sql);
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

/* read_only, GTID positions, the source if any, else this server's own binary log. */
int mdb_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out,
               struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms, binlog_size, done, got;
    MYSQL *m = mdb_nb_connect(s, deadline, e);
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    struct answer_slave st;
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
        done = answer_binlog_coord(st.exec_file, st.exec_pos);
        got = answer_binlog_coord(st.read_file, st.read_pos);
        out->position_bytes = done;
        /* in its relay log: what a semi-synchronous primary counted as acknowledged */
        out->received_bytes = got >= done ? got : -1;
        out->upstream_up = st.io_yes && st.sql_yes;
        if (done >= 0 && got >= 0)
            out->lag_bytes = ((got >> 32) - (done >> 32)) * binlog_size + (got & 0xffffffff) -
                             (done & 0xffffffff);
        if (out->lag_bytes < 0 && done >= 0 && got >= 0)
            out->lag_bytes = 0;
        out->lag_seconds = st.behind;
    } else if (read_only && !(s->repl && s->repl->role == ENGINE_ROLE_PRIMARY)) {
        /* A replica that does not follow yet: its own binary log is not comparable. */
        out->upstream_up = 0;
    } else {
        /* The primary, also when a switchover fenced it (read_only): its binary log is what
         * its replicas follow, and the switchover waits for its final position */
        if (!(res = mdb_nb_query(m, "SHOW MASTER STATUS", deadline, e)))
            goto out;
        if ((row = mysql_fetch_row(res)) != NULL)
            out->position_bytes =
                answer_binlog_coord(row[0], row[1] ? strtoll(row[1], NULL, 10) : -1);
    }
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    if (m)
        mysql_close(m);
    return rc;
}
