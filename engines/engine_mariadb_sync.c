/* MariaDB 10.11 driver, semi-synchronous replication applied to a running server (the "Sync"
 * notes of engine_mariadb_repl.c): the master side on a primary, the slave side on a replica,
 * and the arming of a new sync primary once its own provisioning is done. */
#include "engines/engine.h"

#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engines/answers.h"
#include "engines/engine_mariadb.h"
#include "engines/engine_util.h"


/* ---- semi-synchronous replication, live ---- */

bool mdb_sync_master_on(const struct engine_spec *s)
{
    const struct engine_repl *r = s->repl;

    return r && r->sync && r->role == ENGINE_ROLE_PRIMARY && r->n_replicas > 0;
}

bool mdb_sync_armed(const struct engine_spec *s)
{
    char *path = engine_util_path(s->data_dir, MY_SYNC_ARMED_FILE);
    bool armed = access(path, F_OK) == 0;

    free(path);
    return armed;
}

static int sync_arm(const struct engine_spec *s, struct err *e)
{
    char *path = engine_util_path(s->data_dir, MY_SYNC_ARMED_FILE);
    struct engine_user u;
    int rc = engine_util_user(s->os_user, &u, e);

    if (rc == 0)
        rc = engine_util_write_file(path, "semi-synchronous replication in force\n", &u, e);
    free(path);
    return rc;
}

int mdb_sync_live(MYSQL *m, const struct engine_spec *s, struct err *e)
{
    const struct engine_repl *r = s->repl;
    bool on = mdb_sync_master_on(s);
    const char *what = "set semi-synchronous replication";
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    bool slave_on;
    int rc = -1;

    if (mdb_exec(m, what, "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC", e) < 0 ||
        mdb_exec(m, what, "SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON", e) < 0 ||
        mdb_exec(m, what, "SET GLOBAL rpl_semi_sync_master_timeout = " MY_SEMI_SYNC_TIMEOUT, e) <
            0 ||
        mdb_exec(m, what,
                 on ? "SET GLOBAL rpl_semi_sync_master_enabled = ON"
                    : "SET GLOBAL rpl_semi_sync_master_enabled = OFF",
                 e) < 0)
        goto out;
    if (on && !mdb_sync_armed(s) && sync_arm(s, e) < 0)
        goto out;
    if (mysql_real_query(m, "SELECT @@global.rpl_semi_sync_slave_enabled",
                         strlen("SELECT @@global.rpl_semi_sync_slave_enabled")) != 0 ||
        !(res = mysql_store_result(m)) || !(row = mysql_fetch_row(res))) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what, mysql_error(m));
        goto out;
    }
    slave_on = row[0] && strcmp(row[0], "0") != 0;
    if (slave_on != r->sync) {
        if (mdb_exec(m, what,
                     r->sync ? "SET GLOBAL rpl_semi_sync_slave_enabled = ON"
                             : "SET GLOBAL rpl_semi_sync_slave_enabled = OFF",
                     e) < 0)
            goto out;
        /* A running I/O thread reads the switch when it connects: reconnect it. */
        if (r->role == ENGINE_ROLE_REPLICA) {
            struct answer_slave st;
            if (mdb_slave_status(m, &st, e) < 0)
                goto out;
            if ((st.io_yes || st.io_connecting) &&
                (mdb_exec(m, what, "STOP SLAVE IO_THREAD", e) < 0 ||
                 mdb_exec(m, what, "START SLAVE IO_THREAD", e) < 0))
                goto out;
        }
    }
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    return rc;
}


/* ---- a seed of a sync primary ---- */

/* mariadb-backup's BACKUP STAGE BLOCK_COMMIT waits for the commits in progress (BLOCK_DDL for
 * the DDL statements), and a commit of a sync primary waits (AFTER_SYNC: in the binary log,
 * before the engine's commit) for a replica's acknowledgement. When the primary has no other
 * replica, the one being copied is the only one that could acknowledge them: both would wait
 * for good. After the copy's stage has waited UNBLOCK_AFTER_MS, the sessions waiting for an
 * acknowledgement are killed: their clients see the connection lost, never an acknowledgement,
 * and their commits end in the engine, so they are in the copy. With another replica connected
 * the waits end within moments by themselves and nothing is killed. */
#define UNBLOCK_AFTER_MS "2000"

int mdb_seed_source_unblock(const struct engine_spec *s, int *released, struct err *e)
{
    static const char sql[] =
        "SELECT ID FROM information_schema.PROCESSLIST "
        "WHERE STATE = 'Waiting for semi-sync ACK from slave' AND EXISTS ("
        "SELECT 1 FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for backup lock' "
        "AND INFO LIKE 'BACKUP STAGE %' AND TIME_MS >= " UNBLOCK_AFTER_MS ")";
    MYSQL *m;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    int rc = -1;

    *released = 0;
    if (!s->repl || !s->repl->sync)
        return 0;
    if (!(m = mdb_connect(s, 5000, e)))
        return -1;
    if (mysql_real_query(m, sql, strlen(sql)) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not list the sessions: %s", mysql_error(m));
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        char kill[64];
        int64_t id;

        if (answer_int(row[0], 1, INT64_MAX, &id) < 0)
            continue;
        snprintf(kill, sizeof(kill), "KILL CONNECTION %" PRId64, id);
        /* a session that ended meanwhile is no error */
        if (mysql_real_query(m, kill, strlen(kill)) == 0)
            (*released)++;
    }
    rc = 0;
out:
    if (res)
        mysql_free_result(res);
    mysql_close(m);
    return rc;
}
