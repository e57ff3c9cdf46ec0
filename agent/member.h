/* A member (one engine server of an instance) as the agent knows it: what dbaasd wants (from
 * the last heartbeat reply) and what runs, persisted in DATA_DIR/members/<id>.json (mode 0600)
 * so that a restarted agent re-adopts the running engines instead of starting second copies. */
#ifndef AGENT_MEMBER_H
#define AGENT_MEMBER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent/fence.h"
#include "engines/engine.h"
#include "isolation/isolation.h"
#include "lib/err.h"
#include "lib/hbproto.h"

#define MEMBER_HOST_MAX 64 /* a numeric address, with its NUL */

/* Another member of the same instance, as a desired member names it. */
struct member_peer {
    int64_t id;
    char host[MEMBER_HOST_MAX];
    int port;
};

/* The last health probe of a member (agent/probe.c). */
struct member_health {
    bool done;              /* a probe completed at least once */
    bool in_flight;         /* a probe thread runs: the next one is skipped */
    uint64_t seq;           /* of the probe in flight (a result for another is dropped) */
    int64_t at_ms;          /* when the last one completed (clock_now_ms) */
    int code;               /* 0: answered (h is filled); else its struct err code */
    struct engine_health h; /* when code is 0 */
    char error[256];        /* when code is not 0 */
};

struct member {
    int64_t id;
    /* desired, from dbaasd */
    char instance_id[40];
    char instance[64];
    char engine[16];
    char role[16];
    int port;
    bool want_running; /* desired "running" (false: "deleted") */
    int spec_version;
    struct iso_limits limits;
    int64_t disk_mb;
    char username[64];
    char *verifier; /* owned */
    char *applied_verifier; /* owned: the verifier the engine was last given (create_user);
                             * NULL: not known (this agent did not give it one yet) */
    /* replication (HA part 1), from dbaasd; see member_repl_differs() */
    struct member_peer primary;   /* replica: the member it streams from */
    char repl_user[64];           /* "" without replication */
    char *repl_secret;            /* owned; never logged or put in a message ("": none) */
    struct member_peer *replicas; /* owned array: primary: the replicas it serves */
    int n_replicas;
    char seed_host[MEMBER_HOST_MAX]; /* replica: the primary's agent seed server ("": none) */
    int seed_port;
    /* observed */
    enum hb_state state; /* as reported to dbaasd */
    char error[512];
    pid_t pid;
    uint64_t starttime;
    bool our_child; /* started by this agent process: reap it with waitpid */
    int restarts;
    int applied_version;
    bool pending_restart;
    bool provisioned;          /* reached running once: a crash is restarted, not a failed create */
    int64_t applied_memory_mb; /* the memory limit the running engine and its group have */
    int resize_failed_version; /* the spec_version whose resize failed (0: none); it is not
                                  tried again: only a newer spec_version is */
    char resize_error[256];    /* why it failed (reported with resize_failed_version) */
    /* supervision */
    bool busy;             /* a worker thread owns the member */
    int64_t restart_at_ms; /* when a crashed engine is due for a restart; 0 = not due */
    int backoff_ms;
    int64_t running_since_ms;
    struct iso_usage usage;
    int64_t disk_used_mb;
    int64_t disk_checked_ms;
    bool disk_warned;
    bool repl_dirty;          /* replication is to be (re)applied to the running engine */
    unsigned repl_changes;    /* replies that changed replication: a job that applied what
                               * came before a newer change leaves repl_dirty set */
    int64_t repl_retry_at_ms; /* after a failed attempt: not before then */
    int repl_backoff_ms;
    bool unlisted; /* missing from the last reply (kept; logged once) */
    struct member_health health;
    /* HA part 2: role changes and fencing (agent/roles.c, agent/leasing.c) */
    bool sync;                  /* desired: synchronous replication (engine_repl.sync) */
    bool sync_applied;          /* the sync its configuration was rendered with */
    bool fence_wanted;          /* desired fence: this primary must take no write now */
    bool fenced;                /* the desired fence was carried out: the engine refuses writes
                                   (engine_stop_writes()) or was stopped */
    bool fenced_stopped;        /* ... by stopping it: it is held down while fence_wanted */
    bool guard_fenced;          /* the fence guard killed it (a marker in DATA/fenced/): held
                                   down until a fresh reply with a valid lease */
    int64_t guard_fenced_at_ms; /* the guard's deadline then (CLOCK_MONOTONIC; 0: unknown) */
    char run_role[16];          /* the role its engine was started or promoted as */
    bool diverged; /* a replica whose follow answered ENGINE_E_DIVERGED (its data has writes
                      its primary lacks): rejoined (rewound, else seeded afresh), then false */
    pid_t start_pid; /* an engine a job started as a primary, not running yet: the guard learns
                        of it before it takes writes */
    pid_t fence_pid; /* the pid fence_dir was read for */
    char fence_dir[FENCE_DIR_MAX]; /* its group's directory, for the guard ("" unknown) */
    int64_t role_retry_at_ms;      /* a failed role job is retried after a back-off */
    int role_backoff_ms;
    bool held; /* held down (role_decide()): logged once */
    /* seeding a replica (reported while it runs) */
    bool seeding;
    int64_t seed_bytes;
    int64_t seed_started_ms;
    struct member *next;
};

/* Whether a desired entry of the heartbeat reply is well-formed: an object with an integer id
 * and port and a string engine; when desired running, limits with every field (cpu_millis,
 * memory_mb and disk_mb above 0; the IO limits 0 or more: 0 is "no IO limit"), since a
 * missing limit must never mean unlimited; role "primary" (the default) or "replica"; a
 * replica with primary {id, host, port} and replication {user, secret}; replicas and seed,
 * when present, well-formed. The message never quotes the secret. 0, or -1 with e set. */
int member_desired_check(const json_t *d, struct err *e) __attribute__((warn_unused_result));
/* A new member from a desired entry of the heartbeat reply; NULL with e set when malformed. */
struct member *member_from_desired(const json_t *d, struct err *e);
/* Whether a desired entry asks for a running member (desired "running"; anything else, such
 * as "deleted", asks for none). */
bool member_desired_running(const json_t *d);
/* Update the desired fields of m from d (same id, member_desired_check() passed). Returns
 * whether spec_version changed. Sets m->repl_dirty when the replication fields changed (role,
 * upstream, user, secret, the replicas list), so that a running engine applies them. */
bool member_update_desired(struct member *m, const json_t *d);
/* Whether the replication fields of d differ from m's. */
bool member_repl_differs(const struct member *m, const json_t *d);
/* Whether m is a replica (desired role "replica"). */
bool member_is_replica(const struct member *m);
/* Whether m is fenced when the lease runs out, and may start only with a valid lease: desired
 * primary of an instance with replicas (its replicas list is not empty). An instance without
 * a replica is never fenced: nobody would take over. */
bool member_fenceable(const struct member *m);
/* Whether m's engine runs (or last ran) as a primary: m->run_role, else its desired role. */
bool member_runs_primary(const struct member *m);
/* Whether m may serve a seed copy to member replica (agent/seed.h): a running primary meant to
 * run, with a replication secret, that lists replica among its replicas and, in sync mode, has
 * applied that list (its engine waits for the replica: a write acknowledged after the copy
 * began is then on it). 0, or -1 with e set (AGENT_E_DENIED). */
int member_serves_seed(const struct member *m, int64_t replica, struct err *e);
void member_free(struct member *m);

/* What the engine drivers get for a member: the spec and its replication, with copies of
 * every string, so that a worker or probe thread uses it without the agent's lock. */
struct member_spec {
    struct engine_spec spec; /* its pointers point into this struct */
    struct engine_repl repl; /* spec.repl points here when the member replicates */
    char *dir;               /* the member directory (member_dir()) */
    char *instance_id, *username, *verifier, *listen_addr, *repl_user, *repl_secret, *upstream_host;
    struct engine_peer *replicas; /* owned, with their hosts */
    int n_replicas;
};

/* A new member_spec for m under data_dir, listening on listen_addr. spec.repl is NULL for a
 * member without replication (no replication user). Caller holds the lock that guards m;
 * frees the result with member_spec_free(). */
struct member_spec *member_spec_new(const struct member *m, const char *data_dir,
                                    const char *listen_addr);
/* Free (wiping the secrets); NULL is fine. */
void member_spec_free(struct member_spec *ms);

/* Persist m under dir/members/<id>.json (atomically, 0600). 0 / -1. */
int member_save(const struct member *m, const char *dir, struct err *e)
    __attribute__((warn_unused_result));
/* Remove the persisted record. */
void member_forget(const struct member *m, const char *dir);
/* Load every persisted member of dir into a list (newest first). */
struct member *member_load_all(const char *dir);

/* The member's directory: dir/members/<id> (caller frees). */
char *member_dir(const struct member *m, const char *dir);
/* The isolation group name: "<agent tag>-m<id>". The tag (from the agent's data directory)
 * keeps the groups of several agents on one machine apart: member ids are only unique within
 * one control plane. */
void member_group(const struct member *m, const char *tag, char out[40]);

#endif
