/* dbaasd's view of the hosts' leases (docs/ha.md, "Failure model"): when each host's agent last
 * renewed, on this process's monotonic clock, and the HA settings the leases run on. The lease
 * server (UDP, lib/lease.h) records renewals here; the HA loop (control/ha.c) reads them.
 *
 * NOTES: an in-memory table under one mutex, shared by the server's thread and the leader's
 * HA thread; nothing is written to the store per renewal. The settings are cached from the
 * store's ha_settings row and re-read at most once a second, outside the mutex. */
#ifndef CONTROL_LEASE_H
#define CONTROL_LEASE_H

#include <stdint.h>

/* Monotonic ms of the last renewal dbaasd saw for host_id (leader's view), or -1 if none since
 * this process became leader; lease_note_takeover() marks every host renewed now. */
int64_t lease_last_renewal_ms(int64_t host_id);
void lease_note_takeover(void);
/* A renewal of host_id's lease was accepted at now_ms (monotonic). */
void lease_renewed(int64_t host_id, int64_t now_ms);

struct ha_settings {
    int renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms;
};
/* current settings (cached from the store) */
void lease_settings(struct ha_settings *out);

#endif
