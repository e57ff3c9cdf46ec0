/* The instance state machine: names, the transition table and the per-state predicates.
 * docs/states.md explains it for people; keep the two in step. Any value outside the enum
 * (a corrupt row, a cast gone wrong) is treated as allowing nothing. */
#include "lib/istate.h"

#include <string.h>

static const char *const names[IST__COUNT] = {
    [IST_PENDING] = "pending",   [IST_PROVISIONING] = "provisioning", [IST_RUNNING] = "running",
    [IST_RESIZING] = "resizing", [IST_FAILING_OVER] = "failing_over", [IST_DEGRADED] = "degraded",
    [IST_DELETING] = "deleting", [IST_DELETED] = "deleted",           [IST_FAILED] = "failed",
};

#define BIT(s) (1u << (s))

/* allowed[from] has bit `to` set when from -> to is a transition. */
static const unsigned allowed[IST__COUNT] = {
    [IST_PENDING] = BIT(IST_PROVISIONING) | BIT(IST_DELETING) | BIT(IST_FAILED),
    [IST_PROVISIONING] = BIT(IST_RUNNING) | BIT(IST_FAILED) | BIT(IST_DELETING),
    [IST_RUNNING] = BIT(IST_RESIZING) | BIT(IST_FAILING_OVER) | BIT(IST_DEGRADED) |
                    BIT(IST_DELETING) | BIT(IST_FAILED),
    [IST_RESIZING] = BIT(IST_RUNNING) | BIT(IST_DEGRADED) | BIT(IST_FAILED) | BIT(IST_DELETING),
    [IST_FAILING_OVER] = BIT(IST_RUNNING) | BIT(IST_DEGRADED) | BIT(IST_FAILED) | BIT(IST_DELETING),
    [IST_DEGRADED] = BIT(IST_RUNNING) | BIT(IST_RESIZING) | BIT(IST_FAILING_OVER) |
                     BIT(IST_FAILED) | BIT(IST_DELETING),
    [IST_FAILED] = BIT(IST_DELETING) | BIT(IST_PROVISIONING),
    [IST_DELETING] = BIT(IST_DELETED),
    [IST_DELETED] = 0,
};

static bool in_range(enum istate s)
{
    return (unsigned)s < IST__COUNT;
}

const char *istate_name(enum istate s)
{
    return in_range(s) ? names[s] : NULL;
}

int istate_parse(const char *name, enum istate *out)
{
    int i;

    if (!name || !out)
        return -1;
    for (i = 0; i < IST__COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum istate)i;
            return 0;
        }
    }
    return -1;
}

bool istate_can_transition(enum istate from, enum istate to)
{
    if (!in_range(from) || !in_range(to))
        return false;
    return (allowed[from] & BIT(to)) != 0;
}

bool istate_counts_against_quota(enum istate s)
{
    return in_range(s) && s != IST_DELETED;
}

bool istate_can_resize(enum istate s)
{
    return s == IST_PENDING || s == IST_RUNNING || s == IST_DEGRADED;
}

bool istate_can_delete(enum istate s)
{
    return in_range(s) && s != IST_DELETING && s != IST_DELETED;
}
