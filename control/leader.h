/* Leader election among the dbaasd sharing one store: a PostgreSQL advisory lock held by a
 * dedicated session. Only the leader runs the scheduler and the controller passes. */
#ifndef CONTROL_LEADER_H
#define CONTROL_LEADER_H

#include <stdbool.h>

/* Whether this process leads now: takes the lock if free, and checks that the session holding
 * it is still alive (losing the session loses the lock: then stop acting). Called by the
 * controller and HA threads before every pass (serialized); logs changes of leadership. *term
 * (may be NULL) gets the number of times this process took the lead: a new value means a new
 * term (the HA loop then treats every lease as renewed now). */
bool leader_check(const char *conninfo, unsigned long *term);

/* Release the lock and close the session. */
void leader_release(void);

#endif
