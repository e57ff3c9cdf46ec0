/* The metadata store: PostgreSQL through libpq, one connection per thread, every statement
 * parameterized and prepared once per connection, and the versioned schema migrations. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "lib/err.h"

/* Values of struct err.code set by store/ (store.c and embedded.c). */
enum store_errc {
    STORE_E_UNAVAILABLE = ERR_BASE_STORE + 1, /* cannot reach the store: the API answers 503 */
    STORE_E_SQL,                              /* the store refused a statement; carries its text */
    STORE_E_SYSTEM,        /* an OS call failed (embedded store: directories, fork) */
    STORE_E_NOT_INSTALLED, /* the PostgreSQL binaries or their OS user are missing */
    STORE_E_START,         /* the embedded store failed to start or stop; carries its log */
    STORE_E_GUARD,         /* this thread's guard refused: the statement was not sent */
};

/* Every statement on a store session is cancelled after this long (statement_timeout). */
#define STORE_STATEMENT_MS_STR "30000"
/* The server's side of a store session over TCP: its keepalives and tcp_user_timeout, as the
 * client's, so that the server too ends a session whose dbaasd it cannot reach within seconds,
 * and with it the session's transaction and the row locks it holds; by the server's defaults
 * (two hours) a session cut off in the middle of a transaction blocks every statement that
 * needs its rows, each until statement_timeout, long after the store is reachable again. */
#define STORE_SERVER_TCP_OPTIONS                                                                   \
    " -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"             \
    " -c tcp_user_timeout=10000"

/* A new session to the store with the timeouts every dbaasd session has (connect 5 s,
 * keepalives after 5 s idle, unacknowledged data gives up after 10 s, on both sides, and
 * statement_timeout) in front of info, which may override them. The caller checks PQstatus and
 * PQfinishes it. */
PGconn *store_connect(const char *info);

/* Set the connection string (libpq keyword/value or URL) every thread connects with. Copied.
 * Call once before any other store_* call. */
void store_init(const char *conninfo);

/* Close every connection opened by any thread. Call after all threads using the store stopped. */
void store_shutdown(void);

/* Apply the migrations that are missing, in one transaction under an advisory lock, so that
 * several dbaasd starting at once apply each exactly once. 0 / -1 with e set. */
int store_migrate(struct err *e) __attribute__((warn_unused_result));

/* This thread's guard (NULL: none): store_exec() and store_exec_simple() ask it before sending
 * any statement but a ROLLBACK, and when it answers false send nothing and fail with
 * STORE_E_GUARD; a transaction open on the connection is then rolled back there and then
 * (every further statement of it fails until the caller's ROLLBACK, as after a broken
 * connection). The leader's passes set leader_valid() (control/leader.h).
 * pass_key (0: none): an advisory lock this thread's session must hold before it sends
 * anything, the fence of the leader's passes. A session that does not hold it takes it; when
 * another session holds it (an earlier leader's pass, frozen or cut off), that one is ended
 * only if this process's session holds the leader's lock (store_set_leader_lock()), in the
 * same statement, and then the lock is waited for; otherwise STORE_E_GUARD. So once a new
 * leader's pass has run, a statement an old leader's pass sends on its old session fails (the
 * session is gone), and a new session of it cannot take the pass lock. */
void store_set_guard(bool (*guard)(void), long long pass_key);

/* The leader's advisory lock key, and the backend pid of this process's session that holds it
 * (0: none), for the pass locks above. */
void store_set_leader_lock(long long key, int (*holder_pid)(void));

/* Run a statement on this thread's connection (connecting or reconnecting as needed; a statement
 * outside a transaction is tried once more on a new connection when the old one broke at once
 * (a restarted store), not after a wait (an unreachable store: tcp_user_timeout, then the 503
 * comes without another connect_timeout), one inside a transaction never: the whole transaction fails, and until the caller ends it with ROLLBACK
 * every further statement answers STORE_E_UNAVAILABLE).
 * sql must be a string constant: it is prepared once per connection, keyed by its address.
 * params are text values (NULL = SQL NULL). Returns the result, which the caller frees with
 * PQclear; its status may be an error (see store_sqlstate). Returns NULL when the store cannot be
 * reached (e set, code STORE_E_UNAVAILABLE). */
PGresult *store_exec(struct err *e, const char *sql, int nparams, const char *const *params);

/* The same for statements that are not prepared: transaction control ("BEGIN", "COMMIT",
 * "ROLLBACK"). NULL when the store cannot be reached. */
PGresult *store_exec_simple(struct err *e, const char *sql);

/* Whether res is a successful command or query result. */
bool store_ok(const PGresult *res);

/* The SQLSTATE of a failed result ("" when none), and the violated constraint's name
 * ("" when none). */
const char *store_sqlstate(const PGresult *res);
const char *store_constraint(const PGresult *res);

/* Whether the store answers a trivial query within a few seconds. */
bool store_ping(void);

#endif
