/* Leader election among the dbaasd sharing one store: a PostgreSQL advisory lock held by a
 * dedicated session. Only the leader runs the scheduler and the controller passes. */
#ifndef CONTROL_LEADER_H
#define CONTROL_LEADER_H

#include <stdbool.h>

/* Whether this process leads now: takes the lock if free, and checks that the session holding
 * it is still alive (losing the session loses the lock: then stop acting). Called by the
 * controller thread before every pass; logs changes of leadership. */
bool leader_check(const char *conninfo);

/* Whether this process leads, as the controller thread last found it (any thread). */
bool leader_leading(void);

/* Release the lock and close the session. */
void leader_release(void);

#endif
