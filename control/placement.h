/* The scheduler's loop in dbaasd: places pending instances and replacement replicas with the
 * scheduler/ library and commits each placement in one transaction with the hosts' allocation. */
#ifndef CONTROL_PLACEMENT_H
#define CONTROL_PLACEMENT_H

#include "lib/err.h"
#include "lib/hbproto.h"

/* SQL, for the scheduler and the API's checks of a create or a resize: whether plan row P has
 * an IO limit; whether host row H cannot enforce IO limits (its agent reported io_limits false:
 * its data directory is on no block device; a host whose agent never said is taken as able). */
#define PLACEMENT_SQL_PLAN_IO(P)                                                                   \
    "(" P ".read_iops > 0 OR " P ".write_iops > 0 OR " P ".read_bps > 0 OR " P ".write_bps > 0)"
#define PLACEMENT_SQL_HOST_NO_IO(H)                                                                \
    "coalesce(" H ".agent->'" HB_F_IO_LIMITS "' = 'false'::jsonb, false)"

/* One pass: place what waits (oldest first), rebuild replicas away from draining hosts and hosts
 * unreachable past the grace period. Returns the number of members placed, -1 with e set. */
int placement_pass(struct err *e);

#endif
