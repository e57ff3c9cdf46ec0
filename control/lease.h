/* Leases in dbaasd (docs/ha.md, "Failure model"): the UDP server that grants the agents'
 * renewals (lib/lease.h), the per-host keys, the leader's view of when each host last renewed,
 * the HA settings as the store holds them, and the HTTP heartbeats' arrival times.
 *
 * NOTES: two threads of its own: the receiver (one UDP socket, recvmmsg/sendmmsg batches, no
 * store access) and the keeper (its own store connection: every 100 ms it flushes what the
 * store must know, polls what other dbaasd saw, reloads settings and keys). Both share the
 * in-memory table (control/leasetab.c) under one mutex that is never held across a system call
 * or a statement. A renewal writes nothing to the store. */
#ifndef CONTROL_LEASE_H
#define CONTROL_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/lease.h"

/* The HA settings (table ha_settings, GET/PUT /v1/ha); defaults when the store has none. */
struct ha_settings {
    int renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms;
};

#define LEASE_DEFAULT_RENEW_MS 300
#define LEASE_DEFAULT_TTL_MS 1000
#define LEASE_DEFAULT_FENCE_MARGIN_MS 250
#define LEASE_DEFAULT_GRACE_MS 10000
#define LEASE_DEFAULT_COOLDOWN_MS 60000

/* Start: load the keys and settings from the store (store_init() done), bind UDP addr:port
 * (addr an IPv4 address; port 0: no lease server, the rest still runs), start the threads.
 * 0 / -1 with e set. */
int lease_start(const char *addr, int port, struct err *e) __attribute__((warn_unused_result));
/* Stop the threads and close the socket. */
void lease_stop(void);
/* The UDP port renewals go to; 0 when the lease server is off. */
int lease_port(void);

/* host_id's key into key: from memory, else from the store, else a new one (32 random bytes,
 * table host_lease_keys; the first writer wins). Runs store statements on the caller's thread
 * only when this process does not know the key yet. The key is a secret: never log it.
 * 0 / -1 with e set (the store failed). */
int lease_host_key(int64_t host_id, unsigned char key[LEASE_KEY_LEN], struct err *e)
    __attribute__((warn_unused_result));

/* host_id's HTTP heartbeat arrived now: kept in memory, written to the store's UNLOGGED
 * host_seen table within a second (the host view's last_heartbeat and the liveness check read
 * the later of it and hosts.last_heartbeat). A granted lease renewal counts the same: a host
 * whose agent renews is alive even while its HTTP heartbeats queue behind a busy dbaasd. */
void lease_note_heartbeat(int64_t host_id);

/* Monotonic ms of the last renewal this dbaasd's leader view saw for host_id, or -1 if none
 * since this process became leader; lease_note_takeover() marks every known host renewed now. */
int64_t lease_last_renewal_ms(int64_t host_id);
void lease_note_takeover(void);
/* The current settings (cached from the store, refreshed every second). */
void lease_settings(struct ha_settings *out);

/* Append the lease counters (Prometheus text) to out. */
void lease_metrics(struct buf *out);

#endif
