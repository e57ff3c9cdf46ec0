/* Lease renewals between dbaas-agent and dbaasd (docs/ha.md, "Failure model"): small UDP
 * datagrams, authenticated with HMAC-SHA256 under a per-host key that dbaasd hands to the agent
 * in the heartbeat reply (HB_F_LEASE). A renewal costs dbaasd one datagram in, one out and no
 * store write.
 *
 * Exchange: the agent sends LEASE_RENEW {host_id, seq} every renew_ms to the port dbaasd named;
 * dbaasd answers LEASE_GRANT {host_id, seq, ttl_ms} (same seq) when it accepted the renewal.
 * The agent's lease then runs until (its own monotonic time when it SENT seq) + ttl_ms: dbaasd
 * received it later than that, so dbaasd's view of the lease (receive time + ttl + margin)
 * always ends after the agent's. A datagram with a bad MAC, an unknown host or a seq not above
 * the last one seen is dropped without an answer.
 *
 * Wire format (big-endian, LEASE_MSG_LEN bytes):
 *   0  4  magic "DBL1"
 *   4  1  kind (enum lease_kind)
 *   5  3  zero
 *   8  8  host_id
 *  16  8  seq
 *  24  4  ttl_ms (grant; 0 in a renewal)
 *  28  4  zero
 *  32 32  HMAC-SHA256 of bytes 0..31 under the host's key */
#ifndef LIB_LEASE_H
#define LIB_LEASE_H

#include <stddef.h>
#include <stdint.h>

#define LEASE_MSG_LEN 64
#define LEASE_KEY_LEN 32

enum lease_kind {
    LEASE_RENEW = 1, /* agent -> dbaasd */
    LEASE_GRANT = 2, /* dbaasd -> agent */
};

struct lease_msg {
    enum lease_kind kind;
    int64_t host_id;
    uint64_t seq;
    uint32_t ttl_ms;
};

/* Encode m signed with key into out. */
void lease_encode(const struct lease_msg *m, const unsigned char key[LEASE_KEY_LEN],
                  unsigned char out[LEASE_MSG_LEN]);
/* Read the header of a datagram of n bytes without checking its MAC (to find the host whose
 * key checks it). 0, or -1 when it is not a lease datagram (length, magic, kind, padding). */
int lease_peek(const unsigned char *buf, size_t n, struct lease_msg *out)
    __attribute__((warn_unused_result));
/* lease_peek() and a constant-time check of the MAC under key. 0 / -1. */
int lease_decode(const unsigned char *buf, size_t n, const unsigned char key[LEASE_KEY_LEN],
                 struct lease_msg *out) __attribute__((warn_unused_result));

/* The ttl_ms of a grant from a dbaasd whose grants of the last unrecorded_ms may never reach
 * the leader (a non-leader whose last flush to the store that succeeded took its counts
 * unrecorded_ms ago). The leader takes a lease for expired only ttl_ms + margin_ms after it
 * saw the last renewal, so the grant must end by then, counted from that flush: at most
 * ttl_ms, and ttl_ms + margin_ms - unrecorded_ms - LEASE_GRANT_SLACK_MS. 0: grant nothing. */
#define LEASE_GRANT_SLACK_MS 50
uint32_t lease_grant_ttl(uint32_t ttl_ms, uint32_t margin_ms, int64_t unrecorded_ms);

#endif
