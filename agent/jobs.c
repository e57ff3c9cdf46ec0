/* Supervision of the members' engines: job workers, restart with back-off, state changes.
 *
 * NOTES: slow work on a member (init and start, restart, resize, delete) runs on a detached
 * worker thread that owns the member while m->busy is set; it reads what it needs under
 * a->lock into a struct job, works without the lock, then records the outcome under a->lock.
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
#include <unistd.h>

#include "engines/engine.h"
#include "lib/proc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define READY_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 30000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 60000 /* running this long resets the back-off */

/* What a worker needs of a member, copied under the lock so that it can work without it, and
 * what the work found. */
struct job {
    enum job_kind kind;
    struct agent *a;  /* borrowed */
    struct member *m; /* borrowed: owned by the worker while m->busy */
    const struct engine_ops *ops;
    struct engine_spec spec;
    char *dir;
    char *verifier;
    char group[40];
    struct iso_limits limits;
    int stop_signal;
    /* read when the worker starts */
    int version;    /* the spec_version whose limits the job applies */
    pid_t reap_pid; /* the running engine when this agent started it (reaped after a stop) */
    /* outcome */
    pid_t pid;           /* a started engine */
    bool pid_is_child;   /* ... that is this agent's child (reap it with waitpid) */
    bool restart_needed; /* a resize that applies fully only at the next restart */
};

static void job_free(struct job *j)
{
    free(j->dir);
    if (j->verifier) {
        explicit_bzero(j->verifier, strlen(j->verifier));
        free(j->verifier);
    }
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
    j->dir = member_dir(m, a->cfg->data_dir);
    j->verifier = xstrdup(m->verifier ? m->verifier : "");
    member_group(m, a->tag, j->group);
    j->limits = m->limits;
    snprintf(j->limits.device, sizeof(j->limits.device), "%s", a->device);
    j->spec.instance = m->instance_id;
    j->spec.data_dir = j->dir;
    j->spec.listen_addr = a->cfg->advertise;
    j->spec.port = m->port;
    j->spec.cpu_millis = m->limits.cpu_millis;
    j->spec.memory_mb = m->limits.memory_mb;
    j->spec.disk_mb = m->disk_mb;
    j->spec.username = m->username;
    j->spec.verifier = j->verifier;
    j->stop_signal = j->ops ? j->ops->stop_signal : SIGTERM;
    return j;
}

void jobs_save(struct agent *a, const struct member *m)
{
    struct err e;

    if (member_save(m, a->cfg->data_dir, &e) < 0)
        log_error("event=member_save_failed member=%lld error=\"%s\"", (long long)m->id, e.msg);
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

/* Stop whatever runs in the member's group and remove the group. 0 / -1. */
static int stop_group(struct job *j, pid_t child, struct err *e)
{
    struct agent *a = j->a;
    int rc = 0, status;

    if (iso_exists(a->iso, j->group)) {
        if (iso_stop(a->iso, j->group, j->stop_signal, STOP_DEADLINE_MS, e) < 0)
            rc = -1;
    }
    if (child > 0)
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0)
        rc = iso_destroy(a->iso, j->group, e);
    return rc;
}

/* Start the engine in its group and wait until it answers. On success sets *pid. */
static int start_engine(struct job *j, pid_t *pid, bool *child, struct err *e)
{
    struct agent *a = j->a;
    struct iso_exec ex;
    char **argv = NULL;
    char *log_path = NULL;
    int64_t deadline;
    off_t log_from = 0;
    struct stat st;
    int rc = -1, status = -1;

    *pid = 0;
    *child = iso_kind_of(a->iso) != ISO_LXC;
    if (stop_group(j, 0, e) < 0) /* leftovers of an earlier run */
        goto out;
    if (engine_configure(j->ops, &j->spec, e) < 0 || engine_argv(j->ops, &j->spec, &argv, e) < 0)
        goto out;
    log_path = engine_log_path(&j->spec);
    if (stat(log_path, &st) == 0)
        log_from = st.st_size; /* the engine's error text of this start comes after */
    memset(&ex, 0, sizeof(ex));
    ex.argv = argv;
    ex.user = j->ops->cat->default_os_user;
    ex.workdir = j->dir;
    ex.log_path = log_path;
    rc = iso_start(a->iso, j->group, &j->limits, &ex, pid, e);
    if (rc < 0)
        goto out;
    rc = -1;
    deadline = clock_now_ms() + READY_DEADLINE_MS;
    for (;;) {
        struct err pe;
        if (engine_probe(j->ops, &j->spec, 1000, &pe) == 0)
            break;
        if (*child ? waitpid(*pid, &status, WNOHANG) == *pid : !proc_alive(*pid, 0)) {
            engine_start_error(j->ops, &j->spec, status, log_from, e);
            *pid = 0;
            stop_group(j, 0, &pe);
            goto out;
        }
        if (clock_now_ms() > deadline) {
            err_set(e, ENGINE_E_START, "%s did not answer within %d s", j->ops->cat->server_name,
                    READY_DEADLINE_MS / 1000);
            stop_group(j, *child ? *pid : 0, &pe);
            *pid = 0;
            goto out;
        }
        clock_sleep_ms(20);
    }
    if (engine_create_user(j->ops, &j->spec, e) < 0) {
        struct err se;
        stop_group(j, *child ? *pid : 0, &se);
        *pid = 0;
        goto out;
    }
    rc = 0;
out:
    engine_argv_free(argv);
    free(log_path);
    return rc;
}

/* Record a started engine; caller holds a->lock. */
static void mark_running(struct agent *a, struct member *m, pid_t pid, bool child, int version)
{
    m->pid = pid;
    m->starttime = proc_starttime(pid);
    m->our_child = child;
    m->applied_version = version;
    m->provisioned = true;
    m->running_since_ms = clock_now_ms();
    m->restart_at_ms = 0;
    jobs_set_state(a, m, HB_RUNNING, NULL);
}

/* Schedule the next restart of a member whose engine is down: exponential back-off from
 * BACKOFF_MIN_MS to BACKOFF_MAX_MS. Caller holds a->lock. */
static void schedule_restart(struct member *m, int64_t now)
{
    m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (m->backoff_ms > BACKOFF_MAX_MS)
        m->backoff_ms = BACKOFF_MAX_MS;
    m->restart_at_ms = now + m->backoff_ms;
}

/* The kinds of jobs. run() works without a->lock and returns 0 / -1 with e set; done() records the
 * outcome with a->lock held. */
struct job_ops {
    int (*run)(struct job *j, struct err *e);
    void (*done)(struct job *j, int rc, const struct err *e);
};

/* Record what failed on a member that keeps its state ("resize: ..."). Caller holds a->lock. */
static void set_error(struct member *m, const char *what, const char *msg)
{
    /* A message longer than the report's field is cut; its start says what failed. */
    if (snprintf(m->error, sizeof(m->error), "%s: %s", what, msg) < 0)
        m->error[0] = '\0';
}

static int provision_run(struct job *j, struct err *e)
{
    struct err ce;

    if (!j->ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent",
                       j->m->engine);
    if (engine_init(j->ops, &j->spec, e) == 0 && start_engine(j, &j->pid, &j->pid_is_child, e) == 0)
        return 0;
    /* A failed create leaves nothing behind: no process, group or data directory. */
    if (stop_group(j, 0, &ce) < 0 || engine_remove(j->ops, &j->spec, &ce) < 0)
        log_error("event=cleanup_failed member=%lld error=\"%s\"", (long long)j->m->id, ce.msg);
    return -1;
}

static void provision_done(struct job *j, int rc, const struct err *e)
{
    if (rc == 0)
        mark_running(j->a, j->m, j->pid, j->pid_is_child, j->version);
    else
        jobs_set_state(j->a, j->m, HB_FAILED, e->msg);
}

static int restart_run(struct job *j, struct err *e)
{
    return start_engine(j, &j->pid, &j->pid_is_child, e);
}

static void restart_done(struct job *j, int rc, const struct err *e)
{
    if (rc == 0) {
        mark_running(j->a, j->m, j->pid, j->pid_is_child, j->version);
    } else {
        schedule_restart(j->m, clock_now_ms());
        jobs_set_state(j->a, j->m, HB_STARTING, e->msg);
    }
}

static int resize_run(struct job *j, struct err *e)
{
    struct agent *a = j->a;
    int rc;

    rc = iso_update(a->iso, j->group, &j->limits, e);
    if (rc == 0)
        rc = engine_apply_live(j->ops, &j->spec, &j->restart_needed, e);
    return rc;
}

static void resize_done(struct job *j, int rc, const struct err *e)
{
    struct member *m = j->m;

    if (rc == 0) {
        m->applied_version = j->version;
        m->pending_restart = j->restart_needed;
        log_info("event=member_resized member=%lld cpu_millis=%lld memory_mb=%lld "
                 "pending_restart=%s",
                 (long long)m->id, (long long)j->limits.cpu_millis, (long long)j->limits.memory_mb,
                 j->restart_needed ? "yes" : "no");
    } else {
        log_error("event=resize_failed member=%lld error=\"%s\"", (long long)m->id, e->msg);
        set_error(m, "resize", e->msg);
    }
    jobs_save(j->a, m);
}

static int delete_run(struct job *j, struct err *e)
{
    int rc = stop_group(j, j->reap_pid, e);

    if (rc == 0 && j->ops)
        rc = engine_remove(j->ops, &j->spec, e);
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
        set_error(m, "delete", e->msg);
    }
}

static const struct job_ops job_kinds[] = {
    [JOB_PROVISION] = {provision_run, provision_done},
    [JOB_RESTART] = {restart_run, restart_done},
    [JOB_RESIZE] = {resize_run, resize_done},
    [JOB_DELETE] = {delete_run, delete_done},
};

/* The worker thread of every job: what the member is at the start, the work without the lock,
 * the outcome with it, then the member goes back to the main loop and heartbeat. */
static void *job_main(void *arg)
{
    struct job *j = arg;
    struct agent *a = j->a;
    const struct job_ops *kind = &job_kinds[j->kind];
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

void jobs_supervise(struct agent *a)
{
    struct member *m;
    int64_t now = clock_now_ms();
    int status;

    pthread_mutex_lock(&a->lock);
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
            if (!dead)
                continue;
            if (now - m->running_since_ms > STABLE_MS)
                m->backoff_ms = 0;
            schedule_restart(m, now);
            m->restarts++;
            m->pid = 0;
            log_warn("event=engine_died member=%lld instance=%s reason=\"%s\" restart_in_ms=%d",
                     (long long)m->id, m->instance, why, m->backoff_ms);
            jobs_set_state(a, m, HB_STARTING, why);
        } else if (m->state == HB_STARTING && m->restart_at_ms && now >= m->restart_at_ms) {
            m->restart_at_ms = 0;
            jobs_spawn(a, m, JOB_RESTART);
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
        if (stop_group(j, m->our_child ? m->pid : 0, &e) < 0)
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
        busy = a->workers;
        pthread_mutex_unlock(&a->lock);
        if (!busy)
            break;
        clock_sleep_ms(10);
    }
}
