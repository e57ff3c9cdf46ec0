/* dbaasd's HA loop (docs/ha.md, "Failover"): on the leader only, every 100 ms, it reads the
 * hosts' leases (control/lease.h) and the members of every instance with replicas, asks the
 * pure decisions of ha/failover.h what to do, and applies each step in one transaction
 * recorded in the failovers table and the events. A new leader continues the failovers in
 * flight from the table. Runs on its own thread. */
#ifndef CONTROL_HA_H
#define CONTROL_HA_H

#include "lib/err.h"

/* The loop's period. */
#define HA_TICK_MS 100

/* Start the loop (conninfo is the store's, for the leader check). 0 / -1 with e set. */
int ha_start(const char *conninfo, struct err *e) __attribute__((warn_unused_result));
/* Wake the loop now (a switchover was asked for through the API). */
void ha_kick(void);
/* Stop the loop and wait for it. Safe to call when not started; call before reconcile_stop(). */
void ha_stop(void);

#endif
