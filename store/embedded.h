/* The embedded metadata store: a PostgreSQL server that dbaasd runs under its data directory
 * when no external database is given. */
#ifndef STORE_EMBEDDED_H
#define STORE_EMBEDDED_H

#include "lib/err.h"

struct embedded; /* opaque */

/* Start (initdb on first use) a PostgreSQL under data_dir/pg, reachable only through a Unix
 * socket in data_dir/run. When called as root the server runs as the unprivileged user
 * "postgres". A server left running by a previous dbaasd that was killed is stopped first.
 * max_connections: the server's limit (dbaasd passes its worker threads plus room for its own
 * loops). Waits until it accepts connections. On success returns the handle and sets *conninfo to a
 * new libpq connection string the caller frees. NULL with e set on failure (nothing left running).
 */
struct embedded *embedded_start(const char *data_dir, int max_connections, char **conninfo,
                                struct err *e);

/* Supervision, called about once a second from dbaasd's main thread: when the server has
 * exited (killed, crashed, stopped by hand) it is reaped, logged (event=store_exited) and started
 * again with the same settings, at once and then with a back-off while starts fail (an old
 * server's backends may still hold its shared memory for a moment); event=store_restarted says
 * how long it was down. conninfo: the string embedded_start() returned. Meanwhile the API
 * answers 503 and every store session reconnects by itself. Accepts NULL (an external store). */
void embedded_supervise(struct embedded *pg, const char *conninfo);

/* Fast shutdown with a deadline, then kill; frees the handle. Accepts NULL. */
void embedded_stop(struct embedded *pg);

#endif
