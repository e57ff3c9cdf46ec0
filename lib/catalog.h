/* The engine catalogue: the one list of the engines the service offers and the facts about each
 * that the control plane, the CLI and the engine drivers share (names, versions, server
 * programs, minimum memory, reserved user names, password verifiers). Nothing else lists
 * engines: dbaasd validates requests with it, dbaasctl prints it, and each driver in engines/
 * points at its entry.
 *
 * NOTES
 * - Pure data and pure functions: no I/O, safe from any thread.
 * - Adding an engine: one entry in catalog.c, CATALOG_NAMES below, and its driver in engines/. */
#ifndef LIB_CATALOG_H
#define LIB_CATALOG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* The engines' API names for help texts and messages, in catalogue order (a unit test checks
 * that this matches the table). */
#define CATALOG_NAMES "postgres, mysql, redis"

/* The user every engine's replicas connect as, with a password generated per instance by
 * dbaasd (never the tenant's). Reserved: no tenant user may take the name. */
#define CATALOG_REPL_USER "dbaas_repl"

/* Codes of this module (lib/ range). */
enum catalog_errc {
    CATALOG_E_ENGINE = ERR_BASE_LIB + 20, /* no such engine, or the version is not offered */
    CATALOG_E_PLAN,                       /* the plan's memory is below the engine's minimum */
};

struct catalog_engine {
    const char *name;            /* the API's engine name: "postgres", "mysql", "redis" */
    const char *server_name;     /* for messages: "PostgreSQL 15" */
    const char *version;         /* the one version offered: "15", "10.11", "7" */
    const char *server_program;  /* the server's program name: "postgres", "mariadbd", ... */
    const char *default_os_user; /* Debian's package user the server runs as */
    int64_t min_memory_mb;       /* the smallest plan memory the engine runs in */
    /* The verifier the control plane stores for a password (PostgreSQL SCRAM-SHA-256, MariaDB
     * mysql_native_password hash, Redis ACL SHA-256). The caller frees it; NULL for a password
     * the format cannot take or when the random source fails. */
    char *(*verifier_new)(const char *password);
    /* Whether a stored verifier has exactly the engine's format (checked before it is used in
     * any statement or file). */
    bool (*verifier_ok)(const char *verifier);
    /* Client connection URIs (lib/connuri.h): the scheme ("postgresql", "mysql", "redis"),
     * whether the driver creates a database named after the tenant user (the URI's path), and
     * whether the engine's clients take every member in one URI and pick the primary themselves
     * (libpq's multi-host URIs with target_session_attrs), so that a URI outlives a change of
     * primary. */
    const char *uri_scheme;
    bool user_database;
    bool multi_host_uri;
};

/* The entries, for the drivers' tables (engines/); everyone else looks them up by name. */
extern const struct catalog_engine catalog_postgres, catalog_mysql, catalog_redis;

/* The entry for an API engine name; NULL for an unknown name (or NULL). Static. */
const struct catalog_engine *catalog_find(const char *name);
/* Whether name is an engine of the catalogue (a validator for request fields). */
bool catalog_known(const char *name);
/* Every entry, NULL-terminated. Static. */
const struct catalog_engine *const *catalog_list(void);
/* The canonical version of engine for a requested version (NULL: the default), or NULL when the
 * engine is unknown or that version is not offered. Static string. */
const char *catalog_version(const char *engine, const char *version);

/* Whether a plan's memory fits the engine: CATALOG_E_PLAN naming the minimum if not (the API
 * answers 422 with this message at create and resize time). */
int catalog_check_plan(const struct catalog_engine *ce, int64_t memory_mb, struct err *e)
    __attribute__((warn_unused_result));

/* Whether a tenant user name is reserved on this engine: the engines' own superusers and
 * keywords, the control plane's own accounts, "pg_" names, and the engine's OS user. */
bool catalog_user_reserved(const struct catalog_engine *ce, const char *username);

#endif
