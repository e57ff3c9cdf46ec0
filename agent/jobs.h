/* Supervision of the members' engines: the worker threads that provision (or seed), restart,
 * resize, replicate and delete members, the check of running engines with restart after an
 * exponential back-off, and every change of a member's observed state. */
#ifndef AGENT_JOBS_H
#define AGENT_JOBS_H

#include "agent/agent.h"
#include "agent/member.h"
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

/* What the progress checks of agent/progress.c read of a member: the size of log_path (NULL:
 * none), of dir when walk is true (else -1), and the CPU time and IO of group. */
struct progress_sample;
void jobs_sample(struct agent *a, const char *group, const char *log_path, const char *dir,
                 bool walk, struct progress_sample *s);

#endif
