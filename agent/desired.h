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
                          changed, already deleted, failed, down and waiting for its restart,
                          or a worker owns it) */
    DESIRED_MALFORMED, /* unknown and listed, but malformed: ignore the entry (logged) */
    DESIRED_CREATE,    /* unknown, desired running: record it and provision it */
    DESIRED_CLEANUP,   /* unknown, desired deleted: record it and remove what a crash may have
                          left of it */
    DESIRED_PROVISION, /* known, desired running and still pending: provision it */
    DESIRED_RESIZE,    /* known, desired running, running with another spec_version's limits:
                          take the entry's fields and apply its limits */
    DESIRED_DELETE,    /* known, desired deleted and not gone yet: take the fields, delete it */
    DESIRED_ORPHAN,    /* known, not listed, not deleted: its instance is gone, delete it */
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

/* Decide what a reply asks for. members: the agent's list (borrowed, not changed); desired:
 * the reply's "members" array (borrowed). The steps come in the order to apply them: one per
 * entry of desired, in its order (a later entry with the id of an earlier one sees the member
 * as the earlier step left it), then one per member the reply does not list and no worker owns
 * (m->busy), in list order. The decision looks only at the member's id, state, busy,
 * spec_version and applied_version and the entry's id, desired and spec_version; the reply's
 * desired_hash plays no part. Sets *steps to a new array (caller frees; allocated even for 0
 * steps) and returns its length. */
size_t desired_plan(const struct member *members, const json_t *desired,
                    struct desired_step **steps);

/* "keep", "create", ... (static strings, for logs and tests); NULL outside the enum. */
const char *desired_action_name(enum desired_action a);

#endif
