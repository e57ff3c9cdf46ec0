/* The agent's seed server: agent/seedsrv.c serving this agent's primaries. A replica's agent
 * may stream a seed of member P when P runs here as a primary, lists the replica among its
 * replicas, and the replica proves it knows P's replication secret. The stream is the output
 * of the driver's engine_seed_source() command, run as the OS user under isolation in a group
 * of its own ("<tag>-m<P>-s<R>", with P's CPU, memory and IO limits) through the agent's
 * `seed-source` command, which writes it into a FIFO in DATA_DIR/seed/ (root's, 0711) that the
 * server relays to the replica. */
#ifndef AGENT_SEED_H
#define AGENT_SEED_H

#include "agent/agent.h"

struct seed_server;

/* Listen on cfg->advertise port cfg->seed_port. NULL with e set when it cannot. */
struct seed_server *seed_server_start(struct agent *a, struct err *e);
/* Stop serving: streams in progress are aborted. NULL is fine. */
void seed_server_stop(struct seed_server *s);

#endif
