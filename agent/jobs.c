/* Supervision of the members' engines: job workers, restart with back-off, state changes.
 *
 * NOTES: slow work on a member (init or seed and start, restart, resize, replication, delete)
 * runs on a detached worker thread that owns the member while m->busy is set; it reads what it
 * needs under a->lock into a struct job, works without the lock, then records the outcome
 * under a->lock. An engine that is starting gets the time it needs while it makes progress
 * (agent/progress.c): crash recovery, a large AOF, a replica catching up.
 * jobs_supervise() runs on the main thread. Every change of a member is persisted (agent/member.c)
 * before it is reported, so that a restarted agent picks up where it was. */
#include "agent/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/desired.h"
#include "agent/hostinfo.h"
#include "agent/progress.h"
#include "agent/leasing.h"
#include "agent/quarantine.h"
#include "agent/roles.h"
#include "agent/seeding.h"
#include "engines/engine.h"
#include "lib/proc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define READY_STALL_MS 60000       /* a start fails after this long without progress */
#define READY_MAX_MS (6 * 3600000) /* ... and after this long whatever it does */
#define SAMPLE_MS 1000             /* progress samples of a start */
#define WALK_MS 5000               /* walks of the member directory during a start */
#define STOP_DEADLINE_MS 30000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define SEED_BACKOFF_MIN_MS 1000 /* a replica whose seeding failed is seeded again after */
#define SEED_BACKOFF_MAX_MS 60000
#define REPL_BACKOFF_MIN_MS 1000 /* replication set-up retried after */
#define REPL_BACKOFF_MAX_MS 30000
#define STABLE_MS 60000 /* running this long resets the back-off */

static void job_free(struct job *j)
{
    member_spec_free(j->ms);
    free(j);
}

/* Caller holds a->lock. */
static struct job *job_new(struct agent *a, struct member *m, enum job_kind kind)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->kind = kind;
    j->a = a;
    j->m = m;
    j->ops = engine_find(m->engine);
    j->ms = member_spec_new(m, a->cfg->data_dir, a->cfg->advertise);
    j->spec = j->ms->spec;
    j->dir = j->ms->dir;
    member_group(m, a->tag, j->group);
    j->limits = m->limits;
    snprintf(j->limits.device, sizeof(j->limits.device), "%s", a->device);
    j->stop_signal = j->ops ? j->ops->stop_signal : SIGTERM;
    j->replica = member_is_replica(m);
    snprintf(j->seed_host, sizeof(j->seed_host), "%s", m->seed_host);
    j->seed_port = m->seed_port;
    j->primary_id = m->primary.id;
    j->old_memory_mb = m->applied_memory_mb;
    j->cred_changed = !m->applied_verifier || !m->verifier ||
                      strcmp(m->applied_verifier, m->verifier) != 0;
    j->was_running = m->state == HB_RUNNING;
    j->apply_sync = m->repl_user[0] && m->sync != m->sync_applied;
    j->repl_changes = m->repl_changes;
    return j;
}

void jobs_save(struct agent *a, const struct member *m)
{
    struct err e;

    if (member_save(m, a->cfg->data_dir, &e) < 0)
        log_error("event=member_save_failed member=%lld error=\"%s\"", (long long)m->id, e.msg);
}

void jobs_report_soon(struct agent *a)
{
    a->report_now = true;
    pthread_cond_signal(&a->report_wake);
}

void jobs_set_state(struct agent *a, struct member *m, enum hb_state to, const char *error)
{
    if (m->state != to)
        log_info("event=member_state member=%lld instance=%s engine=%s from=%s to=%s%s%s%s",
                 (long long)m->id, m->instance, m->engine, hb_state_name(m->state),
                 hb_state_name(to), error ? " error=\"" : "", error ? error : "",
                 error ? "\"" : "");
    if (m->state != to) {
        a->report_now = true;
        pthread_cond_signal(&a->wake);
        pthread_cond_signal(&a->report_wake);
    }
    m->state = to;
    snprintf(m->error, sizeof(m->error), "%s", error ? error : "");
    jobs_save(a, m);
}

int jobs_stop_group(struct agent *a, const char *group, int sig, pid_t child, struct err *e)
{
    int rc = 0, status;

    if (iso_exists(a->iso, group)) {
        if (iso_stop(a->iso, group, sig, STOP_DEADLINE_MS, e) < 0)
            rc = -1;
    }
    if (child > 0)
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0)
        rc = iso_destroy(a->iso, group, e);
    return rc;
}

int jobs_stop_member(struct job *j, pid_t child, struct err *e)
{
    return jobs_stop_group(j->a, j->group, j->stop_signal, child, e);
}

void jobs_sample(struct agent *a, const char *group, const char *log_path, const char *dir,
                 bool walk, struct progress_sample *s)
{
    struct iso_usage u;
    struct stat st;
    struct err e;

    s->log_bytes = log_path && lstat(log_path, &st) == 0 ? (int64_t)st.st_size : -1;
    s->dir_bytes = walk && dir ? hostinfo_disk_used_bytes(dir) : -1;
    if (iso_usage(a->iso, group, &u, &e) == 0) {
        s->cpu_usec = (int64_t)u.cpu_usec;
        s->io_bytes = (int64_t)(u.io_read_bytes + u.io_write_bytes);
    } else {
        s->cpu_usec = s->io_bytes = -1;
    }
}

int jobs_start_engine(struct job *j, pid_t *pid, bool *child, struct err *e)
{
    struct agent *a = j->a;
    struct iso_exec ex;
    char **argv = NULL;
    char *log_path = NULL;
    int64_t started, next_sample, next_walk, next_note;
    struct progress pr;
    struct progress_sample ps;
    off_t log_from = 0;
    struct stat st;
    int rc = -1, status = -1;

    *pid = 0;
    *child = iso_kind_of(a->iso) != ISO_LXC;
    if (jobs_stop_member(j, 0, e) < 0) /* leftovers of an earlier run */
        goto out;
    if (engine_configure(j->ops, &j->spec, e) < 0 || engine_argv(j->ops, &j->spec, &argv, e) < 0)
        goto out;
    log_path = engine_log_path(&j->spec);
    if (lstat(log_path, &st) == 0)
        log_from = st.st_size; /* the engine's error text of this start comes after */
    memset(&ex, 0, sizeof(ex));
    ex.argv = argv;
    ex.env = (char *const *)j->ops->server_env;
    ex.user = j->ops->cat->default_os_user;
    ex.workdir = j->dir;
    ex.log_path = log_path;
    rc = iso_start(a->iso, j->group, &j->limits, &ex, pid, e);
    if (rc < 0)
        goto out;
    rc = -1;
    /* a primary the guard must know before it takes writes: the lease thread feeds it now */
    pthread_mutex_lock(&a->lock);
    j->m->start_pid = j->spec.repl && j->spec.repl->role == ENGINE_ROLE_REPLICA ? 0 : *pid;
    a->guard_dirty = j->m->start_pid > 0;
    pthread_mutex_unlock(&a->lock);
    /* No fixed deadline: recovery (a WAL replay, a large AOF) takes what it takes while the
     * engine makes progress; it fails after READY_STALL_MS without any. */
    started = next_sample = next_note = clock_now_ms();
    next_walk = started + WALK_MS;
    jobs_sample(a, j->group, log_path, j->dir, true, &ps);
    progress_init(&pr, started, &ps);
    for (;;) {
        struct err pe;
        int64_t now;
        if (engine_probe(j->ops, &j->spec, 1000, &pe) == 0)
            break;
        if (*child ? waitpid(*pid, &status, WNOHANG) == *pid : !proc_alive(*pid, 0)) {
            engine_start_error(j->ops, &j->spec, status, log_from, e);
            *pid = 0;
            jobs_stop_member(j, 0, &pe);
            goto out;
        }
        now = clock_now_ms();
        if (now >= next_sample) {
            bool walk = now >= next_walk;
            jobs_sample(a, j->group, log_path, j->dir, walk, &ps);
            if (!walk)
                ps.dir_bytes = pr.last.dir_bytes;
            else
                next_walk = now + WALK_MS;
            progress_note(&pr, now, &ps);
            next_sample = now + SAMPLE_MS;
        }
        if (progress_stalled(&pr, now, READY_STALL_MS) || now - started > READY_MAX_MS ||
            *a->stopping) {
            if (*a->stopping)
                err_set(e, ENGINE_E_START, "%s: the agent is stopping", j->ops->cat->server_name);
            else
                err_set(e, ENGINE_E_START,
                        "%s did not answer, and made no progress (log, data, CPU or IO) for %d s",
                        j->ops->cat->server_name, READY_STALL_MS / 1000);
            jobs_stop_member(j, *child ? *pid : 0, &pe);
            *pid = 0;
            goto out;
        }
        if (now - started >= READY_STALL_MS && now >= next_note) {
            log_info("event=engine_recovering member=%lld waited_s=%lld", (long long)j->m->id,
                     (long long)((now - started) / 1000));
            next_note = now + READY_STALL_MS;
        }
        clock_sleep_ms(20);
    }
    if (engine_create_user(j->ops, &j->spec, e) < 0) {
        struct err se;
        jobs_stop_member(j, *child ? *pid : 0, &se);
        *pid = 0;
        goto out;
    }
    rc = 0;
out:
    if (rc < 0) {
        pthread_mutex_lock(&a->lock);
        j->m->start_pid = 0; /* on success jobs_mark_running() hands over to m->pid */
        pthread_mutex_unlock(&a->lock);
    }
    engine_argv_free(argv);
    free(log_path);
    return rc;
}

/* The engine was given verifier (create_user ran with it, or a replica that takes its
 * account from the primary started with it): a later reset differs from it. */
static void jobs_note_verifier(struct member *m, const char *verifier)
{
    xfree_secret(&m->applied_verifier);
    m->applied_verifier = verifier ? xstrdup(verifier) : NULL;
}

void jobs_mark_running(struct job *j)
{
    struct member *m = j->m;

    m->pid = j->pid;
    m->start_pid = 0;
    m->starttime = proc_starttime(j->pid);
    m->our_child = j->pid_is_child;
    m->applied_version = j->version;
    m->applied_memory_mb = j->limits.memory_mb;
    jobs_note_verifier(m, j->spec.verifier);
    m->pending_restart = false;
    m->resize_failed_version = 0;
    m->resize_error[0] = '\0';
    m->provisioned = true;
    m->running_since_ms = clock_now_ms();
    m->restart_at_ms = 0;
    m->repl_dirty = m->repl_user[0] != '\0';
    m->repl_retry_at_ms = 0;
    m->repl_backoff_ms = 0;
    snprintf(m->run_role, sizeof(m->run_role), "%s",
             j->replica ? HB_ROLE_REPLICA : HB_ROLE_PRIMARY);
    m->sync_applied = j->ms->repl.sync; /* the configuration it started with */
    m->held = false;
    jobs_set_state(j->a, m, HB_RUNNING, NULL);
}

int jobs_backoff(int *ms, int lo, int hi)
{
    *ms = *ms ? *ms * 2 : lo;
    if (*ms > hi)
        *ms = hi;
    return *ms;
}

/* Schedule the next restart of a member whose engine is down: exponential back-off from
 * BACKOFF_MIN_MS to BACKOFF_MAX_MS. Caller holds a->lock. */
static void schedule_restart(struct member *m, int64_t now)
{
    m->restart_at_ms = now + jobs_backoff(&m->backoff_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
}

void jobs_set_error(struct member *m, const char *what, const char *msg)
{
    /* A message longer than the report's field is cut; its start says what failed. */
    if (snprintf(m->error, sizeof(m->error), "%s: %s", what, msg) < 0)
        m->error[0] = '\0';
}

static int provision_run(struct job *j, struct err *e)
{
    struct err ce;
    int rc;

    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (j->replica) {
        struct seeding sd = {j->a,      j->m,         j->ops,       j->ms,        j->group,
                             j->limits, j->seed_host, j->seed_port, j->primary_id};
        rc = seeding_run(&sd, e);
    } else {
        rc = engine_init(j->ops, &j->spec, e);
    }
    if (rc == 0 && jobs_start_engine(j, &j->pid, &j->pid_is_child, e) == 0)
        return 0;
    /* A failed create leaves nothing behind: no process, group or data directory. */
    if (jobs_stop_member(j, 0, &ce) < 0 || engine_remove(j->ops, &j->spec, &ce) < 0)
        log_error("event=cleanup_failed member=%lld error=\"%s\"", (long long)j->m->id, ce.msg);
    return -1;
}

/* Whether a failed seeding may succeed later (the primary not ready yet, a network cut): all
 * but a refusal that no retry changes. */
static bool seed_retryable(const struct err *e)
{
    return e->code != ENGINE_E_UNSUPPORTED && e->code != ENGINE_E_INVALID &&
           e->code != AGENT_E_NO_ENGINE && e->code != AGENT_E_DESIRED;
}

static void provision_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;
    char msg[sizeof(m->error)];

    m->seeding = false;
    if (rc == 0) {
        jobs_mark_running(j);
    } else if (j->replica && seed_retryable(e)) {
        /* the primary may not be ready yet: seeded again after a back-off, from scratch */
        m->restart_at_ms =
            clock_now_ms() + jobs_backoff(&m->backoff_ms, SEED_BACKOFF_MIN_MS, SEED_BACKOFF_MAX_MS);
        if (snprintf(msg, sizeof(msg), "seeding: %s", e->msg) < 0)
            msg[0] = '\0';
        log_warn("event=seed_failed member=%lld retry_in_ms=%d error=\"%s\"", (long long)m->id,
                 m->backoff_ms, e->msg);
        jobs_set_state(j->a, m, HB_STARTING, msg);
    } else {
        jobs_set_state(j->a, m, HB_FAILED, e->msg);
    }
}

static int restart_run(struct job *j, struct err *e)
{
    return jobs_start_engine(j, &j->pid, &j->pid_is_child, e);
}

static void restart_done(struct job *j, int rc, const struct err *e)
{
    if (rc == 0) {
        jobs_mark_running(j);
    } else {
        schedule_restart(j->m, clock_now_ms());
        jobs_set_state(j->a, j->m, HB_STARTING, e->msg);
    }
}

/* Growing: the group's memory limit first, then the engine's settings; shrinking (or not
 * knowing what it runs with): the engine's settings first, so that the engine never holds more
 * than its group allows (which the kernel answers with an OOM kill or EBUSY). When the group
 * refuses a shrink (the engine holds more than the new limit: cgroup v1 answers EBUSY), the
 * engine's settings go back to the memory it runs with, so that it keeps its old limits. */
static int resize_limits(struct job *j, struct err *e)
{
    struct agent *a = j->a;
    struct engine_spec old;
    struct err re;
    bool ignored;

    if (j->old_memory_mb > 0 && j->limits.memory_mb >= j->old_memory_mb)
        return iso_update(a->iso, j->group, &j->limits, e) < 0 ||
                       engine_apply_live(j->ops, &j->spec, &j->restart_needed, e) < 0
                   ? -1
                   : 0;
    if (engine_apply_live(j->ops, &j->spec, &j->restart_needed, e) < 0)
        return -1;
    if (iso_update(a->iso, j->group, &j->limits, e) == 0)
        return 0;
    if (j->old_memory_mb > 0) {
        old = j->spec;
        old.memory_mb = j->old_memory_mb;
        if (engine_apply_live(j->ops, &old, &ignored, &re) < 0)
            log_error("event=resize_rollback_failed member=%lld error=\"%s\"", (long long)j->m->id,
                      re.msg);
    }
    return -1;
}

/* A new spec_version: its limits, then its credentials when the verifier changed (a password
 * reset: create_user alters the account; on a replica whose account comes from the primary it
 * does nothing). */
static int resize_run(struct job *j, struct err *e)
{
    if (resize_limits(j, e) < 0)
        return -1;
    if (j->cred_changed && engine_create_user(j->ops, &j->spec, e) < 0)
        return -1;
    return 0;
}

static void resize_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (rc == 0) {
        m->applied_version = j->version;
        m->applied_memory_mb = j->limits.memory_mb;
        if (j->cred_changed)
            jobs_note_verifier(m, j->spec.verifier);
        m->pending_restart = j->restart_needed;
        m->resize_failed_version = 0;
        m->resize_error[0] = '\0';
        if (strncmp(m->error, "resize: ", 8) == 0)
            m->error[0] = '\0';
        log_info("event=member_resized member=%lld cpu_millis=%lld memory_mb=%lld "
                 "pending_restart=%s",
                 (long long)m->id, (long long)j->limits.cpu_millis, (long long)j->limits.memory_mb,
                 j->restart_needed ? "yes" : "no");
    } else {
        /* not tried again for this spec_version: dbaasd shows the failure and a new plan
         * (a new spec_version) is the way out */
        log_error("event=resize_failed member=%lld spec_version=%d error=\"%s\"", (long long)m->id,
                  j->version, e->msg);
        jobs_set_error(m, "resize", e->msg);
        m->resize_failed_version = j->version;
        /* a message longer than the report's field is cut; its start says what failed */
        if (snprintf(m->resize_error, sizeof(m->resize_error), "%s", e->msg) >=
            (int)sizeof(m->resize_error))
            m->resize_error[sizeof(m->resize_error) - 1] = '\0';
    }
    jobs_report_soon(j->a);
    jobs_save(j->a, m);
}

/* Stop, remove the group, and move the data aside: it stays in the quarantine for the keep
 * time (agent/quarantine.c), then the janitor removes it. */
static int delete_run(struct job *j, struct err *e)
{
    bool moved = false;
    int rc = jobs_stop_member(j, j->reap_pid, e);

    if (rc == 0)
        rc = quarantine_move(j->a->cfg->data_dir, j->dir, j->m->id, time(NULL), &moved, e);
    if (rc == 0 && moved)
        log_info("event=member_quarantined member=%lld keep_s=%lld", (long long)j->m->id,
                 (long long)j->a->cfg->keep_deleted_s);
    return rc;
}

static void delete_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (rc == 0) {
        m->pid = 0;
        jobs_set_state(j->a, m, HB_DELETED, NULL);
    } else {
        log_error("event=delete_failed member=%lld error=\"%s\"", (long long)m->id, e->msg);
        jobs_set_error(m, "delete", e->msg);
    }
}

static int repl_run(struct job *j, struct err *e)
{
    if (!j->spec.repl)
        return 0;
    /* a change of sync: the configuration rendered again and applied live */
    if (j->apply_sync && engine_apply_live(j->ops, &j->spec, &j->restart_needed, e) < 0)
        return -1;
    return j->replica ? engine_follow(j->ops, &j->spec, e) : engine_repl_setup(j->ops, &j->spec, e);
}

static void repl_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (rc == 0) {
        /* applied, unless a reply changed replication again while it was */
        m->repl_dirty = m->repl_changes != j->repl_changes;
        m->repl_backoff_ms = 0;
        if (j->apply_sync) {
            m->sync_applied = j->ms->repl.sync;
            m->pending_restart = m->pending_restart || j->restart_needed;
            log_info("event=sync_applied member=%lld sync=%s pending_restart=%s", (long long)m->id,
                     m->sync_applied ? "on" : "off", j->restart_needed ? "yes" : "no");
        }
        if (strncmp(m->error, "replication: ", 13) == 0)
            m->error[0] = '\0';
        log_info("event=replication_applied member=%lld role=%s", (long long)m->id,
                 j->replica ? HB_ROLE_REPLICA : HB_ROLE_PRIMARY);
    } else {
        /* the engine keeps running; tried again after a back-off */
        int retry_ms;
        if (j->replica && e->code == ENGINE_E_DIVERGED) {
            /* its data forked off its primary's: the rejoin path rewinds it (or seeds it
             * afresh) at supervision's next pass */
            m->diverged = true;
            m->repl_dirty = false;
            log_warn("event=replica_diverged member=%lld error=\"%s\"", (long long)m->id,
                     e->msg);
            jobs_set_error(m, "replication", e->msg);
            jobs_save(j->a, m);
            return;
        }
        retry_ms = jobs_backoff(&m->repl_backoff_ms, REPL_BACKOFF_MIN_MS, REPL_BACKOFF_MAX_MS);
        m->repl_retry_at_ms = clock_now_ms() + retry_ms;
        if (m->repl_backoff_ms <= REPL_BACKOFF_MIN_MS || m->repl_backoff_ms == REPL_BACKOFF_MAX_MS)
            log_warn("event=replication_failed member=%lld retry_in_ms=%d error=\"%s\"",
                     (long long)m->id, retry_ms, e->msg);
        jobs_set_error(m, "replication", e->msg);
    }
    jobs_save(j->a, m);
}

static const struct job_ops job_kinds[] = {
    [JOB_PROVISION] = {provision_run, provision_done},
    [JOB_RESTART] = {restart_run, restart_done},
    [JOB_RESIZE] = {resize_run, resize_done},
    [JOB_DELETE] = {delete_run, delete_done},
    [JOB_REPL] = {repl_run, repl_done},
};

/* The job kinds of agent/roles.c. */
static const struct job_ops *job_ops_of(enum job_kind kind)
{
    switch (kind) {
    case JOB_PROMOTE:
        return &roles_promote_job;
    case JOB_REJOIN:
        return &roles_rejoin_job;
    case JOB_FENCE:
        return &roles_fence_job;
    case JOB_UNFENCE:
        return &roles_unfence_job;
    default:
        return &job_kinds[kind];
    }
}

/* The worker thread of every job: what the member is at the start, the work without the lock,
 * the outcome with it, then the member goes back to the main loop and heartbeat. */
static void *job_main(void *arg)
{
    struct job *j = arg;
    struct agent *a = j->a;
    const struct job_ops *kind = job_ops_of(j->kind);
    struct err e = {0, ""};
    int rc;

    pthread_mutex_lock(&a->lock);
    j->version = j->m->spec_version;
    j->reap_pid = j->m->our_child ? j->m->pid : 0;
    pthread_mutex_unlock(&a->lock);
    rc = kind->run(j, &e);
    pthread_mutex_lock(&a->lock);
    kind->done(j, rc, &e);
    j->m->busy = false;
    a->workers--;
    pthread_mutex_unlock(&a->lock);
    job_free(j);
    return NULL;
}

void jobs_spawn(struct agent *a, struct member *m, enum job_kind kind)
{
    pthread_attr_t attr;
    pthread_t t;
    struct job *j = job_new(a, m, kind);

    m->busy = true;
    a->workers++;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, job_main, j) != 0) {
        log_error("event=thread_failed member=%lld", (long long)m->id);
        m->busy = false;
        a->workers--;
        job_free(j);
    }
    pthread_attr_destroy(&attr);
}

/* The job of a role action. */
static enum job_kind role_job(enum desired_role act)
{
    return act == DESIRED_ROLE_PROMOTE  ? JOB_PROMOTE
           : act == DESIRED_ROLE_REJOIN ? JOB_REJOIN
           : act == DESIRED_ROLE_FENCE  ? JOB_FENCE
                                        : JOB_UNFENCE;
}

/* A down member and the desired fence: a primary asked to fence while down is fenced as it is
 * (held down); a fence lifted on one that was stopped for it lets it start again. Caller holds
 * a->lock. */
static void supervise_fence_down(struct agent *a, struct member *m, int64_t now)
{
    if (m->fence_wanted && member_runs_primary(m) && !m->fenced) {
        m->fenced = m->fenced_stopped = true;
        log_warn("event=member_fenced member=%lld by=down", (long long)m->id);
        jobs_report_soon(a);
        jobs_save(a, m);
    } else if (!m->fence_wanted && m->fenced_stopped) {
        m->fenced = m->fenced_stopped = false;
        m->restart_at_ms = now;
        log_info("event=member_unfenced member=%lld", (long long)m->id);
        jobs_report_soon(a);
        jobs_save(a, m);
    }
}

void jobs_supervise(struct agent *a)
{
    struct member *m;
    int64_t now = clock_now_ms();
    int status;
    bool lease_ok;

    pthread_mutex_lock(&a->lock);
    lease_ok = leasing_may_start(a, now);
    for (m = a->members; m; m = m->next) {
        if (m->busy || !m->want_running)
            continue;
        if (m->state == HB_RUNNING) {
            bool dead;
            char why[128];
            if (m->our_child) {
                pid_t r = waitpid(m->pid, &status, WNOHANG);
                dead =
                    r == m->pid || (r < 0 && errno == ECHILD && !proc_alive(m->pid, m->starttime));
                if (r == m->pid && WIFSIGNALED(status))
                    snprintf(why, sizeof(why), "the engine was killed by signal %d",
                             WTERMSIG(status));
                else if (r == m->pid)
                    snprintf(why, sizeof(why), "the engine exited with status %d",
                             WEXITSTATUS(status));
                else
                    snprintf(why, sizeof(why), "the engine exited");
            } else {
                dead = !proc_alive(m->pid, m->starttime);
                snprintf(why, sizeof(why), "the engine exited");
            }
            if (!dead) {
                enum desired_role act = desired_role_decide(m, lease_ok);
                if (act != DESIRED_ROLE_NONE && act != DESIRED_ROLE_HOLD) {
                    if (now >= m->role_retry_at_ms)
                        jobs_spawn(a, m, role_job(act));
                    continue;
                }
                if (m->repl_dirty && !m->repl_user[0])
                    m->repl_dirty = false;
                else if (m->repl_dirty && now >= m->repl_retry_at_ms)
                    jobs_spawn(a, m, JOB_REPL);
                continue;
            }
            if (now - m->running_since_ms > STABLE_MS)
                m->backoff_ms = 0;
            schedule_restart(m, now);
            m->restarts++;
            m->pid = 0;
            log_warn("event=engine_died member=%lld instance=%s reason=\"%s\" restart_in_ms=%d",
                     (long long)m->id, m->instance, why, m->backoff_ms);
            jobs_set_state(a, m, HB_STARTING, why);
        } else if (m->state == HB_STARTING) {
            enum desired_role act;
            supervise_fence_down(a, m, now);
            act = m->provisioned ? desired_role_decide(m, lease_ok) : DESIRED_ROLE_NONE;
            if (act == DESIRED_ROLE_HOLD) {
                if (!m->held && m->restart_at_ms && now >= m->restart_at_ms) {
                    log_warn("event=member_held member=%lld reason=\"%s\"", (long long)m->id,
                             m->guard_fenced   ? "fenced by the guard: waiting for a fresh reply"
                             : m->fence_wanted ? "fenced: dbaasd asks it to take no writes"
                                               : "a primary with replicas needs a valid lease");
                    m->held = true;
                }
                continue;
            }
            m->held = false;
            if (act == DESIRED_ROLE_PROMOTE || act == DESIRED_ROLE_REJOIN) {
                if (now >= m->role_retry_at_ms)
                    jobs_spawn(a, m, role_job(act));
                continue;
            }
            if (m->restart_at_ms && now >= m->restart_at_ms) {
                m->restart_at_ms = 0;
                jobs_spawn(a, m, m->provisioned ? JOB_RESTART : JOB_PROVISION);
            }
        }
    }
    pthread_mutex_unlock(&a->lock);
}

void jobs_stop_all(struct agent *a)
{
    struct member *m;

    pthread_mutex_lock(&a->lock);
    for (m = a->members; m; m = m->next) {
        struct job *j;
        struct err e;
        if (m->busy || m->state != HB_RUNNING)
            continue;
        j = job_new(a, m, JOB_DELETE); /* for its group and stop signal only */
        pthread_mutex_unlock(&a->lock);
        if (jobs_stop_member(j, m->our_child ? m->pid : 0, &e) < 0)
            log_error("event=stop_failed member=%lld error=\"%s\"", (long long)m->id, e.msg);
        pthread_mutex_lock(&a->lock);
        m->pid = 0;
        jobs_set_state(a, m, HB_STARTING, "stopped with the agent");
        job_free(j);
    }
    pthread_mutex_unlock(&a->lock);
}

void jobs_wait_idle(struct agent *a, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int busy;
        pthread_mutex_lock(&a->lock);
        busy = a->workers + a->helpers;
        pthread_mutex_unlock(&a->lock);
        if (!busy)
            break;
        clock_sleep_ms(10);
    }
}
