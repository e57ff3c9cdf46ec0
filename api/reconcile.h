/* dbaasd's background loop: finishes what the API only records (deleting instances that hold no
 * resources anywhere) and expires old idempotency keys. Runs on its own thread. */
#ifndef API_RECONCILE_H
#define API_RECONCILE_H

#include "lib/err.h"

/* Start the loop (one pass every interval_ms). 0 / -1 with e set. */
int reconcile_start(int interval_ms, struct err *e) __attribute__((warn_unused_result));
/* Ask the loop to stop and wait for it. Safe to call when not started. */
void reconcile_stop(void);
/* One pass, on the calling thread. Returns the number of instances finalized, -1 on error. */
int reconcile_once(struct err *e);

#endif
