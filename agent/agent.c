/* dbaas-agent's core loop.
 *
 * NOTES: the main thread ticks every 100 ms: it reaps and checks the engines (a dead engine is
 * restarted with exponential back-off), and every heartbeat_ms it reports to dbaasd and
 * reconciles the desired members from the reply. Slow work on a member (init and start,
 * restart, resize, delete) runs on a detached worker thread that owns the member while
 * m->busy is set; the member list and every member's fields are guarded by `lock`, and the
 * isolation handle (not thread-safe) by `iso_lock`. Every change of a member is persisted
 * (agent/member.c) before it is reported, so that a restarted agent picks up where it was. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/engine.h"
#include "agent/member.h"
#include "lib/proc.h"
#include "lib/buf.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/crypto.h"

#define AGENT_VERSION "0.1.0"
#define TICK_MS 100
#define READY_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 30000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 60000 /* running this long resets the back-off */
#define DISK_CHECK_MS 10000

static const struct agent_config *cfg;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;
static struct iso *iso;
static struct member *members;
static char device[ISO_DEVICE_MAX];
static char tag[16]; /* "a" + 8 hex digits of the data directory's hash: see member_group() */
static pthread_cond_t wake;   /* the main loop: a member changed state (CLOCK_MONOTONIC) */
static int workers;           /* running worker threads, guarded by lock */
static bool report_now;       /* a member changed state: report at once (guarded by lock) */
static char desired_hash[65]; /* of the desired members last applied (guarded by lock) */
static volatile sig_atomic_t *stopping;

/* What a worker needs of a member, copied under the lock so that it can work without it. */
struct job {
    struct member *m;
    const struct engine_ops *ops;
    struct engine_spec spec;
    char *dir;
    char *verifier;
    char group[40];
    struct iso_limits limits;
    int stop_signal;
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

/* Caller holds lock. */
static struct job *job_new(struct member *m)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->m = m;
    j->ops = engine_find(m->engine);
    j->dir = member_dir(m, cfg->data_dir);
    j->verifier = xstrdup(m->verifier ? m->verifier : "");
    member_group(m, tag, j->group);
    j->limits = m->limits;
    snprintf(j->limits.device, sizeof(j->limits.device), "%s", device);
    j->spec.instance = m->instance_id;
    j->spec.data_dir = j->dir;
    j->spec.listen_addr = cfg->advertise;
    j->spec.port = m->port;
    j->spec.cpu_millis = m->limits.cpu_millis;
    j->spec.memory_mb = m->limits.memory_mb;
    j->spec.disk_mb = m->disk_mb;
    j->spec.username = m->username;
    j->spec.verifier = j->verifier;
    j->stop_signal = j->ops ? j->ops->stop_signal : SIGTERM;
    return j;
}

/* Persist m; caller holds lock. */
static void save(const struct member *m)
{
    struct err e;

    if (member_save(m, cfg->data_dir, &e) < 0)
        log_error("event=member_save_failed member=%lld error=\"%s\"", (long long)m->id, e.msg);
}

/* Set the observed state; caller holds lock. */
static void set_state(struct member *m, enum mstate to, const char *error)
{
    if (m->state != to)
        log_info("event=member_state member=%lld instance=%s engine=%s from=%s to=%s%s%s%s",
                 (long long)m->id, m->instance, m->engine, mstate_name(m->state), mstate_name(to),
                 error ? " error=\"" : "", error ? error : "", error ? "\"" : "");
    if (m->state != to) {
        report_now = true;
        pthread_cond_signal(&wake);
    }
    m->state = to;
    snprintf(m->error, sizeof(m->error), "%s", error ? error : "");
    save(m);
}

/* Stop whatever runs in the member's group and remove the group. 0 / -1. */
static int stop_group(struct job *j, pid_t child, struct err *e)
{
    int rc = 0, status;

    pthread_mutex_lock(&iso_lock);
    if (iso_exists(iso, j->group)) {
        if (iso_stop(iso, j->group, j->stop_signal, STOP_DEADLINE_MS, e) < 0)
            rc = -1;
    }
    pthread_mutex_unlock(&iso_lock);
    if (child > 0)
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0) {
        pthread_mutex_lock(&iso_lock);
        rc = iso_destroy(iso, j->group, e);
        pthread_mutex_unlock(&iso_lock);
    }
    return rc;
}

/* Start the engine in its group and wait until it answers. On success sets *pid. */
static int start_engine(struct job *j, pid_t *pid, bool *child, struct err *e)
{
    struct iso_exec ex;
    char **argv = NULL;
    char *log_path = NULL;
    int64_t deadline;
    off_t log_from = 0;
    struct stat st;
    int rc = -1, status = -1;

    *pid = 0;
    *child = iso_kind_of(iso) != ISO_LXC;
    if (stop_group(j, 0, e) < 0) /* leftovers of an earlier run */
        goto out;
    if (engine_configure(j->ops, &j->spec, e) < 0 || engine_argv(j->ops, &j->spec, &argv, e) < 0)
        goto out;
    log_path = engine_log_path(&j->spec);
    if (stat(log_path, &st) == 0)
        log_from = st.st_size; /* the engine's error text of this start comes after */
    memset(&ex, 0, sizeof(ex));
    ex.argv = argv;
    ex.user = j->ops->default_os_user;
    ex.workdir = j->dir;
    ex.log_path = log_path;
    pthread_mutex_lock(&iso_lock);
    rc = iso_start(iso, j->group, &j->limits, &ex, pid, e);
    pthread_mutex_unlock(&iso_lock);
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
            err_set(e, ENGINE_E_START, "%s did not answer within %d s", j->ops->server_name,
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

/* Record a started engine; caller holds lock. */
static void mark_running(struct member *m, pid_t pid, bool child, int version)
{
    m->pid = pid;
    m->starttime = proc_starttime(pid);
    m->our_child = child;
    m->applied_version = version;
    m->provisioned = true;
    m->running_since_ms = clock_now_ms();
    m->restart_at_ms = 0;
    set_state(m, MS_RUNNING, NULL);
}

/* Schedule the next restart of a member whose engine is down: exponential back-off from
 * BACKOFF_MIN_MS to BACKOFF_MAX_MS. Caller holds lock. */
static void schedule_restart(struct member *m, int64_t now)
{
    m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (m->backoff_ms > BACKOFF_MAX_MS)
        m->backoff_ms = BACKOFF_MAX_MS;
    m->restart_at_ms = now + m->backoff_ms;
}

static void *work_provision(void *arg)
{
    struct job *j = arg;
    struct err e = {0, ""};
    pid_t pid = 0;
    bool child = false;
    int version;

    pthread_mutex_lock(&lock);
    version = j->m->spec_version;
    pthread_mutex_unlock(&lock);
    if (!j->ops) {
        err_set(&e, 1, "engine \"%s\" is not offered by this agent", j->m->engine);
    } else if (engine_init(j->ops, &j->spec, &e) == 0 && start_engine(j, &pid, &child, &e) == 0) {
        pthread_mutex_lock(&lock);
        mark_running(j->m, pid, child, version);
        goto done;
    } else {
        /* A failed create leaves nothing behind: no process, group or data directory. */
        struct err ce;
        if (stop_group(j, 0, &ce) < 0 || engine_remove(j->ops, &j->spec, &ce) < 0)
            log_error("event=cleanup_failed member=%lld error=\"%s\"", (long long)j->m->id, ce.msg);
    }
    pthread_mutex_lock(&lock);
    set_state(j->m, MS_FAILED, e.msg);
done:
    j->m->busy = false;
    workers--;
    pthread_mutex_unlock(&lock);
    job_free(j);
    return NULL;
}

static void *work_restart(void *arg)
{
    struct job *j = arg;
    struct err e = {0, ""};
    pid_t pid = 0;
    bool child = false;
    int version;

    pthread_mutex_lock(&lock);
    version = j->m->spec_version;
    pthread_mutex_unlock(&lock);
    if (start_engine(j, &pid, &child, &e) == 0) {
        pthread_mutex_lock(&lock);
        mark_running(j->m, pid, child, version);
    } else {
        pthread_mutex_lock(&lock);
        schedule_restart(j->m, clock_now_ms());
        set_state(j->m, MS_STARTING, e.msg);
    }
    j->m->busy = false;
    workers--;
    pthread_mutex_unlock(&lock);
    job_free(j);
    return NULL;
}

static void *work_resize(void *arg)
{
    struct job *j = arg;
    struct err e = {0, ""};
    bool restart_needed = false;
    int version, rc;

    pthread_mutex_lock(&lock);
    version = j->m->spec_version;
    pthread_mutex_unlock(&lock);
    pthread_mutex_lock(&iso_lock);
    rc = iso_update(iso, j->group, &j->limits, &e);
    pthread_mutex_unlock(&iso_lock);
    if (rc == 0)
        rc = engine_apply_live(j->ops, &j->spec, &restart_needed, &e);
    pthread_mutex_lock(&lock);
    if (rc == 0) {
        j->m->applied_version = version;
        j->m->pending_restart = restart_needed;
        log_info("event=member_resized member=%lld cpu_millis=%lld memory_mb=%lld "
                 "pending_restart=%s",
                 (long long)j->m->id, (long long)j->limits.cpu_millis,
                 (long long)j->limits.memory_mb, restart_needed ? "yes" : "no");
        save(j->m);
    } else {
        log_error("event=resize_failed member=%lld error=\"%s\"", (long long)j->m->id, e.msg);
        snprintf(j->m->error, sizeof(j->m->error), "resize: %s", e.msg);
        save(j->m);
    }
    j->m->busy = false;
    workers--;
    pthread_mutex_unlock(&lock);
    job_free(j);
    return NULL;
}

static void *work_delete(void *arg)
{
    struct job *j = arg;
    struct err e = {0, ""};
    pid_t child;
    int rc;

    pthread_mutex_lock(&lock);
    child = j->m->our_child ? j->m->pid : 0;
    pthread_mutex_unlock(&lock);
    rc = stop_group(j, child, &e);
    if (rc == 0 && j->ops)
        rc = engine_remove(j->ops, &j->spec, &e);
    pthread_mutex_lock(&lock);
    if (rc == 0) {
        j->m->pid = 0;
        set_state(j->m, MS_DELETED, NULL);
    } else {
        log_error("event=delete_failed member=%lld error=\"%s\"", (long long)j->m->id, e.msg);
        snprintf(j->m->error, sizeof(j->m->error), "delete: %s", e.msg);
    }
    j->m->busy = false;
    workers--;
    pthread_mutex_unlock(&lock);
    job_free(j);
    return NULL;
}

/* Hand m to a worker; caller holds lock. */
static void spawn(struct member *m, void *(*fn)(void *))
{
    pthread_attr_t attr;
    pthread_t t;
    struct job *j = job_new(m);

    m->busy = true;
    workers++;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, fn, j) != 0) {
        log_error("event=thread_failed member=%lld", (long long)m->id);
        m->busy = false;
        workers--;
        job_free(j);
    }
    pthread_attr_destroy(&attr);
}

/* Check every running engine; a dead one is due for a restart after its back-off. */
static void supervise(void)
{
    struct member *m;
    int64_t now = clock_now_ms();
    int status;

    pthread_mutex_lock(&lock);
    for (m = members; m; m = m->next) {
        if (m->busy || !m->want_running)
            continue;
        if (m->state == MS_RUNNING) {
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
            set_state(m, MS_STARTING, why);
        } else if (m->state == MS_STARTING && m->restart_at_ms && now >= m->restart_at_ms) {
            m->restart_at_ms = 0;
            spawn(m, work_restart);
        }
    }
    pthread_mutex_unlock(&lock);
}

/* Total size of the files under a directory, in MiB (rounded up). */
static int64_t du_total;
static int du_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        du_total += (int64_t)st->st_blocks * 512;
    return 0;
}

static int64_t disk_used_mb(const char *dir)
{
    du_total = 0;
    nftw(dir, du_visit, 16, FTW_PHYS | FTW_MOUNT);
    return (du_total + (1 << 20) - 1) >> 20;
}

/* The heartbeat's members: every member we know, with usage for the running ones. */
static json_t *report(void)
{
    json_t *arr = json_array();
    struct member *m;
    int64_t now = clock_now_ms();

    pthread_mutex_lock(&lock);
    for (m = members; m; m = m->next) {
        json_t *r;
        if (m->state == MS_RUNNING) {
            char group[40];
            struct err e;
            member_group(m, tag, group);
            pthread_mutex_lock(&iso_lock);
            if (iso_usage(iso, group, &m->usage, &e) < 0)
                memset(&m->usage, 0, sizeof(m->usage));
            pthread_mutex_unlock(&iso_lock);
            if (now - m->disk_checked_ms > DISK_CHECK_MS || !m->disk_checked_ms) {
                char *dir = member_dir(m, cfg->data_dir);
                m->disk_used_mb = disk_used_mb(dir);
                m->disk_checked_ms = now;
                free(dir);
            }
        }
        r = json_pack(
            "{s:I,s:s,s:i,s:i,s:i,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "id", (json_int_t)m->id,
            "state", mstate_name(m->state), "pid", (int)m->pid, "restarts", m->restarts,
            "applied_version", m->applied_version, "pending_restart", m->pending_restart, "usage",
            "cpu_usec", (json_int_t)m->usage.cpu_usec, "memory_bytes",
            (json_int_t)m->usage.memory_bytes, "io_read_bytes", (json_int_t)m->usage.io_read_bytes,
            "io_write_bytes", (json_int_t)m->usage.io_write_bytes, "disk_mb",
            (json_int_t)m->disk_used_mb, "oom_kills", (json_int_t)m->usage.oom_kills);
        if (m->error[0])
            json_object_set_new(r, "error", json_string(m->error));
        json_array_append_new(arr, r);
    }
    pthread_mutex_unlock(&lock);
    return arr;
}

/* Apply the desired members of a heartbeat reply. */
static void reconcile(const json_t *desired)
{
    struct member *m, **pp;
    struct err e;
    size_t i;
    json_t *d;

    pthread_mutex_lock(&lock);
    json_array_foreach(desired, i, d)
    {
        int64_t id = json_integer_value(json_object_get(d, "id"));
        for (m = members; m && m->id != id; m = m->next)
            ;
        if (!m) {
            m = member_from_desired(d, &e);
            if (!m) {
                log_warn("event=bad_desired_member error=\"%s\"", e.msg);
                continue;
            }
            m->next = members;
            members = m;
            save(m);
            if (m->want_running)
                spawn(m, work_provision);
            else
                spawn(m, work_delete); /* leftovers of a crash, if any */
            continue;
        }
        if (member_update_desired(m, d))
            save(m);
        if (m->busy)
            continue;
        if (!m->want_running) {
            if (m->state != MS_DELETED)
                spawn(m, work_delete);
        } else if (m->state == MS_RUNNING && m->applied_version != m->spec_version) {
            spawn(m, work_resize);
        } else if (m->state == MS_PENDING) {
            spawn(m, work_provision);
        }
    }
    /* Members dbaasd no longer lists: deleted ones are forgotten; others are orphans of an
     * instance that is gone: delete them. */
    for (pp = &members; (m = *pp) != NULL;) {
        bool listed = false;
        json_array_foreach(desired, i, d)
        {
            if (json_integer_value(json_object_get(d, "id")) == m->id)
                listed = true;
        }
        if (!listed && !m->busy) {
            if (m->state == MS_DELETED) {
                *pp = m->next;
                member_forget(m, cfg->data_dir);
                member_free(m);
                continue;
            }
            m->want_running = false;
            spawn(m, work_delete);
        }
        pp = &m->next;
    }
    pthread_mutex_unlock(&lock);
}

static int64_t machine_memory_mb(void)
{
    struct sysinfo si;

    if (sysinfo(&si) < 0)
        return 0;
    return (int64_t)((unsigned long long)si.totalram * si.mem_unit >> 20);
}

static int64_t machine_disk_mb(const char *dir)
{
    struct statvfs sv;

    if (statvfs(dir, &sv) < 0)
        return 0;
    return (int64_t)((unsigned long long)sv.f_blocks * sv.f_frsize >> 20);
}

/* One heartbeat: report, then reconcile the reply. With wait_ms, dbaasd holds the reply until
 * the desired members differ from the ones last applied (or wait_ms passed). 0 / -1. */
static int heartbeat(struct httpc *c, int *failures, int wait_ms)
{
    json_t *body, *reply, *engines = json_array();
    const struct engine_ops *const *ops;
    struct buf resp = BUF_INIT;
    char *text;
    long status = 0;
    struct err e;
    int rc = -1;

    for (ops = engine_list(); *ops; ops++)
        json_array_append_new(engines, json_string((*ops)->name));
    body = json_pack(
        "{s:s,s:s,s:{s:I,s:I,s:I},s:o,s:{s:i,s:i},s:o}", "agent_version", AGENT_VERSION,
        "isolation", iso_kind_name(iso_kind_of(iso)), "capacity", "cpu_millis",
        (json_int_t)(cfg->cpu_millis ? cfg->cpu_millis : sysconf(_SC_NPROCESSORS_ONLN) * 1000),
        "memory_mb", (json_int_t)(cfg->memory_mb ? cfg->memory_mb : machine_memory_mb()), "disk_mb",
        (json_int_t)(cfg->disk_mb ? cfg->disk_mb : machine_disk_mb(cfg->data_dir)), "engines",
        engines, "ports", "min", cfg->port_min, "max", cfg->port_max, "members", report());
    pthread_mutex_lock(&lock);
    if (desired_hash[0])
        json_object_set_new(body, "desired_hash", json_string(desired_hash));
    pthread_mutex_unlock(&lock);
    json_object_set_new(body, "wait_ms", json_integer(wait_ms));
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (httpc_request(c, "POST", "/v1/agent/heartbeat", text, 5000 + wait_ms, &status, &resp, &e) <
        0) {
        if ((*failures)++ % 10 == 0)
            log_warn("event=heartbeat_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (status != 200) {
        if ((*failures)++ % 10 == 0)
            log_warn("event=heartbeat_refused status=%ld body=\"%.200s\"", status, buf_str(&resp));
        goto out;
    }
    if (*failures)
        log_info("event=heartbeat_ok after_failures=%d", *failures);
    *failures = 0;
    reply = json_loadb(buf_str(&resp), resp.len, 0, NULL);
    if (reply && json_is_array(json_object_get(reply, "members"))) {
        reconcile(json_object_get(reply, "members"));
        pthread_mutex_lock(&lock);
        snprintf(desired_hash, sizeof(desired_hash), "%s",
                 json_string_value(json_object_get(reply, "desired_hash"))
                     ? json_string_value(json_object_get(reply, "desired_hash"))
                     : "");
        pthread_mutex_unlock(&lock);
        rc = 0;
    } else {
        log_warn("event=heartbeat_bad_reply");
    }
    json_decref(reply);
out:
    free(text);
    buf_free(&resp);
    return rc;
}

/* The heartbeat thread: long polls, so that a change of the desired members reaches the agent
 * at once; at least one heartbeat per heartbeat_ms. */
static void *poll_loop(void *arg)
{
    struct httpc *c = arg;
    int failures = 0;

    while (!*stopping) {
        int64_t start = clock_now_ms();
        int rc = heartbeat(c, &failures, cfg->heartbeat_ms);
        int64_t elapsed = clock_now_ms() - start;
        /* Pace: after a failure, or a server that answered without waiting. */
        if (rc < 0 || elapsed < 100) {
            int64_t pause = rc < 0 ? cfg->heartbeat_ms : 100 - elapsed;
            while (pause > 0 && !*stopping) {
                clock_sleep_ms(50);
                pause -= 50;
            }
        }
    }
    return NULL;
}

/* Stop every running engine, keeping its data: the next agent starts it again. */
static void stop_all(void)
{
    struct member *m;

    pthread_mutex_lock(&lock);
    for (m = members; m; m = m->next) {
        struct job *j;
        struct err e;
        if (m->busy || m->state != MS_RUNNING)
            continue;
        j = job_new(m);
        pthread_mutex_unlock(&lock);
        if (stop_group(j, m->our_child ? m->pid : 0, &e) < 0)
            log_error("event=stop_failed member=%lld error=\"%s\"", (long long)m->id, e.msg);
        pthread_mutex_lock(&lock);
        m->pid = 0;
        set_state(m, MS_STARTING, "stopped with the agent");
        job_free(j);
    }
    pthread_mutex_unlock(&lock);
}

/* Members persisted by an earlier agent: adopt the engines that still run, restart the others. */
static void adopt(void)
{
    struct member *m;
    struct err e;

    members = member_load_all(cfg->data_dir);
    pthread_mutex_lock(&lock);
    for (m = members; m; m = m->next) {
        char group[40];
        pid_t pid = 0;

        member_group(m, tag, group);
        if (!m->want_running) {
            if (m->state != MS_DELETED)
                spawn(m, work_delete);
            continue;
        }
        if (m->state == MS_RUNNING && proc_alive(m->pid, m->starttime)) {
            m->our_child = false;
            m->running_since_ms = clock_now_ms();
            log_info("event=member_adopted member=%lld instance=%s pid=%d", (long long)m->id,
                     m->instance, (int)m->pid);
            continue;
        }
        /* The recorded pid is gone: is the group's engine still there (started just before the
         * old agent died, say)? */
        pthread_mutex_lock(&iso_lock);
        if (iso_exists(iso, group) && iso_main_pid(iso, group, &pid, &e) == 0 && pid > 0) {
            pthread_mutex_unlock(&iso_lock);
            m->pid = pid;
            m->starttime = proc_starttime(pid);
            m->our_child = false;
            m->running_since_ms = clock_now_ms();
            set_state(m, MS_RUNNING, NULL);
            log_info("event=member_adopted member=%lld instance=%s pid=%d", (long long)m->id,
                     m->instance, (int)pid);
            continue;
        }
        pthread_mutex_unlock(&iso_lock);
        if (m->provisioned) {
            m->restart_at_ms = clock_now_ms();
            set_state(m, MS_STARTING, "the engine was not running when the agent started");
        } else {
            set_state(m, MS_PENDING, NULL);
            spawn(m, work_provision);
        }
    }
    pthread_mutex_unlock(&lock);
}

int agent_run(const struct agent_config *config, volatile sig_atomic_t *stop, struct err *e)
{
    struct httpc *c = NULL, *poll_c = NULL;
    struct member *m;
    char *mdir = NULL;
    pthread_t poller;
    bool polling = false;
    int failures = 0, rc = -1;
    struct err de;

    cfg = config;
    stopping = stop;
    if (mkdir(cfg->data_dir, 0711) < 0 && errno != EEXIST) {
        err_set(e, 1, "could not create directory \"%s\": %s", cfg->data_dir, strerror(errno));
        goto out;
    }
    /* Engines run as their own users: they must be able to traverse to their directories. */
    if (chmod(cfg->data_dir, 0711) < 0) {
        err_set(e, 1, "could not set mode of \"%s\": %s", cfg->data_dir, strerror(errno));
        goto out;
    }
    {
        char *abs = realpath(cfg->data_dir, NULL);
        char hash[65];
        crypto_sha256_hex(abs ? abs : cfg->data_dir, strlen(abs ? abs : cfg->data_dir), hash);
        snprintf(tag, sizeof(tag), "a%.8s", hash);
        free(abs);
    }
    {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&wake, &attr);
        pthread_condattr_destroy(&attr);
    }
    mdir = xasprintf("%s/members", cfg->data_dir);
    if ((mkdir(mdir, 0711) < 0 && errno != EEXIST) || chmod(mdir, 0711) < 0) {
        err_set(e, 1, "could not create directory \"%s\": %s", mdir, strerror(errno));
        goto out;
    }
    if (iso_block_device(cfg->data_dir, device, &de) < 0) {
        device[0] = '\0';
        log_warn("event=no_io_limits reason=\"%s\"", de.msg);
    }
    {
        struct iso_options opts;
        memset(&opts, 0, sizeof(opts));
        opts.libvirt_uri = cfg->libvirt_uri;
        iso = iso_open(cfg->isolation, "dbaas", &opts, e);
    }
    if (!iso)
        goto out;
    c = httpc_new(cfg->server, cfg->token);
    poll_c = httpc_new(cfg->server, cfg->token);
    if (!c || !poll_c) {
        err_set(e, 1, "could not initialise the HTTP client");
        goto out;
    }
    adopt();
    log_info("event=ready server=%s advertise=%s isolation=%s data_dir=%s ports=%d-%d", cfg->server,
             cfg->advertise, iso_kind_name(iso_kind_of(iso)), cfg->data_dir, cfg->port_min,
             cfg->port_max);
    if (pthread_create(&poller, NULL, poll_loop, poll_c) != 0) {
        err_set(e, 1, "could not start the heartbeat thread");
        goto out;
    }
    polling = true;
    /* This thread supervises the engines and reports state changes at once. */
    while (!*stop) {
        struct timespec until;
        bool now;
        supervise();
        pthread_mutex_lock(&lock);
        if (!report_now) {
            clock_deadline(&until, TICK_MS);
            pthread_cond_timedwait(&wake, &lock, &until);
        }
        now = report_now;
        report_now = false;
        pthread_mutex_unlock(&lock);
        if (now)
            heartbeat(c, &failures, 0);
    }
    if (polling) {
        pthread_join(poller, NULL);
        polling = false;
    }
    /* Engines keep running; wait (briefly) for workers so their state is persisted. */
    for (int waited = 0; waited < 10000; waited += 10) {
        int busy;
        pthread_mutex_lock(&lock);
        busy = workers;
        pthread_mutex_unlock(&lock);
        if (!busy)
            break;
        clock_sleep_ms(10);
    }
    if (cfg->stop_engines)
        stop_all();
    rc = 0;
out:
    if (polling)
        pthread_join(poller, NULL);
    pthread_mutex_lock(&lock);
    if (workers == 0) {
        while ((m = members) != NULL) {
            members = m->next;
            member_free(m);
        }
        iso_close(iso);
        iso = NULL;
    }
    pthread_mutex_unlock(&lock);
    httpc_free(c);
    httpc_free(poll_c);
    free(mdir);
    return rc;
}
