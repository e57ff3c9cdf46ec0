/* The scheduler's loop in dbaasd: places pending instances and replacement replicas with the
 * scheduler/ library and commits each placement in one transaction with the hosts' allocation. */
#ifndef CONTROL_PLACEMENT_H
#define CONTROL_PLACEMENT_H

#include "lib/err.h"

/* One pass: place what waits (oldest first), rebuild replicas away from draining hosts and hosts
 * unreachable past the grace period. Returns the number of members placed, -1 with e set. */
int placement_pass(struct err *e);

#endif
