/* Role changes and fencing (agent/roles.h): the decision and the jobs.
 *
 * NOTES: the jobs run on worker threads through agent/jobs.c's trampoline: run() without
 * a->lock, done() with it. A failed role job leaves the member as it was (its error reported)
 * and is tried again after a back-off (m->role_retry_at_ms, checked by jobs_supervise()). */
#include "agent/roles.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/probe.h"
#include "agent/quarantine.h"
#include "agent/seeding.h"
#include "lib/clock.h"
#include "lib/log.h"

#define ROLE_BACKOFF_MIN_MS 500
#define ROLE_BACKOFF_MAX_MS 30000

/* A role job failed: keep the member as it is, report why, try again after a back-off. Caller
 * holds a->lock. */
static void failed(struct job *j, const char *what, const struct err *e)
{
    struct member *m = j->m;

    m->role_retry_at_ms = clock_now_ms() + jobs_backoff(&m->role_backoff_ms, ROLE_BACKOFF_MIN_MS,
                                                        ROLE_BACKOFF_MAX_MS);
    log_error("event=%s_failed member=%lld retry_in_ms=%d error=\"%s\"", what, (long long)m->id,
              m->role_backoff_ms, e->msg);
    jobs_set_error(m, what, e->msg);
    jobs_report_soon(j->a);
    jobs_save(j->a, m);
}

static void succeeded(struct member *m)
{
    m->role_retry_at_ms = 0;
    m->role_backoff_ms = 0;
}

/* ---- replica -> primary ---- */

/* A down member is started as what its data is (a replica: a standby does not take the
 * tenant's user), then promoted; a running one is promoted as it runs. Then the replication
 * user and slots of a primary, and a probe at once, so that dbaasd sees the new primary's
 * health with the next report. */
static int promote_run(struct job *j, struct err *e)
{
    struct err pe;
    int rc;

    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (!j->spec.repl)
        return err_set(e, AGENT_E_DESIRED, "member %lld has no replication settings to promote",
                       (long long)j->m->id);
    if (!j->was_running) {
        j->ms->repl.role = ENGINE_ROLE_REPLICA;
        rc = jobs_start_engine(j, &j->pid, &j->pid_is_child, e);
        j->ms->repl.role = ENGINE_ROLE_PRIMARY;
        if (rc < 0)
            return -1;
    }
    if (engine_promote(j->ops, &j->spec, e) < 0 || engine_repl_setup(j->ops, &j->spec, e) < 0)
        return -1;
    j->probed = engine_health(j->ops, &j->spec, PROBE_TIMEOUT_MS, &j->health, &pe) == 0;
    return 0;
}

static void promote_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (!j->was_running && j->pid > 0) {
        /* started (as a replica) before the promotion was tried */
        j->replica = rc != 0;
        jobs_mark_running(j);
    }
    if (rc < 0) {
        failed(j, "promote", e);
        return;
    }
    succeeded(m);
    snprintf(m->run_role, sizeof(m->run_role), "%s", HB_ROLE_PRIMARY);
    m->repl_dirty = m->repl_changes != j->repl_changes; /* a newer change still to apply */
    if (strncmp(m->error, "promote: ", 9) == 0)
        m->error[0] = '\0';
    if (j->probed) {
        m->health.done = true;
        m->health.code = 0;
        m->health.at_ms = clock_now_ms();
        m->health.h = j->health;
        m->health.error[0] = '\0';
    }
    log_info("event=member_promoted member=%lld instance=%s writable=%s", (long long)m->id,
             m->instance, j->probed ? (j->health.writable ? "yes" : "no") : "unknown");
    jobs_report_soon(j->a);
    jobs_save(j->a, m);
}

const struct job_ops roles_promote_job = {promote_run, promote_done};

/* ---- primary -> replica ---- */

/* Whether a failed rejoin may succeed as it is later (the new primary not reachable yet)
 * rather than call for a fresh copy. */
static bool rejoin_retryable(const struct err *e)
{
    return e->code == ENGINE_E_UNAVAILABLE || e->code == AGENT_E_NO_ENGINE ||
           e->code == ENGINE_E_INVALID || e->code == AGENT_E_SYSTEM;
}

/* Stop the engine, run the driver's rejoin steps (pg_rewind) as seeding runs its steps, start
 * as a replica, follow. A failed step, or follow answering ENGINE_E_DIVERGED: the data goes to
 * the quarantine and the member is seeded afresh (j->rebuild: done() hands it to the seeding
 * path of JOB_PROVISION). */
static int rejoin_run(struct job *j, struct err *e)
{
    struct seeding sd = {j->a,      j->m,         j->ops,       j->ms,        j->group,
                         j->limits, j->seed_host, j->seed_port, j->primary_id};
    struct err ce;
    bool moved = false;

    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (jobs_stop_member(j, j->reap_pid, e) < 0)
        return -1;
    j->stopped = true;
    if (engine_rejoin(j->ops, &j->spec, seeding_step, &sd, e) < 0) {
        if (rejoin_retryable(e))
            return -1;
        goto rebuild;
    }
    if (jobs_start_engine(j, &j->pid, &j->pid_is_child, e) < 0)
        return -1;
    if (engine_follow(j->ops, &j->spec, e) == 0 || e->code != ENGINE_E_DIVERGED)
        return 0; /* another failure of follow is retried by the replication job */
    if (jobs_stop_member(j, j->pid_is_child ? j->pid : 0, &ce) < 0) {
        *e = ce;
        j->pid = 0;
        return -1;
    }
    j->pid = 0;
rebuild:
    log_warn("event=rejoin_rebuild member=%lld reason=\"%s\"", (long long)j->m->id, e->msg);
    if (quarantine_move(j->a->cfg->data_dir, j->dir, j->m->id, time(NULL), &moved, &ce) < 0) {
        *e = ce;
        return -1;
    }
    j->rebuild = true;
    return -1;
}

static void rejoin_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    m->fenced = m->fenced_stopped = false;
    if (rc == 0 || j->rebuild)
        m->diverged = false;
    if (rc == 0) {
        succeeded(m);
        jobs_mark_running(j);
        if (e->code)
            jobs_set_error(m, "replication", e->msg);
        log_info("event=member_rejoined member=%lld instance=%s", (long long)m->id, m->instance);
        return;
    }
    if (j->stopped) {
        m->pid = 0;
        jobs_set_state(j->a, m, HB_STARTING, NULL);
    }
    if (j->rebuild) {
        /* the seeding path of a new replica: JOB_PROVISION from supervision, with its back-off */
        succeeded(m);
        m->provisioned = false;
        snprintf(m->run_role, sizeof(m->run_role), "%s", HB_ROLE_REPLICA);
        m->restart_at_ms = clock_now_ms();
        jobs_set_error(m, "rejoin", e->msg);
        jobs_save(j->a, m);
        return;
    }
    failed(j, "rejoin", e);
}

const struct job_ops roles_rejoin_job = {rejoin_run, rejoin_done};

/* ---- fencing ---- */

/* Refuse writes (engine_stop_writes()); an engine that cannot is stopped cleanly. */
static int fence_run(struct job *j, struct err *e)
{
    struct err se;

    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (engine_stop_writes(j->ops, &j->spec, &se) == 0)
        return 0;
    if (se.code != ENGINE_E_UNSUPPORTED) {
        *e = se;
        return -1;
    }
    if (jobs_stop_member(j, j->reap_pid, e) < 0)
        return -1;
    j->stopped = true;
    /* the final position (the switchover's catch-up target) from the stopped data; an engine
     * that cannot tell leaves it unknown, and a switchover then ends at its step deadline */
    j->probed = engine_stopped_position(j->ops, &j->spec, &j->health, &se) == 0;
    if (!j->probed)
        log_warn("event=final_position_unknown member=%lld error=\"%s\"", (long long)j->m->id,
                 se.msg);
    return 0;
}

static void fence_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (rc < 0) {
        failed(j, "fence", e);
        return;
    }
    succeeded(m);
    m->fenced = true;
    m->fenced_stopped = j->stopped;
    log_warn("event=member_fenced member=%lld by=%s", (long long)m->id,
             j->stopped ? "stop" : "stop_writes");
    if (j->stopped && j->probed) {
        m->health.done = true;
        m->health.code = 0;
        m->health.at_ms = clock_now_ms();
        m->health.h = j->health;
        m->health.h.writable = false;
        m->health.error[0] = '\0';
    }
    if (j->stopped) {
        m->pid = 0;
        m->restart_at_ms = 0;
        jobs_set_state(j->a, m, HB_STARTING, "fenced: stopped until dbaasd lifts the fence");
    }
    jobs_report_soon(j->a);
    jobs_save(j->a, m);
}

const struct job_ops roles_fence_job = {fence_run, fence_done};

/* The fence lifted on an engine that still runs refusing writes: a restart takes writes again
 * (the engines' stop_writes does not outlive a restart). */
static int unfence_run(struct job *j, struct err *e)
{
    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (jobs_stop_member(j, j->reap_pid, e) < 0)
        return -1;
    return jobs_start_engine(j, &j->pid, &j->pid_is_child, e);
}

static void unfence_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    m->fenced = m->fenced_stopped = false;
    if (rc == 0 || j->rebuild)
        m->diverged = false;
    if (rc == 0) {
        succeeded(m);
        jobs_mark_running(j);
        log_info("event=member_unfenced member=%lld", (long long)m->id);
        return;
    }
    m->pid = 0;
    m->restart_at_ms = clock_now_ms();
    jobs_set_state(j->a, m, HB_STARTING, e->msg);
}

const struct job_ops roles_unfence_job = {unfence_run, unfence_done};
