/* The HA controller's decisions (docs/ha.md, "Failover"): whether an instance's primary failed,
 * which replica to promote, whether the old primary is fenced so that promotion may proceed,
 * and the next step of a failover or switchover in flight. A pure library: no I/O, no clock,
 * no globals; dbaasd's loop (control/ha.c) feeds it what the store and the lease table show
 * and applies its answer.
 *
 * Rules (each is tested in tests/unit/test_ha.c):
 *  - A host's lease expired when its agent takes part in leases and now - last renewal >
 *    lease_ttl_ms + fence_margin_ms on dbaasd's monotonic clock. An unknown renewal (-1) never
 *    expires: only evidence fails a primary over.
 *  - A primary failed when its host's lease expired, or when, on a live host (lease live, or a
 *    ready host for an agent without leases), its engine was down or its probes failed for
 *    longer than grace_ms. A blip shorter than grace_ms triggers nothing. An instance with no
 *    replica never fails over.
 *  - A replica may be promoted when its host is live, it runs, its last probe answered, it is
 *    not being seeded, its position is known, it is not fenced and it did not lose the primary
 *    role within cooldown_ms (an explicit switchover target is exempt from the cooldown). The
 *    best is the highest position, then the lowest lag, then the lowest id.
 *  - Refused: no replica may be promoted; or the best lags more than max_lag_bytes behind the
 *    primary's last known position; or, in sync mode, a replica that may hold an acknowledged
 *    write (maybe_sync) is out of reach, is ahead of the best, or there is none.
 *  - The old primary is fenced when its lease expired, or its agent reports it fenced or
 *    stopped. Promotion waits for that; a switchover also waits until its target's position
 *    reaches the fenced primary's final one. Either wait ends at step_timeout_ms: aborted, and
 *    the old primary unfenced.
 *  - A failover then chooses on final positions: it waits while a replica that may be chosen
 *    or may hold an acknowledged write (a live host, running, answering, not seeding) still
 *    streams from the old primary by its last probe, unless its position already reached the
 *    fenced primary's final one; at most FAILOVER_SETTLE_MS after the fence, then it chooses
 *    on what it knows. A position probed before the primary stopped may be behind what that
 *    replica holds, so promoting on it could lose an acknowledged write and leave the replica
 *    that is really ahead unable to follow.
 *  - At most one failover per instance is in flight (the caller passes it); after an aborted
 *    one, no automatic one starts for the same primary within cooldown_ms. */
#ifndef HA_FAILOVER_H
#define HA_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Codes set in struct err by this module. */
enum failover_errc {
    FAILOVER_E_INVALID = ERR_BASE_HA + 1, /* settings out of range */
};

/* The HA settings the decisions use (the store's ha_settings row), all in milliseconds. */
struct failover_config {
    int64_t renew_ms;
    int64_t lease_ttl_ms;
    int64_t fence_margin_ms;
    int64_t grace_ms;
    int64_t cooldown_ms;
    int64_t step_timeout_ms;
};

/* The defaults: renew 300, ttl 1000, margin 250, grace 10000, cooldown 60000, step 30000. */
void failover_config_init(struct failover_config *cfg);
/* Check ranges and lease_ttl_ms >= 2 * renew_ms. 0, or -1 with e naming the setting (the first
 * word of e->msg is its name). */
int failover_config_check(const struct failover_config *cfg, struct err *e)
    __attribute__((warn_unused_result));

/* Set the setting named name ("renew_ms", "lease_ttl_ms", "fence_margin_ms", "grace_ms",
 * "failover_cooldown_ms", "step_timeout_ms": the API's and the store's names) after checking its
 * own range. 0, or -1 with e set (an unknown name, or out of range). */
int failover_config_set(struct failover_config *cfg, const char *name, int64_t value, struct err *e)
    __attribute__((warn_unused_result));

/* How long a failover waits, after the fence, for the replicas' final positions (each one's
 * probe seeing its upstream gone): beyond PostgreSQL's wal_receiver_timeout (10 s, which a
 * replica cut off from its primary without a word needs to notice), a probe period and a
 * heartbeat. */
#define FAILOVER_SETTLE_MS 12000

/* Tri-state for probe fields that may be unknown. */
enum failover_tri { FAILOVER_NO = 0, FAILOVER_YES = 1, FAILOVER_UNKNOWN = -1 };

/* One member meant to run, as the store and the lease table show it. */
struct failover_member {
    int64_t id;
    bool primary;             /* the role dbaasd gave it */
    bool lease_capable;       /* its host's agent takes part in leases */
    int64_t last_renewal_ms;  /* dbaasd's monotonic time of its host's last renewal; -1 unknown */
    bool host_ready;          /* heartbeats arrive (hosts.state ready) */
    bool host_draining;       /* its host is being drained */
    bool running;             /* the agent reports it running */
    bool stopped;             /* the agent reports it stopped */
    enum failover_tri alive;  /* its last probe answered */
    bool seeding;             /* a replica being copied */
    bool has_position;        /* position is known */
    int64_t position;         /* position_bytes of its last probe */
    bool has_lag;             /* lag_bytes is known */
    int64_t lag_bytes;        /* behind the primary */
    int64_t unhealthy_ms;     /* how long it has been continuously down or failing its probes */
    int64_t since_demoted_ms; /* since it lost the primary role; -1 never */
    bool maybe_sync;          /* may hold an acknowledged write (sync mode; the caller tracks it) */
    bool fenced;              /* its agent reports it fenced */
    enum failover_tri upstream; /* its last probe saw it streaming from its upstream */
};

/* An instance: its members meant to run (borrowed) and its replication settings. */
struct failover_instance {
    bool sync;
    int64_t max_lag_bytes;
    const struct failover_member *members;
    int n_members;
};

enum failover_kind { FAILOVER_AUTO, FAILOVER_SWITCHOVER };

/* The states of a failover record (failovers.state in the store). */
enum failover_state {
    FAILOVER_DETECTED,  /* recorded (a switchover asked for): nothing done yet */
    FAILOVER_FENCING,   /* the old primary was asked to stop taking writes */
    FAILOVER_PROMOTING, /* fenced; waiting for a candidate (switchover: its catch-up) */
    FAILOVER_DONE,      /* promoted */
    FAILOVER_REFUSED,   /* no replica could be promoted: the old primary stays */
    FAILOVER_ABORTED,   /* gave up waiting: the old primary was unfenced */
    FAILOVER__STATES
};

/* "detected", "fencing", ...; NULL outside the enum. */
const char *failover_state_name(enum failover_state s);
/* 0, or -1 for an unknown name. */
int failover_state_parse(const char *name, enum failover_state *out)
    __attribute__((warn_unused_result));
/* Whether a record in this state is in flight (detected, fencing, promoting). */
bool failover_in_flight(enum failover_state s);

/* A failover record in flight, or the context when none is. */
struct failover_flight {
    bool active;             /* a record is in flight */
    enum failover_kind kind; /* active */
    enum failover_state state;
    int64_t from;     /* the primary when it began */
    int64_t to;       /* the requested or chosen target; 0 none */
    int64_t state_ms; /* time spent in the current state */
    /* When none is in flight: ms since the last aborted one of this primary ended (-1 none). */
    int64_t since_abort_ms;
};

enum failover_op {
    FAILOVER_OP_NONE,    /* nothing to do now */
    FAILOVER_OP_START,   /* the primary failed: record it and ask for the fence (-> fencing) */
    FAILOVER_OP_DRAIN,   /* the primary's host drains: record a switchover (-> detected) */
    FAILOVER_OP_FENCE,   /* a switchover: ask the fence, target chosen (-> fencing) */
    FAILOVER_OP_FENCED,  /* the fence is done (-> promoting) */
    FAILOVER_OP_PROMOTE, /* promote target now (-> done) */
    FAILOVER_OP_REFUSE,  /* no replica can be promoted (-> refused; unfence) */
    FAILOVER_OP_ABORT,   /* give up (-> aborted; unfence) */
};

/* Why a primary failed. */
enum failover_cause { FAILOVER_HEALTHY, FAILOVER_LEASE, FAILOVER_ENGINE };

struct failover_step {
    enum failover_op op;
    int64_t target;     /* FENCE, PROMOTE: the member to promote */
    bool lease_expired; /* FENCED: by the lease (else the agent confirmed) */
    char reason[400];   /* START, DRAIN: why; REFUSE, ABORT: why not */
};

/* Whether m's host lease expired at now_ms. */
bool failover_lease_expired(const struct failover_config *cfg, const struct failover_member *m,
                            int64_t now_ms);
/* Whether m's host is live: lease not expired (an agent with leases) or ready (without). */
bool failover_host_live(const struct failover_config *cfg, const struct failover_member *m,
                        int64_t now_ms);
/* Whether m looks down right now (not running, or its last probe did not answer): the caller
 * measures how long this holds and passes it as unhealthy_ms. */
bool failover_member_bad(const struct failover_member *m);

/* Whether the instance's primary failed (why into reason, of size n). */
enum failover_cause failover_detect(const struct failover_config *cfg,
                                    const struct failover_instance *inst, int64_t now_ms,
                                    char *reason, size_t n);

/* Choose the replica to promote: the requested one when to > 0 (exempt from the cooldown),
 * else the best, leaving out replicas on draining hosts when avoid_draining. For an automatic
 * failover (kind FAILOVER_AUTO) also the max_lag_bytes bound and, in sync mode, the
 * acknowledged writes (a switchover waits for its target to catch up instead). The member's
 * id, or 0 with the refusal in reason (of size n). */
int64_t failover_choose(const struct failover_config *cfg, const struct failover_instance *inst,
                        int64_t now_ms, enum failover_kind kind, int64_t to, bool avoid_draining,
                        char *reason, size_t n);

/* Whether the primary from is fenced (*by_lease: through its lease). */
bool failover_fenced(const struct failover_config *cfg, const struct failover_member *from,
                     int64_t now_ms, bool *by_lease);

/* The next step for an instance: fl is its flight (fl->active false when none is in flight).
 * Pure: the caller applies the step, updates fl and may ask again. */
struct failover_step failover_decide(const struct failover_config *cfg,
                                     const struct failover_instance *inst,
                                     const struct failover_flight *fl, int64_t now_ms);

#endif
