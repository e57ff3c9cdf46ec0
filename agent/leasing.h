/* The agent's lease and its fence guard (docs/agent.md, "The lease" and "Fencing"): the lease
 * thread renews over UDP every renew_ms at dbaasd's address (the host of --server) and the
 * lease port of the heartbeat reply; after each grant it feeds the fence guard (agent/fence.h)
 * the lease's end minus FENCE_MARGIN_MS and the groups of the members to fence (running
 * primaries of instances with replicas). It also reads the guard's markers: a member the guard
 * fenced is held down until a fresh reply with a valid lease says what it is now.
 *
 * NOTES: the lease's state lives in struct agent under a->lock (the lessee, the mode, the
 * startup deadline); the guard's pipe and the socket belong to the lease thread alone. No lock
 * is held across a send, a receive or a write to the guard. */
#ifndef AGENT_LEASING_H
#define AGENT_LEASING_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"

/* Whether dbaasd hands out leases (a->lease_mode). */
enum leasing_mode {
    LEASING_UNKNOWN, /* no reply since the agent started */
    LEASING_OFF,     /* the last reply carried no lease: dbaasd does not fence (nothing waits
                        for a lease; the guard is disarmed) */
    LEASING_ON,      /* the last reply carried a lease object */
};

/* At startup, before the threads and the adoption: start the fence guard (the previous
 * agent's, if it still runs, is left to fire at its own deadline until this agent holds a
 * lease of its own: then it is killed), and read the lease settings saved by the previous
 * agent (DATA/lease.json: ttl_ms and renew_ms, never the key). 0 / -1 with e set. */
int leasing_init(struct agent *a, struct err *e) __attribute__((warn_unused_result));
/* After the adoption: with saved settings, arm the guard at once with deadline now + ttl_ms -
 * FENCE_MARGIN_MS for the adopted primaries to fence, so that they are fenced when no lease
 * comes in time. Takes a->lock. */
void leasing_arm_adopted(struct agent *a);

/* A current heartbeat reply's lease object (NULL or JSON null: none), with the reply's desired
 * members, answering a request sent at req_ms (CLOCK_MONOTONIC): take the settings, and clear
 * the guard's fence of the members the reply lists when it may (a lease valid past the guard's
 * deadline, and the request left after the guard fired). Caller holds a->lock. */
void leasing_reply(struct agent *a, const json_t *lease, const json_t *desired, int64_t req_ms);

/* Whether a member that needs a lease (member_fenceable()) may start or be promoted now: with
 * LEASING_ON a lease valid for FENCE_MARGIN_MS more (the guard's deadline not passed), with
 * LEASING_OFF always, before the first reply never. Caller holds a->lock. */
bool leasing_may_start(const struct agent *a, int64_t now_ms);
/* HB_F_LEASE_VALID for the report: 1 / 0 with LEASING_ON, -1 (not sent) otherwise. Caller holds
 * a->lock. */
int leasing_report(const struct agent *a, int64_t now_ms);

/* The lease thread (arg: the struct agent), until *a->stopping. */
void *leasing_main(void *arg);
/* At shutdown, after the lease thread ended: close the guard's pipe. The guard fires at a
 * pending deadline (no lease is renewed any more), then exits. */
void leasing_close(struct agent *a);

#endif
