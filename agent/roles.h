/* Role changes and fencing driven by the desired state (docs/agent.md, "Role changes"): a
 * replica that becomes the primary is promoted, a former primary that becomes a replica
 * rejoins (rewind, or a fresh seed when that fails), a primary asked to fence refuses writes or
 * stops. desired_role_decide() (agent/desired.h) is the pure decision that jobs_supervise() takes
 * for every member it supervises; the jobs run through the trampoline of agent/jobs.c. */
#ifndef AGENT_ROLES_H
#define AGENT_ROLES_H

#include <stdbool.h>

#include "agent/jobs.h"
#include "agent/member.h"

/* The job kinds (agent/jobs.c's table). */
extern const struct job_ops roles_promote_job, roles_rejoin_job, roles_fence_job, roles_unfence_job;

#endif
