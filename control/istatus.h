/* An instance's status from what its members show (docs/states.md): a pure decision, taken by
 * the heartbeat handler for each instance with a member on the reporting host. lib/istate.c
 * still says which transitions are allowed; the caller checks the answer against it. */
#ifndef CONTROL_ISTATUS_H
#define CONTROL_ISTATUS_H

#include <stdbool.h>

#include "lib/istate.h"

/* What the members of one instance show. Strings are borrowed. */
struct istatus_facts {
    bool all_current;     /* every member meant to run runs at its spec version */
    bool primary_running; /* the primary (meant to run) runs */
    bool primary_failed;  /* the primary's creation failed */
    bool pending_restart; /* some member applies the last resize's settings only at a restart */
    const char *failed_errors;   /* the failed members' errors ("; "-separated), or NULL */
    const char *replica_problem; /* why the replicas are not all healthy ("replica 13 on host
                                    \"h2\" is not connected to the primary; 1 of 2 replicas not
                                    placed yet"), or NULL when they are */
    const char *resize_failed;   /* an agent could not apply a member's current limits and the
                                    member runs on its old ones: the reason ("resize failed:
                                    ..."), or NULL */
};

/* The decision: the status to be in (from itself when it stays) and its status_reason. */
struct istatus_verdict {
    enum istate to;
    bool keep_reason;   /* leave status_reason as it is (reason is then NULL) */
    const char *reason; /* borrowed from the facts or static; NULL clears it */
};

/* Decide for an instance in status from:
 *   provisioning  -> running when every member is current and the replicas are healthy (while a
 *                    replica is unhealthy it stays, saying why); -> failed when the primary
 *                    failed to be created
 *   running       -> degraded while the primary runs and a replica is unhealthy
 *   resizing      -> running (healthy) or degraded (a replica unhealthy) once every member
 *                    applied the new limits; -> degraded, saying so, when a member's resize
 *                    failed (it serves on its old limits; a new PATCH is the way out)
 *   degraded      -> running once every member is current and healthy; otherwise stays,
 *                    saying why (a failed resize first)
 *   failed        -> provisioning (a retry) once every member runs at its spec version
 * Any other status stays with its reason. The failover states are the HA controller's. */
struct istatus_verdict istatus_decide(enum istate from, const struct istatus_facts *f);

#endif
