/* The lease table: what one dbaasd knows of each host's lease, in memory (docs/ha.md,
 * "Failure model"): the host's key, the last renewal seq it accepted and when (CLOCK_MONOTONIC
 * ms), renewal counters for the store's host_renewals table, and when the host's last HTTP
 * heartbeat arrived. A pure structure: no I/O, no clock, no lock (control/lease.c holds one
 * around every call). */
#ifndef CONTROL_LEASETAB_H
#define CONTROL_LEASETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/lease.h"

struct leasetab; /* opaque */

/* What leasetab_renew() made of a datagram. */
enum leasetab_verdict {
    LEASETAB_GRANTED,   /* verified, seq above the last: renewed */
    LEASETAB_MALFORMED, /* not a LEASE_RENEW datagram */
    LEASETAB_UNKNOWN,   /* no key for that host */
    LEASETAB_BAD_MAC,   /* the MAC does not verify under the host's key */
    LEASETAB_REPLAY,    /* seq not above the last accepted one */
};

/* A new empty table; leasetab_free() frees it (NULL accepted). */
struct leasetab *leasetab_new(void);
void leasetab_free(struct leasetab *t);
size_t leasetab_count(const struct leasetab *t);

/* Set host_id's key (copied), tagging the entry with mark (see leasetab_sweep). A key that
 * differs from the one held restarts the seq order. */
void leasetab_set_key(struct leasetab *t, int64_t host_id, const unsigned char key[LEASE_KEY_LEN],
                      unsigned mark);
/* Copy host_id's key into key. Whether the table has one. */
bool leasetab_get_key(const struct leasetab *t, int64_t host_id, unsigned char key[LEASE_KEY_LEN]);
/* Drop every entry whose mark is not mark (hosts whose key left the store). */
void leasetab_sweep(struct leasetab *t, unsigned mark);

/* Check a datagram of n bytes received at now_ms: on LEASETAB_GRANTED the host's last seq and
 * renewal time move, its renewal counter grows, it counts as seen (leasetab_take_heartbeats),
 * *msg holds the renewal and key the host's key (to sign the grant). Other verdicts change
 * nothing. */
enum leasetab_verdict leasetab_renew(struct leasetab *t, const unsigned char *buf, size_t n,
                                     int64_t now_ms, struct lease_msg *msg,
                                     unsigned char key[LEASE_KEY_LEN]);

/* When host_id's lease was last renewed (monotonic ms), -1 when never or unknown. */
int64_t leasetab_last_renewal(const struct leasetab *t, int64_t host_id);
/* Count every host with a key as renewed at now_ms (a new leader's takeover). */
void leasetab_touch_all(struct leasetab *t, int64_t now_ms);
/* Another dbaasd's count of host_id's renewals (host_renewals.renewals): when it advanced past
 * the last one seen, host_id counts as renewed at now_ms. The first count seen of a host only
 * sets the baseline: a row may be old (a takeover already counted every host as renewed). */
void leasetab_note_remote(struct leasetab *t, int64_t host_id, int64_t count, int64_t now_ms);

/* The renewals this table accepted and did not hand out yet: up to max (host id, count since
 * the last call) pairs into ids/counts; those are then counted as handed out. Returns how many. */
size_t leasetab_take_renewals(struct leasetab *t, int64_t *ids, int64_t *counts, size_t max);

/* host_id's HTTP heartbeat arrived at now_ms (creates the entry, without a key, if needed). A
 * granted renewal counts the same. */
void leasetab_note_heartbeat(struct leasetab *t, int64_t host_id, int64_t now_ms);
/* The heartbeats not handed out yet: up to max (host id, age in ms at now_ms) pairs. */
size_t leasetab_take_heartbeats(struct leasetab *t, int64_t now_ms, int64_t *ids, int64_t *ages,
                                size_t max);

#endif
