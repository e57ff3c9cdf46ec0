/* The agent's side of the lease (docs/agent.md, "The lease"): the settings dbaasd hands out in
 * the heartbeat reply (HB_F_LEASE), the renewals sent and the grants that extend the lease.
 * Pure bookkeeping (no I/O, no clock, no lock): the lease thread (agent/leasing.c) sends and
 * receives, and passes the time in; tests/unit/test_lessee.c drives it with a fake clock.
 *
 * A grant for seq extends the lease to (the monotonic time seq was SENT) + the grant's ttl_ms:
 * dbaasd received seq later than that, so its view of the lease always ends after ours. */
#ifndef AGENT_LESSEE_H
#define AGENT_LESSEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"
#include "lib/lease.h"

#define LESSEE_SENT_MAX 32 /* renewals remembered: a grant for an older one is dropped */

/* What the heartbeat reply's "lease" object says. The key is a secret: never logged. */
struct lessee_settings {
    int64_t host_id;                  /* HB_F_HOST_ID */
    int port;                         /* dbaasd's UDP port for lease datagrams */
    unsigned char key[LEASE_KEY_LEN]; /* HB_F_KEY, base64url in the reply */
    int ttl_ms;                       /* HB_F_TTL_MS */
    int renew_ms;                     /* HB_F_RENEW_MS: send a renewal this often */
};

struct lessee {
    bool configured;
    struct lessee_settings s;
    uint64_t last_seq; /* of the last renewal sent */
    struct {
        uint64_t seq;
        int64_t sent_ms;
    } sent[LESSEE_SENT_MAX]; /* ring: the renewals sent, by seq % LESSEE_SENT_MAX */
    int64_t end_ms;          /* the lease runs until then (0: never granted) */
    int64_t valid_since_ms;  /* the start of the lease's current unbroken run: the send time
                                of the first seq granted after a gap (or ever) */
    uint64_t grants;         /* grants accepted since start */
};

/* Parse the reply's lease object: {host_id, port, key, ttl_ms, renew_ms}, every field present,
 * key exactly LEASE_KEY_LEN bytes of base64url, 1 <= renew_ms, 2 * renew_ms <= ttl_ms <=
 * 600000, host_id > 0, port 1..65535. 0, or -1 with e set (the message never quotes the key). */
int lessee_settings_parse(const json_t *lease, struct lessee_settings *out, struct err *e)
    __attribute__((warn_unused_result));
/* What a heartbeat reply's lease field (HB_F_LEASE) says. */
enum lessee_reply {
    LESSEE_REPLY_NONE, /* absent or JSON null: dbaasd hands out no lease */
    LESSEE_REPLY_OK,   /* settings that lessee_settings_parse() accepts */
    LESSEE_REPLY_BAD,  /* anything else: dbaasd fences on leases, but this one cannot be used */
};

/* Classify the reply's lease field; with LESSEE_REPLY_OK *out holds its settings, with
 * LESSEE_REPLY_BAD e says what is wrong (never quoting the key). */
enum lessee_reply lessee_reply_parse(const json_t *lease, struct lessee_settings *out,
                                     struct err *e);
/* Take new settings. Renewals sent under other settings (another key) are forgotten; the lease
 * already granted runs to its end. Returns whether anything changed. */
bool lessee_configure(struct lessee *l, const struct lessee_settings *s);
/* Forget the settings (dbaasd stopped handing out leases); the lease granted runs to its end. */
void lessee_unconfigure(struct lessee *l);

/* The renewal to send now (now_ms: CLOCK_MONOTONIC; wall_us: CLOCK_REALTIME in microseconds):
 * its seq is max(last + 1, wall_us), so that it keeps growing across agent restarts (dbaasd
 * drops a seq not above the last it saw). Encoded into out and remembered with its send time.
 * -1 when not configured. */
int lessee_renewal(struct lessee *l, int64_t now_ms, uint64_t wall_us,
                   unsigned char out[LEASE_MSG_LEN]) __attribute__((warn_unused_result));
/* A datagram received: true when it is a LEASE_GRANT under our key, for our host, for a seq we
 * sent and remember; the lease then runs until that seq's send time + the grant's ttl_ms (never
 * shortened by an older grant). */
bool lessee_grant(struct lessee *l, const unsigned char *buf, size_t n);
/* Whether the lease is valid at now_ms (granted once, and not past its end). */
bool lessee_valid(const struct lessee *l, int64_t now_ms);

#endif
