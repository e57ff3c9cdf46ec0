/* Leader election among the dbaasd sharing one store: a PostgreSQL advisory lock held by a
 * dedicated session. Only the leader runs the scheduler and the controller passes. */
#ifndef CONTROL_LEADER_H
#define CONTROL_LEADER_H

#include <stdbool.h>

/* Whether this process leads now: takes the lock if free, and checks that the session holding
 * it is still alive (losing the session loses the lock: then stop acting). Called by the
 * controller and HA threads before every pass (thread-safe); logs changes of leadership. *term
 * (may be NULL) gets the number of times this process took the lead: a new value means a new
 * term (the HA loop then treats every lease as renewed now). A candidate
 * that finds the lock held by a session silent for 5 s (a hung leader) ends that session. */
bool leader_check(const char *conninfo, unsigned long *term);

/* Whether this process led at its last check and that check is recent (under 2 s on the
 * monotonic clock): a thread about to act as the leader between two leader_check() calls asks
 * this first, so that a leader that was frozen and has been replaced does nothing before it
 * notices. Lock-free; the store guard of the leader's passes (store_set_guard()). */
bool leader_valid(void);

/* Whether this process leads, as the last check found it (any thread, no store access). */
bool leader_leading(void);

/* The pass locks of the leader's two loops (store_set_guard()): advisory lock keys next to the
 * leader's own. */
#define LEADER_PASS_KEY_RECONCILE 7212488LL
#define LEADER_PASS_KEY_HA 7212489LL

/* Release the lock and close the session. */
void leader_release(void);

#endif
