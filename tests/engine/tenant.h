/* What engine_check does as a client over TCP 127.0.0.1 with the engines' own client libraries
 * (libpq, MariaDB Connector/C, hiredis): the tenant "app" writes and reads, and two attempts
 * that must be refused (the tenant replicating, the replication user reading data). Test code:
 * it branches on the engine name, which the drivers never do.
 *
 * Every function takes the engine's API name ("postgres", "mysql", "redis"), a port and a
 * password, connects, does one thing and disconnects. msg receives the engine's own words
 * (an error message, or what was refused). Keys and values are [A-Za-z0-9_-] made by
 * engine_check itself. */
#ifndef TESTS_ENGINE_TENANT_H
#define TESTS_ENGINE_TENANT_H

#include <stddef.h>

#include "lib/buf.h"

/* Store key = value (a row of table repl_check, or a Redis key): 0, or -1 with msg. */
int tenant_write(const char *engine, int port, const char *password, const char *key,
                 const char *value, struct buf *msg);
/* tenant_write() that waits for the answers at most timeout_ms (the table is created on the
 * first write already): 0 acknowledged, -1 refused or failed (msg: the engine's words), -2 no
 * answer in time (the connection is then closed: the write was never acknowledged). */
int tenant_write_by(const char *engine, int port, const char *password, const char *key,
                    const char *value, int timeout_ms, struct buf *msg);
/* 1 with value filled when key is there, 0 when it is not (yet: the table may not exist on a
 * replica yet), -1 with msg on any other error. */
int tenant_read(const char *engine, int port, const char *password, const char *key, char *value,
                size_t n, struct buf *msg);
/* Start replication (PostgreSQL: a replication connection; MariaDB: a binlog dump; Redis:
 * PSYNC) as user with password: 0 refused (msg: the engine's words), 1 accepted (msg says
 * how), -1 when it could not even try (msg). */
int tenant_replicate(const char *engine, int port, const char *user, const char *password,
                     struct buf *msg);
/* Read the tenant's data as user with password (PostgreSQL: connect to database "app";
 * MariaDB: SELECT from app.repl_check; Redis: GET): 0 refused (msg), 1 allowed, -1 no try. */
int tenant_read_as(const char *engine, int port, const char *user, const char *password,
                   struct buf *msg);

#endif
