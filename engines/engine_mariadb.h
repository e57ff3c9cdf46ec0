/* Internal to the MariaDB driver: what engine_mariadb.c (init, render, the admin path, the
 * tenant) and engine_mariadb_repl.c (replication and failover) share. Not for other callers:
 * they use engines/engine.h. Nothing here logs; errors fill struct err. */
#ifndef ENGINES_ENGINE_MARIADB_H
#define ENGINES_ENGINE_MARIADB_H

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "engines/answers.h"
#include "engines/engine.h"
#include "lib/buf.h"

#define MY_DEFAULT_BIN "/usr/bin"
#define MY_ADMIN_TIMEOUT_MS 30000
#define MY_SECRET_FILE "repl.secret"
/* In the member directory: this primary has had semi-synchronous replication in force (its
 * provisioning was done, or it was promoted). Until then a sync primary starts with the
 * master side off (engine_mariadb_repl.c, "Sync"). */
#define MY_SYNC_ARMED_FILE "sync.armed"
/* rpl_semi_sync_master_timeout in ms: the largest value (unsigned long) */
#define MY_SEMI_SYNC_TIMEOUT "18446744073709551615"

/* ---- engine_mariadb.c ---- */

/* The plan's InnoDB buffer pool in MB. */
int64_t mdb_buffer_pool_mb(const struct engine_spec *s);
/* RUN/mysqld.<port>.sock; the caller frees it. */
char *mdb_socket(const struct engine_spec *s);
/* Initialise Connector/C once (mysql_init() would do it on first use, not thread-safely). */
void mdb_connect_prepare(void);
/* A root session over the Unix socket (unix_socket authentication), timeouts rounded up to
 * whole seconds. The caller closes it. */
MYSQL *mdb_connect(const struct engine_spec *s, int timeout_ms, struct err *e);
/* Run one statement, discarding its result; `what` names the action for messages. */
int mdb_exec(MYSQL *m, const char *what, const char *sql, struct err *e);
/* Create or update account name@'%' from its mysql_native_password hash and grant it
 * `privileges` ("<list> ON <level>", a fixed text). Writes nothing when the account already
 * has that hash and that many privileges (a write in sync mode waits for a replica). */
int mdb_account(MYSQL *m, const char *name, const char *native_hash, const char *privileges,
                bool grant_option, struct err *e);

/* ---- engine_mariadb_tenant.c ---- */

/* The tenant's account name@'%' (create or update from its mysql_native_password hash): a
 * database owner on every database but the system schemas, with the routines that manage its
 * application accounts. Writes nothing when all is in place. */
int mdb_tenant_account(MYSQL *m, const char *name, const char *native_hash, struct err *e);
/* Give account user@'%' (user escaped), or PUBLIC when user is NULL, the rows that hide the
 * system schemas from a database grant on `%` (engine_mariadb_tenant.c, NOTES). Writes
 * nothing when they are there. */
int mdb_shadow_rows(MYSQL *m, const char *user, struct err *e);

/* ---- engine_mariadb_repl.c ---- */

/* Append to cnf the replication settings of spec->repl's role (pure). */
void mdb_render_repl(const struct engine_spec *s, struct buf *cnf);

/* SHOW SLAVE STATUS into st (engines/answers.h). */
int mdb_slave_status(MYSQL *m, struct answer_slave *st, struct err *e);
/* The replication account (CATALOG_REPL_USER with spec->repl's secret), written only when it
 * differs (a write of a sync primary waits for a replica). */
int mdb_repl_account(MYSQL *m, const struct engine_spec *s, struct err *e);

/* ---- engine_mariadb_sync.c ---- */

/* Apply spec->repl's semi-synchronous settings to the running server (a replica whose
 * semi-sync switch changed restarts its I/O thread, which reads it when it connects); a
 * primary whose master side goes on is armed (mdb_sync_armed). */
int mdb_sync_live(MYSQL *m, const struct engine_spec *s, struct err *e);
/* Whether the master side is meant to be on: a sync primary with replicas to wait for (with
 * none, like PostgreSQL's empty synchronous_standby_names, nobody is waited for). */
bool mdb_sync_master_on(const struct engine_spec *s);
/* Whether DIR/sync.armed exists (see MY_SYNC_ARMED_FILE). */
bool mdb_sync_armed(const struct engine_spec *s);

int mdb_seed_source(const struct engine_spec *s, char ***argv_out, struct err *e);
int mdb_seed_source_unblock(const struct engine_spec *s, int *released, struct err *e);
int mdb_seed_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                  struct err *e);
int mdb_seed_finish(const struct engine_spec *s, const char *data_path, struct err *e);
int mdb_repl_setup(const struct engine_spec *s, struct err *e);
int mdb_follow(const struct engine_spec *s, struct err *e);
int mdb_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out,
               struct err *e);
int mdb_promote(const struct engine_spec *s, struct err *e);
int mdb_stop_writes(const struct engine_spec *s, struct err *e);

#endif
