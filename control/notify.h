/* Wake-ups for long-polling agents: a generation number that grows whenever some host's desired
 * members may have changed (placement, resize, deletion, failover), and a wait for it to grow.
 * Every dbaasd sharing a store sees every bump: notify_bump() also sends a PostgreSQL NOTIFY on
 * the store, and each dbaasd's listener thread turns the others' notifications into local bumps,
 * so an agent parked on one dbaasd hears at once of a change made through another. */
#ifndef CONTROL_NOTIFY_H
#define CONTROL_NOTIFY_H

#include <stdint.h>

#include "lib/err.h"

/* The current generation. */
uint64_t notify_generation(void);
/* Some desired state changed: wake every waiter here, and (after notify_start) in every other
 * dbaasd on the store. Call it after the change committed; from a thread with store access. */
void notify_bump(void);
/* Wait until the generation differs from seen or timeout_ms passed; returns the generation. */
uint64_t notify_wait(uint64_t seen, int timeout_ms);

/* Start the listener thread: a session of its own on the store (conninfo, copied) that LISTENs
 * and bumps on every notification, reconnecting after a failure (each reconnect also bumps:
 * a notification may have been missed). 0, or -1 with e set. */
int notify_start(const char *conninfo, struct err *e) __attribute__((warn_unused_result));
/* Stop it. */
void notify_stop(void);

#endif
