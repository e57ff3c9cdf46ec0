/* Internal to the PostgreSQL driver: what engine_postgres.c (init, render, the admin path, the
 * tenant) and engine_postgres_repl.c (replication and failover) share. Not for other callers:
 * they use engines/engine.h. Every function here follows the driver's rules (nothing logs,
 * errors fill struct err). */
#ifndef ENGINES_ENGINE_POSTGRES_H
#define ENGINES_ENGINE_POSTGRES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/engine.h"
#include "lib/buf.h"

#define PG_DEFAULT_BIN "/usr/lib/postgresql/15/bin"
#define PG_ADMIN_DB "postgres"
#define PG_ADMIN_TIMEOUT_MS 30000
#define PG_PASSFILE "repl.pgpass"
#define PG_SLOT_PREFIX "dbaas_m" /* + member id: slots, application_name */
#define PG_SEED_CONNECT_TIMEOUT "10"

/* ---- admin sessions (engine_postgres.c) ---- */

/* libpq's message m without its trailing newline, on one line, in buf (returned). */
const char *pg_msg(const char *m, char *buf, size_t n);
/* A superuser session over the Unix socket (a physical replication session when replication),
 * established before the deadline. The caller closes it with PQfinish(). */
PGconn *pg_connect(const struct engine_spec *s, int64_t deadline, bool replication, struct err *e);
/* The result of the statement sent on c, before the deadline: the caller PQclear()s it; NULL
 * with e set. At the deadline the statement is cancelled when `cancel`. */
PGresult *pg_result(PGconn *c, int64_t deadline, const char *what, bool cancel, struct err *e);
/* Run one statement with parameters before the deadline (see pg_result()); pg_query cancels. */
PGresult *pg_query_x(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
                     const char *const *params, bool cancel, struct err *e);
PGresult *pg_query(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
                   const char *const *params, struct err *e);
/* Whether a row exists for `sql` with one parameter: 1, 0, or -1 on error. */
int pg_exists(PGconn *c, int64_t deadline, const char *what, const char *sql, const char *param,
              struct err *e);
/* A statement whose result is not needed: 0 / -1. */
int pg_run(PGconn *c, int64_t deadline, const char *what, const char *sql, int nparams,
           const char *const *params, struct err *e);
/* Create or alter role `name` WITH `attributes` (a fixed text) and the SCRAM verifier. */
int pg_set_role(PGconn *c, int64_t deadline, const char *name, const char *verifier,
                const char *attributes, struct err *e);

/* ---- replication and failover (engine_postgres_repl.c) ---- */

/* Append to conf the replication settings of spec->repl's role (pure). */
void pg_render_repl(const struct engine_spec *s, struct buf *conf);
/* Append to hba the replication user's access rules (before the tenants' line). */
void pg_render_repl_hba(const struct engine_spec *s, struct buf *hba);

int pg_seed_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                 struct err *e);
int pg_seed_finish(const struct engine_spec *s, const char *data_path, struct err *e);
void pg_seed_error(const struct engine_spec *s, const struct engine_seed_step *step, struct err *e);
int pg_repl_setup(const struct engine_spec *s, struct err *e);
int pg_follow(const struct engine_spec *s, struct err *e);
int pg_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out,
              struct err *e);
int pg_promote(const struct engine_spec *s, struct err *e);
int pg_stopped_position(const struct engine_spec *s, struct engine_health *out, struct err *e);
int pg_rejoin_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                   struct err *e);

#endif
