/* Supervision of the members' engines: the worker threads that provision (or seed), restart,
 * resize, replicate and delete members, the check of running engines with restart after an
 * exponential back-off, and every change of a member's observed state. */
#ifndef AGENT_JOBS_H
#define AGENT_JOBS_H

#include "agent/agent.h"
#include "agent/member.h"
#include "engines/engine.h"
#include "lib/hbproto.h"

/* Slow work on one member, run on a worker thread. */
enum job_kind {
    JOB_PROVISION, /* create the engine's data (a replica: seed it from its primary) and start
                      it; a failed create leaves nothing */
    JOB_RESTART,   /* start a provisioned engine that is down */
    JOB_RESIZE,    /* apply the member's limits to its group and engine, live */
    JOB_DELETE,    /* stop the engine, remove its group, move its data to the quarantine */
    JOB_REPL,      /* apply replication to the running engine: primary engine_repl_setup(),
                      replica engine_follow(); retried with back-off, the engine kept running */
    /* role changes and fencing (agent/roles.c) */
    JOB_PROMOTE, /* replica -> primary: engine_promote(), engine_repl_setup(), a probe */
    JOB_REJOIN,  /* primary -> replica: stop, engine_rejoin(), start as a replica; a failed
                    step or a diverged follow: quarantine the data and seed afresh */
    JOB_FENCE,   /* desired fence: engine_stop_writes(), or stop the engine */
    JOB_UNFENCE, /* fence lifted on a member that still runs refusing writes: restart it */
};

/* Hand m to a new worker thread for kind: m->busy stays set (the worker owns the member) until
 * the work is done and recorded. Caller holds a->lock. */
void jobs_spawn(struct agent *a, struct member *m, enum job_kind kind);

/* Set m's observed state (logs "from -> to", wakes the main loop to report a change) and
 * persist m; error (copied; NULL for none) is what the report says. Caller holds a->lock. */
void jobs_set_state(struct agent *a, struct member *m, enum hb_state to, const char *error);
/* Persist m (a failure is logged). Caller holds a->lock. */
void jobs_save(struct agent *a, const struct member *m);

/* Check every running engine: a dead one becomes "starting" and is restarted after its
 * back-off, by a JOB_RESTART worker once due (a replica whose seeding failed: JOB_PROVISION);
 * a running one whose replication is due (m->repl_dirty) gets a JOB_REPL. Takes a->lock. */
void jobs_supervise(struct agent *a);
/* Stop every running engine, keeping its data: the next agent starts it again. Takes a->lock. */
void jobs_stop_all(struct agent *a);
/* Wait up to timeout_ms for the worker and helper threads to finish (a worker's outcome is
 * then persisted). */
void jobs_wait_idle(struct agent *a, int timeout_ms);

/* Stop whatever runs in group (sig to its main process, SIGKILL after STOP_DEADLINE_MS), reap
 * child when > 0, and remove the group. Takes no lock. 0 / -1. */
int jobs_stop_group(struct agent *a, const char *group, int sig, pid_t child, struct err *e)
    __attribute__((warn_unused_result));

/* ---- for the job kinds of other files (agent/roles.c) ---- */

/* What a worker needs of a member, copied under the lock so that it can work without it, and
 * what the work found. */
struct job {
    enum job_kind kind;
    struct agent *a;  /* borrowed */
    struct member *m; /* borrowed: owned by the worker while m->busy */
    const struct engine_ops *ops;
    struct member_spec *ms;  /* owned: the spec and its strings */
    struct engine_spec spec; /* ms->spec */
    char *dir;               /* ms->dir */
    char group[40];
    struct iso_limits limits;
    int stop_signal;
    bool replica;                    /* seeded from its primary (JOB_PROVISION) */
    char seed_host[MEMBER_HOST_MAX]; /* the primary's agent seed server */
    int seed_port;
    int64_t primary_id;
    int64_t old_memory_mb; /* resize: the memory limit it runs with (0: unknown) */
    bool cred_changed;     /* resize: the verifier is not the one the engine was given */
    /* read when the worker starts */
    int version;    /* the spec_version whose limits the job applies */
    pid_t reap_pid; /* the running engine when this agent started it (reaped after a stop) */
    /* outcome */
    pid_t pid;           /* a started engine */
    bool pid_is_child;   /* ... that is this agent's child (reap it with waitpid) */
    bool restart_needed; /* a resize that applies fully only at the next restart */
    /* role changes (agent/roles.c) */
    bool was_running; /* the engine ran when the job was made */
    bool apply_sync;  /* JOB_REPL: sync changed: render and apply live first */
    unsigned repl_changes; /* m->repl_changes when the job was made (its spec's replication) */
    bool stopped;     /* fence: the engine was stopped (it cannot refuse writes) */
    bool rebuild;     /* rejoin: the data went to the quarantine, seed afresh */
    bool probed;      /* promote: health holds the probe right after */
    struct engine_health health;
};

/* The kinds of jobs. run() works without a->lock and returns 0 / -1 with e set; done() records the
 * outcome with a->lock held. */
struct job_ops {
    int (*run)(struct job *j, struct err *e);
    void (*done)(struct job *j, int rc, const struct err *e);
};

/* Start the engine in the job's group (leftovers stopped first) and wait until it answers,
 * then create the tenant's user. Sets *pid and *child (the agent's child: reap it). 0 / -1. */
int jobs_start_engine(struct job *j, pid_t *pid, bool *child, struct err *e)
    __attribute__((warn_unused_result));
/* Record a started engine (j->pid): it runs with the limits of spec_version j->version, in the
 * member's desired role; its replication is (re)applied next. Caller holds a->lock. */
void jobs_mark_running(struct job *j);
/* Stop whatever runs in the member's group (reaping child when > 0) and remove the group. */
int jobs_stop_member(struct job *j, pid_t child, struct err *e);
/* The next exponential back-off from *ms, between lo and hi. */
int jobs_backoff(int *ms, int lo, int hi);
/* Record what failed on a member that keeps its state ("what: msg"). Caller holds a->lock. */
void jobs_set_error(struct member *m, const char *what, const char *msg);
/* Report at once rather than at the next interval. Caller holds a->lock. */
void jobs_report_soon(struct agent *a);

/* What the progress checks of agent/progress.c read of a member: the size of log_path (NULL:
 * none), of dir when walk is true (else -1), and the CPU time and IO of group. */
struct progress_sample;
void jobs_sample(struct agent *a, const char *group, const char *log_path, const char *dir,
                 bool walk, struct progress_sample *s);

#endif
