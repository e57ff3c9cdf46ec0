/* dbaas-agent's core: the agent's context, startup, re-adoption of running engines, the main
 * loop and shutdown.
 *
 * NOTES: agent_run() creates the context (struct agent, agent/agent.h) and hands it to every
 * function of the core. Threads: the main thread ticks every 100 ms: it reaps and checks the
 * engines (agent/jobs.c: a dead engine is restarted with exponential back-off); the reporter
 * thread reports a change of state at once; the heartbeat thread long-polls dbaasd and
 * reconciles the desired members from each reply (agent/heartbeat.c); worker threads do the
 * slow work on one member (agent/jobs.c); the prober probes every running engine each second
 * (agent/probe.c); the seed server streams seeds to replicas (agent/seed.c); the janitor
 * removes quarantined data once its keep time passed (agent/quarantine.c). No exchange with
 * dbaasd, stop of an engine or probe runs on the main thread. Errors of startup return to main(),
 * which logs them; later errors are logged where they happen and reported to dbaasd in the member's
 * state. */
#include "agent/agent.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/heartbeat.h"
#include "agent/jobs.h"
#include "agent/leasing.h"
#include "agent/member.h"
#include "agent/probe.h"
#include "agent/quarantine.h"
#include "agent/seed.h"
#include "agent/token.h"
#include "lib/proc.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define TICK_MS 100
#define WORKERS_WAIT_MS 10000 /* at shutdown, for workers to persist their outcome */
#define SWEEP_MAX_MS 60000    /* the janitor's pass, at least this often */

/* A new context for cfg (borrowed until the context is freed). */
static struct agent *agent_new(const struct agent_config *cfg, volatile sig_atomic_t *stop)
{
    struct agent *a = xcalloc(1, sizeof(*a));
    pthread_condattr_t attr;

    a->cfg = cfg;
    a->stopping = stop;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &attr);
    pthread_cond_init(&a->report_wake, &attr);
    pthread_condattr_destroy(&attr);
    a->heartbeat_ms = cfg->heartbeat_ms;
    a->guard_fd = -1;
    agent_token_init(a);
    return a;
}

/* Free a context that no thread uses any more, with its members, isolation handle and
 * clients. */
static void agent_free(struct agent *a)
{
    struct member *m;

    while ((m = a->members) != NULL) {
        a->members = m->next;
        member_free(m);
    }
    iso_close(a->iso);
    httpc_free(a->report_http);
    httpc_free(a->poll_http);
    if (a->token) {
        explicit_bzero(a->token, strlen(a->token));
        free(a->token);
    }
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->report_wake);
    free(a->self_exe);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* The data directory and its members/ directory, traversable by the engines' users, and the
 * agent's tag from the directory's absolute path. 0 / -1. */
static int prepare_data_dir(struct agent *a, struct err *e)
{
    const char *dir = a->cfg->data_dir;
    char *mdir = NULL, *abs;
    char hash[65];
    int rc = -1;

    if (mkdir(dir, 0711) < 0 && errno != EEXIST) {
        err_set(e, AGENT_E_SYSTEM, "could not create directory \"%s\": %s", dir, strerror(errno));
        goto out;
    }
    /* Engines run as their own users: they must be able to traverse to their directories. */
    if (chmod(dir, 0711) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not set mode of \"%s\": %s", dir, strerror(errno));
        goto out;
    }
    abs = realpath(dir, NULL);
    crypto_sha256_hex(abs ? abs : dir, strlen(abs ? abs : dir), hash);
    snprintf(a->tag, sizeof(a->tag), "a%.8s", hash);
    free(abs);
    mdir = xasprintf("%s/members", dir);
    if ((mkdir(mdir, 0711) < 0 && errno != EEXIST) || chmod(mdir, 0711) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not create directory \"%s\": %s", mdir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(mdir);
    return rc;
}

/* Members persisted by an earlier agent: adopt the engines that still run, restart the others. */
static void adopt(struct agent *a)
{
    struct member *m;
    struct err e;

    a->members = member_load_all(a->cfg->data_dir);
    pthread_mutex_lock(&a->lock);
    for (m = a->members; m; m = m->next) {
        char group[40];
        pid_t pid = 0;

        member_group(m, a->tag, group);
        if (!m->want_running) {
            if (m->state != HB_DELETED)
                jobs_spawn(a, m, JOB_DELETE);
            continue;
        }
        if (m->state == HB_RUNNING && proc_alive(m->pid, m->starttime)) {
            m->our_child = false;
            m->running_since_ms = clock_now_ms();
            log_info("event=member_adopted member=%lld instance=%s pid=%d", (long long)m->id,
                     m->instance, (int)m->pid);
            continue;
        }
        /* The recorded pid is gone: is the group's engine still there (started just before the
         * old agent died, say)? */
        if (iso_exists(a->iso, group) && iso_main_pid(a->iso, group, &pid, &e) == 0 && pid > 0) {
            m->pid = pid;
            m->starttime = proc_starttime(pid);
            m->our_child = false;
            m->running_since_ms = clock_now_ms();
            jobs_set_state(a, m, HB_RUNNING, NULL);
            log_info("event=member_adopted member=%lld instance=%s pid=%d", (long long)m->id,
                     m->instance, (int)pid);
            continue;
        }
        if (m->provisioned) {
            m->restart_at_ms = clock_now_ms();
            jobs_set_state(a, m, HB_STARTING, "the engine was not running when the agent started");
        } else {
            jobs_set_state(a, m, HB_PENDING, NULL);
            jobs_spawn(a, m, JOB_PROVISION);
        }
    }
    pthread_mutex_unlock(&a->lock);
}

/* The main thread's loop until *stop: supervise the engines every tick, and at once when a
 * member changed state. */
static void main_loop(struct agent *a)
{
    while (!*a->stopping) {
        struct timespec until;
        jobs_supervise(a);
        pthread_mutex_lock(&a->lock);
        clock_deadline(&until, TICK_MS);
        pthread_cond_timedwait(&a->wake, &a->lock, &until);
        pthread_mutex_unlock(&a->lock);
    }
}

/* The janitor thread (arg: the struct agent): removes quarantined data once it has been kept
 * for cfg->keep_deleted_s, at start and then every minute (more often with a short keep). */
static void *janitor_main(void *arg)
{
    struct agent *a = arg;
    int64_t period = a->cfg->keep_deleted_s * 1000 / 4;

    if (period > SWEEP_MAX_MS)
        period = SWEEP_MAX_MS;
    if (period < 1000)
        period = 1000;
    while (!*a->stopping) {
        struct err e = {0, ""};
        int n = quarantine_sweep(a->cfg->data_dir, time(NULL), a->cfg->keep_deleted_s, &e);
        if (n > 0)
            log_info("event=quarantine_removed entries=%d keep_s=%lld", n,
                     (long long)a->cfg->keep_deleted_s);
        if (e.code)
            log_error("event=quarantine_remove_failed error=\"%s\"", e.msg);
        for (int64_t slept = 0; slept < period && !*a->stopping; slept += TICK_MS)
            clock_sleep_ms(TICK_MS);
    }
    return NULL;
}

/* The reporter thread (arg: the struct agent): a report with wait_ms 0 as soon as a member
 * changed state (a->report_now), so that an exchange with a slow dbaasd never holds up
 * supervision. */
static void *reporter_main(void *arg)
{
    struct agent *a = arg;
    int failures = 0;

    while (!*a->stopping) {
        struct timespec until;
        bool now;
        pthread_mutex_lock(&a->lock);
        if (!a->report_now) {
            clock_deadline(&until, TICK_MS);
            pthread_cond_timedwait(&a->report_wake, &a->lock, &until);
        }
        now = a->report_now;
        a->report_now = false;
        pthread_mutex_unlock(&a->lock);
        if (now)
            heartbeat_once(a, a->report_http, &failures, 0);
    }
    return NULL;
}

int agent_run(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct err *e)
{
    struct agent *a = agent_new(cfg, stop);
    pthread_t poller, reporter, janitor, prober, leaser;
    bool polling = false, reporting = false, sweeping = false, probing = false, leasing = false,
         idle;
    struct seed_server *seeds = NULL;
    int rc = -1;
    struct err de;

    if (prepare_data_dir(a, e) < 0)
        goto out;
    if (iso_block_device(cfg->data_dir, a->device, &de) < 0) {
        a->device[0] = '\0';
        log_warn("event=no_io_limits reason=\"%s\"", de.msg);
    }
    a->self_exe = realpath("/proc/self/exe", NULL);
    if (!a->self_exe) {
        err_set(e, AGENT_E_SYSTEM, "could not find the agent's own program: %s", strerror(errno));
        goto out;
    }
    {
        struct iso_options opts;
        memset(&opts, 0, sizeof(opts));
        opts.libvirt_uri = cfg->libvirt_uri;
        opts.lxc_init = a->self_exe; /* its lxc-init subcommand (isolation/lxc_init.h) */
        a->iso = iso_open(cfg->isolation, "dbaas", &opts, e);
    }
    if (!a->iso)
        goto out;
    a->report_http = httpc_new(cfg->server, cfg->token);
    a->poll_http = httpc_new(cfg->server, cfg->token);
    if (!a->report_http || !a->poll_http) {
        err_set(e, AGENT_E_CLIENT, "could not initialise the HTTP client");
        goto out;
    }
    httpc_set_ca_file(a->report_http, cfg->ca_file);
    httpc_set_ca_file(a->poll_http, cfg->ca_file);
    /* the fence guard before any member is adopted or started (agent/leasing.h) */
    if (leasing_init(a, e) < 0)
        goto out;
    if (cfg->seed_port > 0) {
        seeds = seed_server_start(a, e);
        if (!seeds)
            goto out;
        a->seed_port = cfg->seed_port;
    }
    adopt(a);
    leasing_arm_adopted(a);
    log_info("event=ready server=%s advertise=%s isolation=%s data_dir=%s ports=%d-%d", cfg->server,
             cfg->advertise, iso_kind_name(iso_kind_of(a->iso)), cfg->data_dir, cfg->port_min,
             cfg->port_max);
    if (pthread_create(&poller, NULL, heartbeat_poll_main, a) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the heartbeat thread");
        goto out;
    }
    polling = true;
    if (pthread_create(&reporter, NULL, reporter_main, a) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the reporter thread");
        goto out;
    }
    reporting = true;
    if (pthread_create(&janitor, NULL, janitor_main, a) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the janitor thread");
        goto out;
    }
    sweeping = true;
    if (pthread_create(&prober, NULL, probe_main, a) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the prober thread");
        goto out;
    }
    probing = true;
    if (pthread_create(&leaser, NULL, leasing_main, a) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the lease thread");
        goto out;
    }
    leasing = true;
    main_loop(a);
    pthread_join(poller, NULL);
    pthread_join(reporter, NULL);
    pthread_join(janitor, NULL);
    pthread_join(prober, NULL);
    pthread_join(leaser, NULL);
    polling = reporting = sweeping = probing = leasing = false;
    seed_server_stop(seeds);
    seeds = NULL;
    /* Engines keep running; wait (briefly) for workers so their state is persisted. */
    jobs_wait_idle(a, WORKERS_WAIT_MS);
    if (cfg->stop_engines)
        jobs_stop_all(a);
    rc = 0;
out:
    if (polling || reporting || sweeping || probing || leasing)
        *stop = 1; /* a thread failed to start: the others end */
    if (polling)
        pthread_join(poller, NULL);
    if (reporting)
        pthread_join(reporter, NULL);
    if (sweeping)
        pthread_join(janitor, NULL);
    if (probing)
        pthread_join(prober, NULL);
    if (leasing)
        pthread_join(leaser, NULL);
    /* the guard lives on: it fires at a pending deadline (no lease is renewed any more) */
    leasing_close(a);
    seed_server_stop(seeds);
    httpc_free(a->report_http);
    httpc_free(a->poll_http);
    a->report_http = a->poll_http = NULL;
    /* Workers still running use the context until the process exits: leave it to them. */
    pthread_mutex_lock(&a->lock);
    idle = a->workers == 0 && a->helpers == 0;
    pthread_mutex_unlock(&a->lock);
    if (idle)
        agent_free(a);
    return rc;
}
