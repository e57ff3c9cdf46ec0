/* Engine drivers of the node agent: one interface (struct engine_ops), one file per engine
 * (engine_postgres.c, engine_mariadb.c for "mysql", engine_redis.c) and the engine_*() wrappers
 * that every caller uses. Nothing outside a driver branches on the engine.
 *
 * NOTES
 * - Library style: nothing logs; every fallible call fills a struct err whose code is an
 *   enum engine_errc (CATALOG_E_PLAN, from the catalogue's plan check, maps to HTTP 422). Secrets
 * (verifiers, the admin secret) never appear in messages.
 * - The caller runs as root. Engine servers and their tools (initdb, mariadb-install-db) run as
 *   the unprivileged spec->os_user; the drivers run the tools themselves, the caller execs the
 *   server (engine_argv(), under isolation) and stops it with ops->stop_signal.
 * - One caller at a time per member directory; different members may be handled concurrently.
 * - The member directory (spec->data_dir, mode 0700, owned by the OS user) holds:
 *     data/          the engine's own data (PGDATA, MariaDB datadir, Redis dir); its existence
 *                    means "initialised": engine_init() builds data.tmp/ and renames it
 *     config files   rewritten by every engine_configure(), never inside data/ (pg_rewind and
 *                    pg_basebackup copy data/ between members)
 *     admin.secret   engines whose admin path takes a password (Redis): root-owned, 0600
 *     server.log     where the caller sends the server's stdout and stderr (engine_log_path())
 *   and, unless spec->run_dir says otherwise, the server's Unix sockets (the admin path).
 * - Life of a member: engine_init -> engine_configure -> exec engine_argv() as the OS user ->
 *   engine_probe() until it answers (deadline; on early exit engine_start_error()) ->
 *   engine_create_user(). After a plan change: engine_apply_live(). Stop: ops->stop_signal to
 *   the server's pid, wait with a deadline, then SIGKILL. Delete: engine_remove(). */
#ifndef ENGINES_ENGINE_H
#define ENGINES_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/catalog.h"
#include "lib/err.h"

#define ENGINE_WUR __attribute__((warn_unused_result))

/* Values of struct err.code set by this module and the drivers. The lib/ helpers they call add
 * theirs: LIB_E_TOOL when initdb or mariadb-install-db fails (with its output), LIB_E_NOENT for
 * a missing OS user, LIB_E_SYSTEM and LIB_E_TIMEOUT when running a program fails. */
enum engine_errc {
    ENGINE_E_INVALID =
        ERR_BASE_ENGINE + 1, /* a spec field is missing or malformed (a bug in the caller) */
    ENGINE_E_SYSTEM,         /* an OS call failed: files, users, fork */
    ENGINE_E_START,          /* the server exited at start; carries the engine's own error */
    ENGINE_E_UNAVAILABLE, /* the engine does not answer on the admin path (not up yet, or hung) */
    ENGINE_E_ENGINE,      /* the engine answered but refused a command on the admin path */
    ENGINE_E_UNSUPPORTED, /* not implemented for this engine yet */
};

/* One member of an instance on this host, as the agent knows it from the desired state.
 * Borrowed strings; nothing here is freed by the engine module. */
struct engine_spec {
    const char *instance;    /* instance id, [A-Za-z0-9][A-Za-z0-9._-]{0,63}; used in names */
    const char *data_dir;    /* the member directory: absolute, [A-Za-z0-9._/+-] only, no ".."
                                component; created by engine_init() (its parent must exist and
                                be traversable by the OS user) */
    const char *listen_addr; /* numeric IPv4 or IPv6 address the tenants connect to */
    int port;                /* TCP port for tenants, 1..65535 */
    int64_t cpu_millis;      /* the plan; memory_mb must be >= ops->cat->min_memory_mb */
    int64_t memory_mb;
    int64_t disk_mb;
    const char *username; /* the tenant's user, [a-z][a-z0-9_]{0,31}, not a reserved name */
    const char *verifier; /* its stored verifier, in the engine's format (catalog verifier_new) */
    const char *os_user;  /* NULL: ops->cat->default_os_user ("postgres", "mysql", "redis") */
    const char *run_dir;  /* directory for the Unix sockets (created 0700 for the OS user,
                             at most 80 characters); NULL: data_dir */
    const char *bin_dir;  /* directory of the engine's programs; NULL: the Debian default */
};

/* A configuration file rendered by a driver: name relative to the member directory. */
struct engine_file {
    const char *name; /* static */
    char *content;    /* owned */
};

#define ENGINE_MAX_FILES 4

struct engine_files {
    int n;
    struct engine_file f[ENGINE_MAX_FILES];
};

/* Where a follower replicates from. HA issue: fields to be completed with follow(). */
struct engine_upstream {
    const char *addr;
    int port;
};

/* The driver interface. Drivers receive a spec that engine_validate() accepted, with os_user
 * and run_dir filled in. All functions return 0 / -1 and fill err. */
struct engine_ops {
    const struct catalog_engine *cat; /* the engine's facts: name, versions, minimum memory,
                                         verifiers (lib/catalog.h) */
    int stop_signal;   /* fast, clean shutdown: SIGINT for postgres, SIGTERM otherwise */
    bool admin_secret; /* the admin path needs DIR/admin.secret (made by configure) */

    /* Create the engine's data in data_path, an empty directory owned by the OS user
     * (engine_init() renames it to DIR/data when this succeeds). NULL: nothing to do. */
    int (*init)(const struct engine_spec *, const char *data_path, struct err *);
    /* Render the configuration files sized from the plan (pure: no I/O). admin_secret is the
     * content of DIR/admin.secret when ops->admin_secret, else NULL. The caller frees *out with
     * engine_files_free(), also on failure. */
    int (*render)(const struct engine_spec *, const char *admin_secret, struct engine_files *out,
                  struct err *);
    /* The server's command line (foreground, no daemonizing): a NULL-terminated array the
     * caller frees with engine_argv_free(). */
    int (*argv)(const struct engine_spec *, char ***argv_out, struct err *);
    /* One attempt to log in on the admin path and run a trivial command, within timeout_ms.
     * ENGINE_E_UNAVAILABLE when it does not answer (yet). */
    int (*probe)(const struct engine_spec *, int timeout_ms, struct err *);
    /* Create or update the tenant's user from spec->verifier over the admin path (idempotent),
     * with a database of the same name where the engine has databases. */
    int (*create_user)(const struct engine_spec *, struct err *);
    /* After the configuration was rewritten for a new plan: apply what the running engine can
     * change live; *restart_needed says whether some setting waits for a restart. */
    int (*apply_live)(const struct engine_spec *, bool *restart_needed, struct err *);
    /* Append to out the engine's own error lines found in the server's output (the tail of
     * its log from the failed start), "; "-separated, most important last. */
    void (*start_error)(const char *output, struct buf *out);

    /* HA issue (not implemented yet): NULL in every driver; engine_promote() and
     * engine_follow() answer ENGINE_E_UNSUPPORTED until the HA work fills them in. */
    int (*promote)(const struct engine_spec *, struct err *);
    int (*follow)(const struct engine_spec *, const struct engine_upstream *, struct err *);
};

/* The drivers. Callers use engine_find() or engine_list(). */
extern const struct engine_ops engine_postgres_ops;
extern const struct engine_ops engine_mariadb_ops;
extern const struct engine_ops engine_redis_ops;

/* The driver for an API engine name ("postgres", "mysql", "redis"); NULL if unknown. */
const struct engine_ops *engine_find(const char *name);
/* All drivers, NULL-terminated (static). */
const struct engine_ops *const *engine_list(void);
/* Check every field of a spec (ENGINE_E_INVALID, or CATALOG_E_PLAN for the memory). The
 * wrappers below call it first. */
int engine_validate(const struct engine_ops *ops, const struct engine_spec *spec,
                    struct err *e) ENGINE_WUR;

/* Create the member directory (and run_dir) with mode 0700 for the OS user and the engine's
 * data (initdb, mariadb-install-db). Idempotent: skips the data when DIR/data exists; leftovers
 * of an interrupted init are removed first. */
int engine_init(const struct engine_ops *ops, const struct engine_spec *spec,
                struct err *e) ENGINE_WUR;
/* Write the configuration files sized from the plan (atomically, 0600, owned by the OS user);
 * create DIR/admin.secret when the engine needs one and it does not exist. */
int engine_configure(const struct engine_ops *ops, const struct engine_spec *spec,
                     struct err *e) ENGINE_WUR;
/* The server's command line; free it with engine_argv_free(). The caller execs it as the OS
 * user (engine_util_spawn() or isolation/) with output appended to engine_log_path(). */
int engine_argv(const struct engine_ops *ops, const struct engine_spec *spec, char ***argv_out,
                struct err *e) ENGINE_WUR;
void engine_argv_free(char **argv);
/* DIR/server.log; the caller frees it. The directory belongs to the engine's user: open the log
 * with O_NOFOLLOW|O_NONBLOCK and check that it is a regular file with one link. */
char *engine_log_path(const struct engine_spec *spec);
/* One probe on the admin path within timeout_ms (see struct engine_ops). */
int engine_probe(const struct engine_ops *ops, const struct engine_spec *spec, int timeout_ms,
                 struct err *e) ENGINE_WUR;
int engine_create_user(const struct engine_ops *ops, const struct engine_spec *spec,
                       struct err *e) ENGINE_WUR;
/* After a plan change: rewrite the configuration, then change live what the engine can.
 * *restart_needed is true when some setting takes effect only at the next restart. */
int engine_apply_live(const struct engine_ops *ops, const struct engine_spec *spec,
                      bool *restart_needed, struct err *e) ENGINE_WUR;
/* The server exited at start with wait status `status` (or status -1: it never answered):
 * fill e with ENGINE_E_START and the engine's own error text, taken from engine_log_path()
 * after offset log_from (the log's size when this start began; 0 for all of it) and at most
 * its last 16 KiB. Always returns -1. */
int engine_start_error(const struct engine_ops *ops, const struct engine_spec *spec, int status,
                       off_t log_from, struct err *e);
/* Delete the member directory and everything in it (the server must be stopped). The
 * contents are removed by the OS user, so that a link planted by the engine cannot make root
 * delete anything else. Succeeds when the directory does not exist. */
int engine_remove(const struct engine_ops *ops, const struct engine_spec *spec,
                  struct err *e) ENGINE_WUR;
/* HA issue: ENGINE_E_UNSUPPORTED until the drivers implement them. */
int engine_promote(const struct engine_ops *ops, const struct engine_spec *spec,
                   struct err *e) ENGINE_WUR;
int engine_follow(const struct engine_ops *ops, const struct engine_spec *spec,
                  const struct engine_upstream *up, struct err *e) ENGINE_WUR;

void engine_files_free(struct engine_files *files);

#endif
