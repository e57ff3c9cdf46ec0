/* The agent's side of the heartbeat (docs/agent.md): the status report to dbaasd, the exchange,
 * and applying the reply's desired members (reconcile). */
#ifndef AGENT_HEARTBEAT_H
#define AGENT_HEARTBEAT_H

#include "agent/agent.h"

/* One heartbeat on c: report, then reconcile the reply. With wait_ms, dbaasd holds the reply
 * until the desired members differ from the ones last applied (or wait_ms passed). *failures
 * counts the failed exchanges in a row (for logging one in ten). Takes a->lock. 0 / -1. */
int heartbeat_once(struct agent *a, struct httpc *c, int *failures, int wait_ms);

/* The heartbeat thread (arg: the struct agent): long polls on a->poll_http, so that a change
 * of the desired members reaches the agent at once; at least one heartbeat per heartbeat_ms.
 * Returns NULL when *a->stopping is set. */
void *heartbeat_poll_main(void *arg);

#endif
