/* Seeding a replica: its data copied from the primary before its engine starts. The driver's
 * engine_seed() plans the steps (pg_basebackup; mbstream and mariadb-backup --prepare); this
 * module runs each step as the engine's OS user inside the member's isolation group, with its
 * limits, through the agent's own `seed-fetch` wrapper (agent/seedcmd.c), which connects a
 * step that reads the seed stream to the primary's agent (agent/seed.c) and records the
 * step's exit status. A step fails only when it stops making progress for a while, never
 * after a fixed total. Called on a provision job's worker thread (agent/jobs.c). */
#ifndef AGENT_SEEDING_H
#define AGENT_SEEDING_H

#include <stdint.h>

#include "agent/agent.h"
#include "agent/member.h"
#include "engines/engine.h"
#include "isolation/isolation.h"
#include "lib/err.h"

/* Everything a seeding needs; borrowed. */
struct seeding {
    struct agent *a;
    struct member *m; /* owned by the calling worker (m->busy); its seeding fields are written
                         under a->lock for the report */
    const struct engine_ops *ops;
    const struct member_spec *ms;
    const char *group;
    struct iso_limits limits;
    const char *seed_host; /* the primary's agent seed server ("": none) */
    int seed_port;
    int64_t primary_id;
};

/* Seed the replica's data (engine_seed()). 0, or -1 with e set; the caller removes what a
 * failed seeding left (the member directory, the group). */
int seeding_run(const struct seeding *sd, struct err *e) __attribute__((warn_unused_result));

/* Run one step as seeding does (the run_step of engine_seed() and engine_rejoin()); ctx is a
 * struct seeding. 0, or -1 with e set, its message ending with the step's last output lines. */
int seeding_step(void *ctx, const struct engine_seed_step *step, struct err *e)
    __attribute__((warn_unused_result));

#endif
