/* The heartbeat protocol's state names and their mapping to the enums of lib/hbproto.h. */
#include "lib/hbproto.h"

#include <stddef.h>
#include <string.h>

static const char *const state_names[HB__COUNT] = {
    [HB_PENDING] = HB_STATE_PENDING, [HB_STARTING] = HB_STATE_STARTING,
    [HB_RUNNING] = HB_STATE_RUNNING, [HB_FAILED] = HB_STATE_FAILED,
    [HB_STOPPED] = HB_STATE_STOPPED, [HB_DELETED] = HB_STATE_DELETED,
};

static const char *const desired_names[HB_WANT__COUNT] = {
    [HB_WANT_RUNNING] = HB_DESIRED_RUNNING,
    [HB_WANT_DELETED] = HB_DESIRED_DELETED,
};

/* The index of name in names[n], or -1. */
static int lookup(const char *const *names, int n, const char *name)
{
    int i;

    for (i = 0; name && i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *hb_state_name(enum hb_state s)
{
    return (unsigned)s < HB__COUNT ? state_names[s] : NULL;
}

int hb_state_parse(const char *name, enum hb_state *out)
{
    int i = lookup(state_names, HB__COUNT, name);

    if (i < 0)
        return -1;
    *out = (enum hb_state)i;
    return 0;
}

const char *hb_desired_name(enum hb_desired d)
{
    return (unsigned)d < HB_WANT__COUNT ? desired_names[d] : NULL;
}

int hb_desired_parse(const char *name, enum hb_desired *out)
{
    int i = lookup(desired_names, HB_WANT__COUNT, name);

    if (i < 0)
        return -1;
    *out = (enum hb_desired)i;
    return 0;
}
