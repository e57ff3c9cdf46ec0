/* The reconcile decision: given the members the agent knows and the desired members of a
 * heartbeat reply, what to do with each member. A pure function (no I/O, threads or engines)
 * that unit tests call directly; agent/heartbeat.c applies its steps. */
#ifndef AGENT_DESIRED_H
#define AGENT_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/member.h"

enum desired_action {
    DESIRED_KEEP,      /* known and listed: take the entry's fields, start no work (nothing
                          changed, already deleted, failed, down and waiting for its restart
                          or its next seeding, or a worker owns it) */
    DESIRED_MALFORMED, /* listed, but malformed: ignore the entry (logged); a known member
                          keeps what it had (a missing limit never means unlimited) */
    DESIRED_CREATE,    /* unknown, desired running: record it and provision it */
    DESIRED_CLEANUP,   /* unknown, desired deleted: record it and remove what a crash may have
                          left of it */
    DESIRED_PROVISION, /* known, desired running and still pending: provision it */
    DESIRED_RESIZE,    /* known, desired running, running with another spec_version's limits
                          whose resize has not failed already: take the entry's fields and
                          apply its limits (a failed one is tried again only for a newer
                          spec_version) */
    DESIRED_DELETE,    /* known, desired deleted and not gone yet: take the fields, delete it */
    DESIRED_UNLISTED,  /* known, not listed, not deleted: keep it as it is (only an explicit
                          desired "deleted" deletes); logged once, still reported */
    DESIRED_FORGET,    /* known, not listed, deleted: drop its record */
};

/* One decision. */
struct desired_step {
    enum desired_action action;
    int64_t id;          /* the member's id (the entry's id for a listed member) */
    const json_t *entry; /* borrowed from the reply: the member's desired entry; NULL for a
                            member the reply does not list */
    bool spec_changed;   /* listed and known: the entry's spec_version differs from the
                            member's, so that the member's record is saved */
};

/* Decide what a reply asks for (a current one: desired_reply_current()). members: the agent's
 * list (borrowed, not changed); desired: the reply's "members" array (borrowed). The steps come
 * in the order to apply them: one per entry of desired, in its order (a later entry with the id
 * of an earlier one sees the member as the earlier step left it), then one per member the reply
 * does not list and no worker owns (m->busy), in list order. The decision looks only at the
 * member's id, state, busy, spec_version, applied_version and resize_failed_version and the entry's
 * id, desired, spec_version and well-formedness (member_desired_check()); the reply's desired_hash
 * plays no part. Sets *steps to a new array (caller frees; allocated even for 0 steps) and returns
 * its length. */
size_t desired_plan(const struct member *members, const json_t *desired,
                    struct desired_step **steps);

/* Whether a reply is to be applied: its generation (HB_F_GENERATION; 0 when it carries none,
 * as from a dbaasd older than HA part 1) is not older than applied, the newest generation the
 * agent applied. The heartbeat thread and the main thread each exchange with dbaasd, so their
 * replies can arrive out of order: an older one would set members back to older limits.
 * Sets *generation to the reply's. */
bool desired_reply_current(const json_t *reply, int64_t applied, int64_t *generation);

/* The bounds the agent holds dbaasd's heartbeat_interval_ms within. */
#define DESIRED_INTERVAL_MIN_MS 100
#define DESIRED_INTERVAL_MAX_MS 60000

/* What a reply says besides its members and its lease. */
struct desired_reply_info {
    char hash[65];    /* HB_F_DESIRED_HASH, to send back with the next request: "" when absent
                         or not a string of 1..64 bytes without NUL (the next reply then
                         carries the members again) */
    int heartbeat_ms; /* HB_F_HEARTBEAT_INTERVAL_MS held within DESIRED_INTERVAL_MIN_MS..
                         DESIRED_INTERVAL_MAX_MS; 0 when absent or not an integer (the agent
                         keeps its interval) */
};

/* Read a reply's hash and heartbeat interval into out (a current reply: the caller checked
 * desired_reply_current()). */
void desired_reply_info(const json_t *reply, struct desired_reply_info *out);

/* Whether the reply's "members" array (borrowed; anything else lists nothing) has an entry
 * with the integer id id. */
bool desired_lists(const json_t *desired, int64_t id);

/* "keep", "create", ... (static strings, for logs and tests); NULL outside the enum. */
const char *desired_action_name(enum desired_action a);

/* ---- role changes and fencing (agent/roles.c runs the jobs) ---- */

enum desired_role {
    DESIRED_ROLE_NONE,    /* nothing for the roles: supervise as usual (restart a dead engine) */
    DESIRED_ROLE_HOLD,    /* down and to stay down: fenced by the guard (until a fresh reply), a
                     desired fence on a primary, or a primary that needs a lease it does not
                     hold */
    DESIRED_ROLE_PROMOTE, /* desired primary, runs as a replica: JOB_PROMOTE (needs the lease) */
    DESIRED_ROLE_REJOIN,  /* desired replica, runs (or ran) as a primary: JOB_REJOIN */
    DESIRED_ROLE_FENCE,   /* desired fence on a running primary not fenced yet: JOB_FENCE */
    DESIRED_ROLE_UNFENCE, /* fence lifted on a running primary that refuses writes: JOB_UNFENCE */
};

/* The decision for m (not busy, desired running, state running or starting), given whether a
 * member that needs a lease (member_fenceable()) may start now (leasing_may_start()). Reads
 * only m's fields. */
enum desired_role desired_role_decide(const struct member *m, bool lease_ok);
/* "none", "hold", ... (static); NULL outside the enum. */
const char *desired_role_name(enum desired_role a);

#endif
