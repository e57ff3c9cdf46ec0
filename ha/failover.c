/* The HA controller's decisions (ha/failover.h). Pure: everything it knows is in its arguments,
 * every answer is a struct the caller applies. */
#include "ha/failover.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[FAILOVER__STATES] = {
    [FAILOVER_DETECTED] = "detected",   [FAILOVER_FENCING] = "fencing",
    [FAILOVER_PROMOTING] = "promoting", [FAILOVER_DONE] = "done",
    [FAILOVER_REFUSED] = "refused",     [FAILOVER_ABORTED] = "aborted",
};

/* The settings' names and ranges, in struct order. */
static const struct {
    const char *name;
    int64_t min, max;
} ranges[] = {
    {"renew_ms", 50, 60000},
    {"lease_ttl_ms", 100, 600000},
    {"fence_margin_ms", 0, 60000},
    {"grace_ms", 0, 600000},
    {"failover_cooldown_ms", 0, 86400000},
    {"step_timeout_ms", 1000, 3600000},
};

void failover_config_init(struct failover_config *cfg)
{
    cfg->renew_ms = 300;
    cfg->lease_ttl_ms = 1000;
    cfg->fence_margin_ms = 250;
    cfg->grace_ms = 10000;
    cfg->cooldown_ms = 60000;
    cfg->step_timeout_ms = 30000;
}

int failover_config_check(const struct failover_config *cfg, struct err *e)
{
    const int64_t v[] = {cfg->renew_ms, cfg->lease_ttl_ms, cfg->fence_margin_ms,
                         cfg->grace_ms, cfg->cooldown_ms,  cfg->step_timeout_ms};
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (v[i] < ranges[i].min || v[i] > ranges[i].max)
            return err_set(e, FAILOVER_E_INVALID, "%s must be from %" PRId64 " to %" PRId64,
                           ranges[i].name, ranges[i].min, ranges[i].max);
    if (cfg->lease_ttl_ms < 2 * cfg->renew_ms)
        return err_set(e, FAILOVER_E_INVALID,
                       "lease_ttl_ms must be at least twice renew_ms (%" PRId64 ")", cfg->renew_ms);
    return 0;
}

int failover_config_set(struct failover_config *cfg, const char *name, int64_t value, struct err *e)
{
    int64_t *const fields[] = {&cfg->renew_ms, &cfg->lease_ttl_ms, &cfg->fence_margin_ms,
                               &cfg->grace_ms, &cfg->cooldown_ms,  &cfg->step_timeout_ms};
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(name, ranges[i].name) != 0)
            continue;
        if (value < ranges[i].min || value > ranges[i].max)
            return err_set(e, FAILOVER_E_INVALID, "%s must be from %" PRId64 " to %" PRId64,
                           ranges[i].name, ranges[i].min, ranges[i].max);
        *fields[i] = value;
        return 0;
    }
    return err_set(e, FAILOVER_E_INVALID, "unknown HA setting \"%s\"", name);
}

const char *failover_state_name(enum failover_state s)
{
    return (unsigned)s < FAILOVER__STATES ? state_names[s] : NULL;
}

int failover_state_parse(const char *name, enum failover_state *out)
{
    int i;

    for (i = 0; name && i < FAILOVER__STATES; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum failover_state)i;
            return 0;
        }
    return -1;
}

bool failover_in_flight(enum failover_state s)
{
    return s == FAILOVER_DETECTED || s == FAILOVER_FENCING || s == FAILOVER_PROMOTING;
}

bool failover_lease_expired(const struct failover_config *cfg, const struct failover_member *m,
                            int64_t now_ms)
{
    return m->lease_capable && m->last_renewal_ms >= 0 &&
           now_ms - m->last_renewal_ms > cfg->lease_ttl_ms + cfg->fence_margin_ms;
}

bool failover_host_live(const struct failover_config *cfg, const struct failover_member *m,
                        int64_t now_ms)
{
    if (m->lease_capable)
        return !failover_lease_expired(cfg, m, now_ms);
    return m->host_ready;
}

bool failover_member_bad(const struct failover_member *m)
{
    return !m->running || m->alive == FAILOVER_NO;
}

static const struct failover_member *primary_of(const struct failover_instance *inst)
{
    int i;

    for (i = 0; i < inst->n_members; i++)
        if (inst->members[i].primary)
            return &inst->members[i];
    return NULL;
}

static const struct failover_member *member_of(const struct failover_instance *inst, int64_t id)
{
    int i;

    for (i = 0; i < inst->n_members; i++)
        if (inst->members[i].id == id)
            return &inst->members[i];
    return NULL;
}

static int replicas_of(const struct failover_instance *inst)
{
    int i, n = 0;

    for (i = 0; i < inst->n_members; i++)
        n += !inst->members[i].primary;
    return n;
}

enum failover_cause failover_detect(const struct failover_config *cfg,
                                    const struct failover_instance *inst, int64_t now_ms,
                                    char *reason, size_t n)
{
    const struct failover_member *p = primary_of(inst);

    if (n)
        reason[0] = '\0';
    if (!p || replicas_of(inst) == 0)
        return FAILOVER_HEALTHY;
    if (failover_lease_expired(cfg, p, now_ms)) {
        snprintf(reason, n,
                 "the lease of the primary's host expired (no renewal for %" PRId64 " ms)",
                 now_ms - p->last_renewal_ms);
        return FAILOVER_LEASE;
    }
    if (failover_host_live(cfg, p, now_ms) && failover_member_bad(p) &&
        p->unhealthy_ms > cfg->grace_ms) {
        snprintf(reason, n, "the primary (member %" PRId64 ") %s for %" PRId64 " ms", p->id,
                 p->running ? "failed its health probes" : "was down", p->unhealthy_ms);
        return FAILOVER_ENGINE;
    }
    return FAILOVER_HEALTHY;
}

/* Why replica m may not be promoted now, or NULL when it may. */
static const char *ineligible(const struct failover_config *cfg, const struct failover_member *m,
                              int64_t now_ms, bool exempt_cooldown)
{
    if (m->primary)
        return "it is the primary";
    if (m->lease_capable && failover_lease_expired(cfg, m, now_ms))
        return "its host's lease expired";
    if (!m->host_ready)
        return "its host is not ready";
    if (m->seeding)
        return "it is being seeded";
    if (!m->running)
        return "it is not running";
    if (m->alive != FAILOVER_YES)
        return m->alive == FAILOVER_NO ? "its last probe did not answer" : "it has not been probed";
    if (m->fenced)
        return "it is fenced";
    if (!m->has_position)
        return "its position is unknown";
    if (!exempt_cooldown && m->since_demoted_ms >= 0 && m->since_demoted_ms < cfg->cooldown_ms)
        return "it lost the primary role less than failover_cooldown_ms ago";
    return NULL;
}

/* Whether a is a better candidate than b: higher position, lower lag, lower id. */
static bool better(const struct failover_member *a, const struct failover_member *b)
{
    int64_t la = a->has_lag ? a->lag_bytes : INT64_MAX, lb = b->has_lag ? b->lag_bytes : INT64_MAX;

    if (a->position != b->position)
        return a->position > b->position;
    if (la != lb)
        return la < lb;
    return a->id < b->id;
}

/* In sync mode, whether promoting best may lose an acknowledged write: why into reason. */
static bool sync_unsafe(const struct failover_config *cfg, const struct failover_instance *inst,
                        const struct failover_member *best, int64_t now_ms, char *reason, size_t n)
{
    bool any = false;
    int i;

    for (i = 0; i < inst->n_members; i++) {
        const struct failover_member *r = &inst->members[i];

        if (r->primary || !r->maybe_sync)
            continue;
        any = true;
        if (!failover_host_live(cfg, r, now_ms) || !r->host_ready || !r->running ||
            r->alive != FAILOVER_YES || !r->has_position) {
            snprintf(reason, n,
                     "replica %" PRId64 " may hold acknowledged writes and cannot be reached",
                     r->id);
            return true;
        }
        if (r->position > best->position) {
            snprintf(reason, n,
                     "replica %" PRId64 " may hold acknowledged writes and cannot be promoted",
                     r->id);
            return true;
        }
    }
    if (!any) {
        snprintf(reason, n, "sync mode and no replica was a synchronous standby");
        return true;
    }
    return false;
}

int64_t failover_choose(const struct failover_config *cfg, const struct failover_instance *inst,
                        int64_t now_ms, enum failover_kind kind, int64_t to, bool avoid_draining,
                        char *reason, size_t n)
{
    const struct failover_member *p = primary_of(inst), *best = NULL;
    size_t len = 0;
    int i;

    if (n)
        reason[0] = '\0';
    if (to > 0) {
        const struct failover_member *t = member_of(inst, to);
        const char *why = t ? ineligible(cfg, t, now_ms, true) : "it is not a member meant to run";
        if (why) {
            snprintf(reason, n, "member %" PRId64 " cannot be promoted: %s", to, why);
            return 0;
        }
        best = t;
    } else {
        for (i = 0; i < inst->n_members; i++) {
            const struct failover_member *m = &inst->members[i];
            const char *why = ineligible(cfg, m, now_ms, false);
            int w;

            if (m->primary)
                continue;
            if (!why && avoid_draining && m->host_draining)
                why = "its host is draining";
            if (!why) {
                if (!best || better(m, best))
                    best = m;
                continue;
            }
            if (len < n) {
                w = snprintf(reason + len, n - len, "%sreplica %" PRId64 ": %s",
                             len ? "; " : "no replica can be promoted: ", m->id, why);
                len = w < 0 ? n : len + (size_t)w;
            }
        }
        if (!best) {
            if (len == 0)
                snprintf(reason, n, "no replica can be promoted: the instance has none");
            return 0;
        }
        if (n)
            reason[0] = '\0';
    }
    if (kind == FAILOVER_AUTO) {
        if (inst->sync && sync_unsafe(cfg, inst, best, now_ms, reason, n))
            return 0;
        if (p && p->has_position && p->position - best->position > inst->max_lag_bytes) {
            snprintf(reason, n,
                     "the most advanced replica (%" PRId64
                     ") lags more than max_lag_bytes (%" PRId64
                     ") behind the primary's last known position",
                     best->id, inst->max_lag_bytes);
            return 0;
        }
    }
    return best->id;
}

/* A replica whose last probe may predate the fenced primary p's end: it still streamed from
 * it, and its position is not yet at p's final one. Only replicas that count: a live host,
 * running, answering, not being seeded. */
static bool unsettled(const struct failover_config *cfg, const struct failover_member *p,
                      const struct failover_member *r, int64_t now_ms)
{
    if (r->primary || r->upstream != FAILOVER_YES || r->seeding || !r->running ||
        r->alive != FAILOVER_YES || !r->host_ready || !failover_host_live(cfg, r, now_ms))
        return false;
    return !(p->fenced && p->has_position && r->has_position && r->position >= p->position);
}

bool failover_fenced(const struct failover_config *cfg, const struct failover_member *from,
                     int64_t now_ms, bool *by_lease)
{
    *by_lease = failover_lease_expired(cfg, from, now_ms);
    return *by_lease || from->fenced || from->stopped;
}

static struct failover_step step_of(enum failover_op op, int64_t target)
{
    struct failover_step s;

    memset(&s, 0, sizeof(s));
    s.op = op;
    s.target = target;
    return s;
}

/* No record in flight: a failed primary starts a failover (or is refused), a healthy primary
 * on a draining host a switchover. */
static struct failover_step decide_idle(const struct failover_config *cfg,
                                        const struct failover_instance *inst,
                                        const struct failover_flight *fl,
                                        const struct failover_member *p, int64_t now_ms)
{
    struct failover_step s = step_of(FAILOVER_OP_NONE, 0);
    bool cooling = fl->since_abort_ms >= 0 && fl->since_abort_ms < cfg->cooldown_ms;
    char why[sizeof(s.reason)];
    int64_t target;

    if (cooling)
        return s;
    if (failover_detect(cfg, inst, now_ms, why, sizeof(why)) != FAILOVER_HEALTHY) {
        target =
            failover_choose(cfg, inst, now_ms, FAILOVER_AUTO, 0, false, s.reason, sizeof(s.reason));
        if (target == 0) {
            s.op = FAILOVER_OP_REFUSE;
            return s;
        }
        s.op = FAILOVER_OP_START;
        memcpy(s.reason, why, sizeof(why));
        return s;
    }
    if (p->host_draining && replicas_of(inst) > 0 &&
        failover_choose(cfg, inst, now_ms, FAILOVER_SWITCHOVER, 0, true, why, sizeof(why)) > 0) {
        s.op = FAILOVER_OP_DRAIN;
        snprintf(s.reason, sizeof(s.reason), "the primary's host is draining");
    }
    return s;
}

struct failover_step failover_decide(const struct failover_config *cfg,
                                     const struct failover_instance *inst,
                                     const struct failover_flight *fl, int64_t now_ms)
{
    const struct failover_member *p = primary_of(inst), *t;
    struct failover_step s = step_of(FAILOVER_OP_NONE, 0);
    bool by_lease;

    if (!fl->active)
        return p ? decide_idle(cfg, inst, fl, p, now_ms) : s;
    if (!p || p->id != fl->from) {
        s.op = FAILOVER_OP_ABORT;
        snprintf(s.reason, sizeof(s.reason), "the primary changed meanwhile");
        return s;
    }
    switch (fl->state) {
    case FAILOVER_DETECTED:
        s.target = failover_choose(cfg, inst, now_ms, fl->kind, fl->to, fl->to == 0, s.reason,
                                   sizeof(s.reason));
        s.op = s.target ? FAILOVER_OP_FENCE : FAILOVER_OP_REFUSE;
        return s;
    case FAILOVER_FENCING:
        if (failover_fenced(cfg, p, now_ms, &by_lease)) {
            s.op = FAILOVER_OP_FENCED;
            s.lease_expired = by_lease;
        } else if (fl->state_ms > cfg->step_timeout_ms) {
            s.op = FAILOVER_OP_ABORT;
            snprintf(s.reason, sizeof(s.reason),
                     "the primary was not fenced within step_timeout_ms (%" PRId64 ")",
                     cfg->step_timeout_ms);
        }
        return s;
    case FAILOVER_PROMOTING:
        if (fl->kind == FAILOVER_AUTO) {
            for (int i = 0; i < inst->n_members && fl->state_ms < FAILOVER_SETTLE_MS; i++)
                if (unsettled(cfg, p, &inst->members[i], now_ms))
                    return s; /* its final position is on its way */
            s.target = failover_choose(cfg, inst, now_ms, FAILOVER_AUTO, 0, false, s.reason,
                                       sizeof(s.reason));
            s.op = s.target ? FAILOVER_OP_PROMOTE : FAILOVER_OP_REFUSE;
            return s;
        }
        if (failover_choose(cfg, inst, now_ms, FAILOVER_SWITCHOVER, fl->to, false, s.reason,
                            sizeof(s.reason)) == 0) {
            s.op = FAILOVER_OP_ABORT;
            return s;
        }
        t = member_of(inst, fl->to);
        if (p->has_position && t->position >= p->position) {
            s.op = FAILOVER_OP_PROMOTE;
            s.target = t->id;
        } else if (fl->state_ms > cfg->step_timeout_ms) {
            s.op = FAILOVER_OP_ABORT;
            snprintf(s.reason, sizeof(s.reason),
                     "replica %" PRId64 " did not reach the primary's final position within"
                     " step_timeout_ms (%" PRId64 ")",
                     t->id, cfg->step_timeout_ms);
        }
        return s;
    default:
        s.op = FAILOVER_OP_ABORT;
        snprintf(s.reason, sizeof(s.reason), "a finished failover cannot be in flight");
        return s;
    }
}
