/* The instance status from its members' reports (control/istatus.h). Pure. */
#include "control/istatus.h"

#include <stddef.h>

#define REASON_PENDING_RESTART "settings changed by the last resize apply at the next restart"
#define REASON_PRIMARY_FAILED "the primary failed to start"
#define REASON_PRIMARY_DOWN "the primary is not running"
#define REASON_NOT_CURRENT "a member is not running at its spec version yet"

static struct istatus_verdict verdict(enum istate to, const char *reason)
{
    struct istatus_verdict v = {to, false, reason};
    return v;
}

/* Healthy: the reason is only the note about a pending restart. */
static struct istatus_verdict healthy(enum istate to, const struct istatus_facts *f)
{
    return verdict(to, f->pending_restart ? REASON_PENDING_RESTART : NULL);
}

struct istatus_verdict istatus_decide(enum istate from, const struct istatus_facts *f)
{
    const char *problem = f->replica_problem && f->replica_problem[0] ? f->replica_problem : NULL;
    const char *failed = f->resize_failed && f->resize_failed[0] ? f->resize_failed : NULL;
    struct istatus_verdict keep = {from, true, NULL};

    switch (from) {
    case IST_PROVISIONING:
        if (f->all_current)
            return problem ? verdict(from, problem) : healthy(IST_RUNNING, f);
        if (f->primary_failed)
            return verdict(IST_FAILED, f->failed_errors && f->failed_errors[0]
                                           ? f->failed_errors
                                           : REASON_PRIMARY_FAILED);
        return verdict(from, NULL);
    case IST_RUNNING:
        if (f->primary_running && problem)
            return verdict(IST_DEGRADED, problem);
        return healthy(from, f);
    case IST_RESIZING:
        if (failed)
            return verdict(IST_DEGRADED, failed);
        if (!f->all_current)
            return verdict(from, NULL);
        return problem ? verdict(IST_DEGRADED, problem) : healthy(IST_RUNNING, f);
    case IST_DEGRADED:
        if (failed)
            return verdict(from, failed);
        if (f->all_current && !problem)
            return healthy(IST_RUNNING, f);
        if (problem)
            return verdict(from, problem);
        return verdict(from, f->primary_running ? REASON_NOT_CURRENT : REASON_PRIMARY_DOWN);
    case IST_FAILED:
        return f->all_current ? verdict(IST_PROVISIONING, NULL) : keep;
    default:
        return keep;
    }
}
