/* Wake-ups for long-polling agents: a generation number that grows whenever some host's desired
 * members may have changed (placement, resize, deletion, failover), and a wait for it to grow.
 * Each bump concerns every host or a few: a host's own generation is the generation of the last
 * bump that concerned it, so that a waiter for one host (a parked heartbeat, its cached desired
 * members) is woken by the changes that concern its host only. Every dbaasd sharing a store sees
 * every bump: a bump also sends a PostgreSQL NOTIFY on the store naming its hosts ("*" for all),
 * and each dbaasd's listener thread turns the others' notifications into local bumps, so an
 * agent parked on one dbaasd hears at once of a change made through another. */
#ifndef CONTROL_NOTIFY_H
#define CONTROL_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* The current generation: the snapshot a waiter takes before it reads what it waits on. */
uint64_t notify_generation(void);
/* The generation of the last bump that concerned host_id (every bump when host_id is 0): what
 * a waiter for that host read at a snapshot s is still current while this is <= s. */
uint64_t notify_host_generation(int64_t host_id);
/* Some host's desired state changed: wake every waiter here, and in every other dbaasd on the
 * store (after notify_start). Call it after the change committed; from a thread with store
 * access. For what concerns every host (a host's state or token, a stop). */
void notify_bump(void);
/* The desired state of the hosts with a member of the instances changed (instances: a
 * PostgreSQL array of their ids, "{id,...}"; also_host, when > 0, one more host, whose members
 * may be gone already): wake their waiters here and in every other dbaasd. When the hosts
 * cannot be read, every host is bumped. Same calling rules as notify_bump(). */
void notify_bump_instances(const char *instances, int64_t also_host);
/* The same for one instance (its id). */
void notify_bump_instance(const char *instance_id);
/* Wait until the generation differs from seen or timeout_ms passed; returns the generation. */
uint64_t notify_wait(uint64_t seen, int timeout_ms);

/* Start the listener thread: a session of its own on the store (conninfo, copied) that LISTENs
 * and bumps the hosts each notification names, reconnecting after a failure (each reconnect
 * bumps every host: a notification may have been missed). 0, or -1 with e set. */
int notify_start(const char *conninfo, struct err *e) __attribute__((warn_unused_result));
/* Stop it. */
void notify_stop(void);

#endif
