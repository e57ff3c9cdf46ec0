/* The heartbeat request's content (docs/agent.md): the agent's host record and its members'
 * observed state, as JSON. Pure: the caller samples usage and capacity first. */
#ifndef AGENT_REPORT_H
#define AGENT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/member.h"

#define AGENT_VERSION "0.1.0"

/* What the agent reports of its host. */
struct report_host {
    const char *isolation; /* iso_kind_name() of the backend in use (borrowed) */
    int64_t cpu_millis, memory_mb, disk_mb;
    int port_min, port_max;
    int seed_port;   /* the seed server's port (HB_F_SEED_PORT); 0: none */
    int lease_valid; /* HB_F_LEASE_VALID: 1 or 0; -1: not sent (dbaasd hands out no lease, and
                        one older than HA part 2 refuses the field) */
    bool io_limits;  /* HB_F_IO_LIMITS: the data directory is on a block device */
};

/* One member's entry of the request's "members": id, state, pid, restarts, applied_version,
 * pending_restart, fenced (a desired fence carried out, or the fence guard fired), usage (as last
 * sampled: m->usage, m->disk_used_mb), health (null before the first probe), seeding {bytes,
 * elapsed_ms} while a replica is seeded and, when set, error. now_ms (clock_now_ms()) ages the
 * probe. Returns a new reference. */
json_t *report_member(const struct member *m, int64_t now_ms);
/* A member's last probe as the request's "health" object (null before the first probe):
 * alive, role, writable, position, position_bytes, upstream_up, lag_bytes, lag_seconds (each
 * null when the probe could not tell), age_ms, error (null when the engine answered). A new
 * reference. */
json_t *report_health(const struct member_health *mh, int64_t now_ms);

/* The request body. engines (an array of engine names) and members (of report_member()
 * entries) are stolen; desired_hash ("" when no reply was applied yet) is sent back so that
 * dbaasd can hold the reply until the desired members change, for up to wait_ms. Returns a new
 * reference. */
json_t *report_request(const struct report_host *h, json_t *engines, json_t *members,
                       const char *desired_hash, int wait_ms);

#endif
