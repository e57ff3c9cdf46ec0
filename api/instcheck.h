/* The checks a create and a PATCH of an instance share (docs/api.md): the plan's size, which
 * quota limit a change would pass, and whether there are hosts enough for the members asked
 * for. Each answers the request itself when the check fails. */
#ifndef API_INSTCHECK_H
#define API_INSTCHECK_H

#include <stdint.h>

#include "api/http.h"

/* The plan's size into size[0..2] (CPU millis, memory MiB, disk MiB). 0, or -1 after replying
 * 400 invalid_field naming "plan". */
int instcheck_plan_size(struct req *r, const char *plan, int64_t size[3])
    __attribute__((warn_unused_result));

/* Name the quota limit that adding add[] (instances, CPU, memory, disk) to the tenant's usage
 * would pass: replies 409 quota_exceeded and returns -1. Returns 0 when nothing would be passed
 * (a race with a concurrent change: the caller may retry). */
int instcheck_quota(struct req *r, const char *tenant_id, const int64_t add[4])
    __attribute__((warn_unused_result));

/* Whether members members of an instance of engine with plan (each on a host of its own) can
 * ever be placed: the hosts that offer the engine and are large enough for the plan when empty
 * must be at least as many (whatever their state now: a draining or unreachable host may take
 * members again). When no host offers the engine at all the fleet is
 * taken as not set up yet and the instance may wait. 0, or -1 after replying 422
 * too_few_hosts, the message saying how many hosts fit. *ready (may be NULL) gets how many of
 * the hosts that fit are ready now. */
int instcheck_hosts(struct req *r, const char *engine, const char *plan, int64_t members,
                    int64_t *ready) __attribute__((warn_unused_result));

#endif
