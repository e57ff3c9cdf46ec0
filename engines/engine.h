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
 *     repl secret    with spec->repl, the replication secret in the engine's own format,
 *                    rendered with the configuration (0600, the OS user's): repl.pgpass
 *                    (PostgreSQL passfile), repl.secret (MariaDB), repl-auth.conf (Redis)
 *     server.log     where the caller sends the server's stdout and stderr (engine_log_path())
 *   and, unless spec->run_dir says otherwise, the server's Unix sockets (the admin path).
 * - Life of a member: engine_init -> engine_configure -> exec engine_argv() as the OS user ->
 *   engine_probe() until it answers (deadline; on early exit engine_start_error()) ->
 *   engine_create_user(). After a plan change: engine_apply_live(). Stop: ops->stop_signal to
 *   the server's pid, wait with a deadline, then SIGKILL. Delete: engine_remove().
 * - With replication (spec->repl): a primary as above, then engine_repl_setup() after every
 *   start; a replica engine_seed() instead of engine_init() (retry while it answers
 *   ENGINE_E_UNAVAILABLE), then configure, exec, probe, create_user and engine_follow() after
 *   every start. engine_health() at any time. */
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
    ENGINE_E_DIVERGED,    /* rejoin: this member's data has writes its new primary lacks and
                             could not be rewound: the caller rebuilds it with a fresh seed */
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
    const struct engine_repl *repl; /* replication (HA); NULL: a standalone member, as before */
};

/* A configuration file rendered by a driver: name relative to the member directory. */
struct engine_file {
    const char *name; /* static */
    char *content;    /* owned */
};

#define ENGINE_MAX_FILES 8

struct engine_files {
    int n;
    struct engine_file f[ENGINE_MAX_FILES];
};

/* ---- replication (docs/ha.md) ---- */

enum engine_role {
    ENGINE_ROLE_PRIMARY, /* takes writes; serves its replicas (user, slots) */
    ENGINE_ROLE_REPLICA, /* read-only copy streaming from repl->upstream */
};

/* Another member of the same instance. Borrowed. */
struct engine_peer {
    int64_t id;       /* the member id (slot names "dbaas_m<id>", application_name, server_id) */
    const char *host; /* numeric address its engine listens on */
    int port;
};

/* How a member takes part in replication. Borrowed; the secret is never put in a message, a
 * log line, a command line or an environment variable: drivers pass it through files of the
 * member directory (mode 0600, owned by the OS user) or over the admin path. */
struct engine_repl {
    enum engine_role role;
    int64_t member_id;                  /* this member */
    const char *user;                   /* the replication user: CATALOG_REPL_USER */
    const char *secret;                 /* its password, generated per instance by dbaasd */
    struct engine_peer upstream;        /* replica: the primary */
    const struct engine_peer *replicas; /* primary: the replicas it serves (slots kept for
                                           exactly these) */
    int n_replicas;
    bool sync; /* synchronous replication: a primary acknowledges a commit only once a replica
                  has it (PostgreSQL synchronous_standby_names = 'ANY 1 (...)', MariaDB
                  semi-synchronous without fallback, Redis min-replicas-to-write 1); docs/ha.md
                  says what each engine guarantees */
};

/* One step of seeding a replica: a program run to completion by the caller as the OS user,
 * inside the member's isolation group (its CPU and IO limits apply), in the member directory. */
struct engine_seed_step {
    char **argv;       /* owned, NULL-terminated; argv[0] an absolute path */
    char **env;        /* owned, NULL-terminated "K=V" added to the minimal environment; NULL */
    bool stdin_stream; /* its stdin is the seed stream that ops->seed_source produces on the
                          primary's host (the caller connects the two, docs/ha.md) */
    const char *what;  /* static, for messages: "pg_basebackup", "mbstream", "mariadb-backup
                          --prepare" */
};

#define ENGINE_MAX_SEED_STEPS 4

struct engine_seed_plan {
    int n;
    struct engine_seed_step step[ENGINE_MAX_SEED_STEPS];
};

/* What one health probe saw (engine_health). Fields the engine did not tell are -1 / "". */
struct engine_health {
    bool alive;             /* it answered on the admin path within the deadline */
    enum engine_role role;  /* as the engine itself reports it: PostgreSQL pg_is_in_recovery();
                               MariaDB a configured slave connection or read_only on; Redis
                               INFO replication role */
    bool writable;          /* it would accept a write now (not read-only, not in recovery) */
    char position[64];      /* its replication position in the engine's notation: LSN
                               "0/3000060", GTID "0-1-42", Redis offset "12345"; "" unknown */
    int64_t position_bytes; /* the same position as a number comparable between members of the
                               instance (bytes of WAL, binlog or replication stream); -1 */
    int64_t received_bytes; /* replica: the position it received and holds durably (at or
                               beyond position_bytes): what a synchronous primary counted as
                               acknowledged, and what a promotion applies before it takes
                               writes. -1 unknown or the same as position_bytes */
    int upstream_up;        /* replica: 1 the link to the primary is up, 0 down; -1 primary */
    int64_t lag_bytes;      /* replica: bytes received but not applied, or behind the primary as
                               far as the replica knows; -1 unknown */
    double lag_seconds;     /* replica: the engine's own estimate; -1 unknown */
};

/* The driver interface. Drivers receive a spec that engine_validate() accepted, with os_user
 * and run_dir filled in. All functions return 0 / -1 and fill err. */
struct engine_ops {
    const struct catalog_engine *cat; /* the engine's facts: name, versions, minimum memory,
                                         verifiers (lib/catalog.h) */
    int stop_signal;   /* fast, clean shutdown: SIGINT for postgres, SIGTERM otherwise. Send
                          it again every second while waiting: Redis drops a SIGTERM that
                          arrives while it writes its first AOF (a replica's first sync) */
    bool admin_secret; /* the admin path needs DIR/admin.secret (made by configure) */
    /* "K=V" entries added to the server process's environment (NULL: none) */
    const char *const *server_env;

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

    /* ---- replication (spec->repl set) ---- */
    /* Replica seeding: fill *out with the steps that copy the primary's data into data_path (an
     * empty directory owned by the OS user; engine_seed() renames it to DIR/data afterwards).
     * The caller frees *out with engine_seed_plan_free(), also on failure. */
    int (*seed_plan)(const struct engine_spec *, const char *data_path,
                     struct engine_seed_plan *out, struct err *);
    /* On the primary's host: the command (run as the OS user) whose stdout is the seed stream a
     * step with stdin_stream reads. NULL when no step reads a stream (PostgreSQL copies over
     * its own protocol with pg_basebackup; Redis needs no copy). */
    int (*seed_source)(const struct engine_spec *, char ***argv_out, struct err *);
    /* On the primary's host, while its seed source has sent nothing for a second: release
     * what keeps the copy from going on; *released says how many waits were ended. MariaDB: a
     * sync primary's commits waiting for a replica's acknowledgement block the copy's BACKUP
     * STAGE BLOCK_COMMIT, and the replica that would acknowledge them is the one being copied:
     * their sessions are killed (their clients get no acknowledgement, the commits are in the
     * copy). NULL: nothing ever blocks the source. */
    int (*seed_source_unblock)(const struct engine_spec *, int *released, struct err *);
    /* After the steps succeeded: file work in data_path only (the position to start from, the
     * standby marker). NULL: nothing to do. */
    int (*seed_finish)(const struct engine_spec *, const char *data_path, struct err *);
    /* After a step failed with e (whose message ends with the step's last lines of output):
     * turn a failure the engine recognises into a clearer error (PostgreSQL: the replication
     * slot the primary's agent has not created yet becomes ENGINE_E_UNAVAILABLE, "retry
     * later"). NULL: e stays as it is. */
    void (*seed_error)(const struct engine_spec *, const struct engine_seed_step *, struct err *);
    /* On the primary, after every start and whenever repl changes: the replication user with
     * repl->secret and what each replica needs (PostgreSQL: a physical slot per replica, and
     * none of ours for members that are gone). Idempotent. */
    int (*repl_setup)(const struct engine_spec *, struct err *);
    /* On a replica, after every start: replicate from repl->upstream (MariaDB: CHANGE MASTER
     * ... MASTER_USE_GTID=slave_pos, START SLAVE; engines whose configuration already does it:
     * NULL). Idempotent: a replica already following that upstream is left alone. */
    int (*follow)(const struct engine_spec *, struct err *);
    /* One health probe over the admin path with a hard deadline of timeout_ms for connecting and
     * for every statement. Returns 0 with out filled when the engine answered (out->alive);
     * -1 with ENGINE_E_UNAVAILABLE when it did not. */
    int (*health)(const struct engine_spec *, int timeout_ms, struct engine_health *out,
                  struct err *);
    /* ---- failover (HA part 2) ---- */
    /* A running replica becomes the primary (spec->repl->role is ENGINE_ROLE_PRIMARY now, with
     * its replicas): it stops replicating and takes writes when this returns 0 (PostgreSQL
     * pg_promote(wait => true); MariaDB STOP SLAVE, RESET SLAVE ALL, read_only OFF; Redis
     * REPLICAOF NO ONE). Idempotent: a member already primary succeeds. */
    int (*promote)(const struct engine_spec *, struct err *);
    /* Switchover: a running primary acknowledges no write from now on (MariaDB read_only ON
     * and tenant sessions killed; Redis CLIENT PAUSE WRITE: writes wait unanswered). It does not
     * wait for the replicas: the caller waits until the target's position reaches this one's.
     * NULL, or ENGINE_E_UNSUPPORTED (MariaDB: an account could bypass read_only): the caller
     * stops the engine cleanly instead (PostgreSQL: a clean shutdown sends every WAL record to
     * the connected standbys first). promote() ends the fence (the same member stays primary);
     * a restart ends it too. */
    int (*stop_writes)(const struct engine_spec *, struct err *);
    /* Rejoin: a former primary's data in data_path (DIR/data, engine stopped) is to become a
     * replica of spec->repl->upstream. Fill *out with the steps that make it one (PostgreSQL
     * pg_rewind --source-server); the caller runs them as for seeding, then configures and
     * starts the member as a replica and calls follow(). A step's failure, or follow()
     * answering ENGINE_E_DIVERGED, makes the caller rebuild the member with a fresh seed. NULL,
     * or out->n == 0: nothing to run before the start (MariaDB re-points by GTID in follow(),
     * which answers ENGINE_E_DIVERGED when this member has transactions the primary lacks;
     * Redis resyncs by itself). Free *out with engine_seed_plan_free(), also on failure. */
    int (*rejoin_plan)(const struct engine_spec *, const char *data_path,
                       struct engine_seed_plan *out, struct err *);
    /* Rejoin, after the steps succeeded: file work in data_path only (PostgreSQL: the standby
     * marker, which pg_rewind removes as a file the source lacks). NULL: nothing to do. */
    int (*rejoin_finish)(const struct engine_spec *, const char *data_path, struct err *);
    /* A primary stopped cleanly (the fence of a switchover, for engines without stop_writes):
     * its final replication position, read from DIR/data without starting it, into out's
     * position and position_bytes (PostgreSQL: pg_controldata's latest checkpoint, the shutdown
     * checkpoint every connected standby received before the server exited). ENGINE_E_ENGINE
     * when the data was not shut down cleanly (the position would not be final). NULL: the
     * engine cannot tell. */
    int (*stopped_position)(const struct engine_spec *, struct engine_health *out, struct err *);
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
/* On a replica (spec->repl, ENGINE_ROLE_REPLICA) the engines whose users replicate
 * (PostgreSQL, MariaDB) do nothing: the tenant comes from the primary. Redis sets its ACL. */
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
/* ---- replication: wrappers of the ops above (validate, fill defaults, then call) ----
 * engine_validate() checks spec->repl when it is set: role, member ids (1 .. 2^32-1, peers
 * distinct), user CATALOG_REPL_USER, the secret (16 to 256 characters [A-Za-z0-9._~+/=-],
 * never quoted in a message), numeric peer addresses and ports, at most 8 replicas. A message
 * that would contain the secret has it replaced by "(secret)". */
/* A replica's data (spec->repl with role ENGINE_ROLE_REPLICA, else ENGINE_E_INVALID): create
 * the member directory as engine_init() does and write the configuration as engine_configure()
 * does (the steps read the replication secret's file), then, unless DIR/data exists, run the
 * seed plan's steps through run_step into DIR/data.tmp, seed_finish, sync, and rename to
 * DIR/data. run_step is the caller's: it runs a step as the OS user in the member directory and
 * the member's isolation group, with the step's env added to the minimal environment
 * (engine_util_env_with()), stdin from the seed source's stream when step->stdin_stream, and
 * returns 0 / -1 with e set, e's message ending with the step's last lines of output (as
 * spawn_run_tool() does). A failed step goes through ops->seed_error. Leftovers of an
 * interrupted seed are removed first. */
int engine_seed(const struct engine_ops *ops, const struct engine_spec *spec,
                int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e),
                void *ctx, struct err *e) ENGINE_WUR;
/* The seed source's command line on the primary (free with engine_argv_free());
 * ENGINE_E_UNSUPPORTED when the engine has none. */
int engine_seed_source(const struct engine_ops *ops, const struct engine_spec *spec,
                       char ***argv_out, struct err *e) ENGINE_WUR;
void engine_seed_plan_free(struct engine_seed_plan *plan);
/* ops->seed_source_unblock (0 with *released 0 when the driver has none). */
int engine_seed_source_unblock(const struct engine_ops *ops, const struct engine_spec *spec,
                               int *released, struct err *e);
/* Primary: rewrite the configuration files whose content changed (a new list of replicas
 * reaches the rendered files: PostgreSQL's synchronous_standby_names), then ops->repl_setup
 * (which makes the rendered access rules and settings take effect). A no-op without
 * spec->repl or on a replica, so callers may call it after every start. */
int engine_repl_setup(const struct engine_ops *ops, const struct engine_spec *spec,
                      struct err *e) ENGINE_WUR;
/* Replica: rewrite the configuration files whose content changed (a new upstream reaches the
 * rendered files: PostgreSQL primary_conninfo, Redis replicaof), then ops->follow (a no-op
 * where the configuration does it). A no-op without spec->repl or on a primary, so callers may
 * call it after every start. Cheap when nothing changed: no file is written. */
int engine_follow(const struct engine_ops *ops, const struct engine_spec *spec,
                  struct err *e) ENGINE_WUR;
/* One health probe (see ops->health). out is reset first (alive false, role primary, numbers
 * -1, position ""), so on failure it says what was seen before the failure. Works without
 * spec->repl (a standalone member reports itself as a primary). */
int engine_health(const struct engine_ops *ops, const struct engine_spec *spec, int timeout_ms,
                  struct engine_health *out, struct err *e) ENGINE_WUR;
/* Failover (see struct engine_ops): validate, fill defaults, then call. engine_promote()
 * needs spec->repl with role ENGINE_ROLE_PRIMARY; ENGINE_E_UNSUPPORTED without the op. It
 * first rewrites the configuration for the primary role (as engine_configure() does: no
 * upstream, no read-only, the primary's synchronous settings), so that the member never starts
 * as a replica again, then runs ops->promote, which also applies them live. */
int engine_promote(const struct engine_ops *ops, const struct engine_spec *spec,
                   struct err *e) ENGINE_WUR;
/* ENGINE_E_UNSUPPORTED when the driver has no stop_writes: stop the engine instead. */
int engine_stop_writes(const struct engine_ops *ops, const struct engine_spec *spec,
                       struct err *e) ENGINE_WUR;
/* Rejoin a former primary (engine stopped; spec->repl with role ENGINE_ROLE_REPLICA): write
 * the configuration, run ops->rejoin_plan's steps for DIR/data through run_step (as
 * engine_seed() does), then ops->rejoin_finish. The caller then starts the member as a replica
 * and calls engine_follow(); a failed step or ENGINE_E_DIVERGED from follow means: move the
 * data aside and seed a fresh copy. 0 at once when the driver has nothing to run. */
int engine_rejoin(const struct engine_ops *ops, const struct engine_spec *spec,
                  int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e),
                  void *ctx, struct err *e) ENGINE_WUR;

/* The final position of a stopped primary (see ops->stopped_position); out is reset as
 * engine_health() does (alive false). ENGINE_E_UNSUPPORTED without the op. */
int engine_stopped_position(const struct engine_ops *ops, const struct engine_spec *spec,
                            struct engine_health *out, struct err *e) ENGINE_WUR;

void engine_files_free(struct engine_files *files);

#endif
