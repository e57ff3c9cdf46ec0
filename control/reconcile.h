/* dbaasd's controller loop: host liveness, placement (control/placement.c), replica replacement,
 * deletions (an instance is deleted once its agents removed every member) and the expiry of
 * idempotency keys. Runs on its own thread, on the leader only. */
#ifndef CONTROL_RECONCILE_H
#define CONTROL_RECONCILE_H

#include "lib/err.h"

/* Start the loop (one pass every interval_ms, while this process leads; conninfo is the store's,
 * for the leader's own session). 0 / -1 with e set. */
int reconcile_start(const char *conninfo, int interval_ms, struct err *e)
    __attribute__((warn_unused_result));
/* Wake the loop for a pass now (after a change made through the API). */
void reconcile_kick(void);
/* Ask the loop to stop and wait for it. Safe to call when not started. */
void reconcile_stop(void);
/* One pass, on the calling thread. Returns the number of instances finalized, -1 on error. */
int reconcile_once(struct err *e);

#endif
