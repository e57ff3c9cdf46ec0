/* The instance state machine: the states an instance goes through and the allowed transitions.
 * docs/states.md describes it for people; this module is the one place that enforces it. */
#ifndef LIB_ISTATE_H
#define LIB_ISTATE_H

#include <stdbool.h>

enum istate {
    IST_PENDING,      /* accepted, waiting for placement */
    IST_PROVISIONING, /* placed; the agent is creating it */
    IST_RUNNING,
    IST_RESIZING,
    IST_FAILING_OVER,
    IST_DEGRADED, /* serving, but a member is unhealthy */
    IST_DELETING,
    IST_DELETED, /* terminal */
    IST_FAILED,  /* terminal until deleted; carries a reason */
    IST__COUNT
};

/* "pending", "provisioning", ... (static strings); NULL for a value outside the enum. */
const char *istate_name(enum istate s);
/* Parse a state name; -1 when unknown. */
int istate_parse(const char *name, enum istate *out) __attribute__((warn_unused_result));

/* Whether from -> to is an allowed transition. Staying in the same state is not a transition
 * (returns false). Allowed:
 *   pending      -> provisioning, deleting, failed
 *   provisioning -> running, failed, deleting
 *   running      -> resizing, failing_over, degraded, deleting, failed
 *   resizing     -> running, degraded, failed, deleting
 *   failing_over -> running, degraded, failed, deleting
 *   degraded     -> running, resizing, failing_over, failed, deleting
 *   failed       -> deleting, provisioning (retry)
 *   deleting     -> deleted
 *   deleted      -> (none) */
bool istate_can_transition(enum istate from, enum istate to);

/* Whether an instance in this state still counts against quota and capacity (all but deleted). */
bool istate_counts_against_quota(enum istate s);

/* Whether a client may change the plan (PATCH) in this state: pending, running, degraded. */
bool istate_can_resize(enum istate s);

/* Whether a client may delete it: any state but deleting and deleted. */
bool istate_can_delete(enum istate s);

#endif
