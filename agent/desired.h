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

/* "keep", "create", ... (static strings, for logs and tests); NULL outside the enum. */
const char *desired_action_name(enum desired_action a);

#endif
