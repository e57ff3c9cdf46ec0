/* What an agent reports in a heartbeat (docs/agent.md), checked before it reaches the store:
 * the host's own fields, the members' ids and states, and each member's health probe and
 * seeding progress reduced to the known fields of the known types, so that the store only ever
 * holds values it can compute with. A pure module (jansson, lib/hbproto.h): no I/O, no
 * logging. */
#ifndef API_HBCHECK_H
#define API_HBCHECK_H

#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"

/* The longest health.error and health.position kept (bytes; a longer error is cut at a UTF-8
 * boundary, a longer position is dropped). */
#define HBCHECK_ERROR_MAX 500
#define HBCHECK_POSITION_MAX 64

/* The host's own fields of a heartbeat that dbaasd writes itself (the others go to the store
 * as the agent's record). */
struct hbcheck_host {
    bool has_ports;         /* HB_F_PORTS was given: */
    int port_min, port_max; /* its range */
};

/* Check the top level of a heartbeat body (an object): HB_F_PORTS ({min, max}, integers with
 * 1024 <= min <= max <= 65535), HB_F_SEED_PORT (a port 1..65535, or null), HB_F_LEASE_VALID
 * and HB_F_IO_LIMITS (booleans), each optional; fill out. 0, or -1 with e set (API_E_INVALID;
 * the caller answers 400) and *field naming the field at fault (a static string). */
int hbcheck_host(const json_t *body, struct hbcheck_host *out, const char **field, struct err *e)
    __attribute__((warn_unused_result));

/* Check the request's members (an array of objects, each with an integer id of its own and a
 * known state) and replace in place each member's health, seeding and usage by their clean
 * forms (hbcheck_health(), hbcheck_seeding(), hbcheck_usage(); removed when null), and its
 * pid, restarts, applied_version, resize_version (integers 0..INT32_MAX: the store's int
 * columns), pending_restart (boolean) and resize_error (text, cut) by themselves, or nothing
 * when of another type or range. Bad values inside health or seeding never fail the check:
 * they are dropped. 0, or -1 with e set (API_E_INVALID, the message names what is wrong; the
 * caller answers 400 naming "members"). */
int hbcheck_members(json_t *members, struct err *e) __attribute__((warn_unused_result));

/* A clean copy of a reported health object: only alive, writable, upstream_up (booleans), role
 * ("primary" or "replica"), position (a string of at most HBCHECK_POSITION_MAX bytes),
 * position_bytes, lag_bytes, age_ms (integers >= 0), lag_seconds (a number >= 0) and error (a
 * string, cut to HBCHECK_ERROR_MAX bytes); any other key or a value of another type or range is
 * left out. NULL when in is not an object. New reference (the caller decrefs). */
json_t *hbcheck_health(const json_t *in);

/* The same for seeding: bytes and elapsed_ms (integers >= 0). NULL when in is not an object. */
json_t *hbcheck_seeding(const json_t *in);

/* The same for usage: cpu_usec, memory_bytes, io_read_bytes, io_write_bytes, disk_mb and
 * oom_kills (integers >= 0): a malformed value from one agent must not break the statements
 * that read other hosts' members (disk warnings, storage_full). */
json_t *hbcheck_usage(const json_t *in);

#endif
