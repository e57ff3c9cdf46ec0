/* Internal to the PostgreSQL driver: the functions through which the tenant manages the login
 * roles of its applications without CREATEROLE (engine_postgres_tenant.c). Not for other
 * callers: they use engines/engine.h. Nothing here logs; errors fill struct err. */
#ifndef ENGINES_ENGINE_POSTGRES_TENANT_H
#define ENGINES_ENGINE_POSTGRES_TENANT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "lib/err.h"

/* Install (or bring to the current version) the schema dbaas of the admin database with the
 * functions dbaas.create_user(), dbaas.set_password() and dbaas.drop_user(), owned by the
 * superuser of session c and executable only by the role `tenant` (validated). Writes nothing
 * when they are in place. Run on a primary, over an admin session (engine_postgres.c): 0 / -1
 * with e set. */
int pg_tenant_functions(PGconn *c, int64_t deadline, const char *tenant, struct err *e)
    __attribute__((warn_unused_result));

#endif
