/* Wake-ups for long-polling agents: a generation number that grows whenever some host's desired
 * members may have changed (placement, resize, deletion), and a wait for it to grow. In one
 * dbaasd process; with several sharing a store, agents still see changes at their next poll. */
#ifndef CONTROL_NOTIFY_H
#define CONTROL_NOTIFY_H

#include <stdint.h>

/* The current generation. */
uint64_t notify_generation(void);
/* Some desired state changed: wake every waiter. */
void notify_bump(void);
/* Wait until the generation differs from seen or timeout_ms passed; returns the generation. */
uint64_t notify_wait(uint64_t seen, int timeout_ms);

#endif
