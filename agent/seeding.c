/* Seeding a replica: the steps of engine_seed() run in the member's group (agent/seeding.h).
 *
 * NOTES: runs on a provision worker's thread without the agent's lock, except to publish the
 * progress (m->seed_bytes) for the report. Every step runs as
 *   dbaas-agent seed-fetch [--from HOST:PORT --primary ID --replica ID --secret-file FILE]
 *                          --status-file FILE -- PROGRAM ARGS...
 * as the OS user in the member directory, inside the group: with the cgroup backends the
 * wrapper is the agent's child (its wait status is the step's); with LXC it is the domain's
 * init, and its status file (in the member directory) says how the step ended. The secret file
 * (0600, the OS user's) exists only while a step that reads the stream runs. */
#include "agent/seeding.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/hostinfo.h"
#include "agent/jobs.h"
#include "agent/progress.h"
#include "agent/seedcmd.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/log.h"
#include "lib/osuser.h"
#include "lib/proc.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

#define STALL_MS 60000 /* a step fails after this long without progress */
#define POLL_MS 200
#define SAMPLE_MS 1000
#define WALK_MS 5000
#define LOG_TAIL 8192

/* Publish the bytes copied so far for the report. */
static void publish(const struct seeding *sd, int64_t bytes, bool begin)
{
    pthread_mutex_lock(&sd->a->lock);
    if (begin) {
        sd->m->seeding = true;
        sd->m->seed_started_ms = clock_now_ms();
    }
    if (bytes >= 0)
        sd->m->seed_bytes = bytes;
    pthread_mutex_unlock(&sd->a->lock);
}

/* The wrapper's command line for step (a new vector, engine_util_strv_free()). */
static char **step_argv(const struct seeding *sd, const struct engine_seed_step *step,
                        const char *secret_path, const char *status_path)
{
    struct engine_strv sv = {0};

    engine_util_strv_push(&sv, sd->a->self_exe);
    engine_util_strv_push(&sv, "seed-fetch");
    if (step->stdin_stream) {
        engine_util_strv_push(&sv, "--from");
        if (strchr(sd->seed_host, ':'))
            engine_util_strv_pushf(&sv, "[%s]:%d", sd->seed_host, sd->seed_port);
        else
            engine_util_strv_pushf(&sv, "%s:%d", sd->seed_host, sd->seed_port);
        engine_util_strv_push(&sv, "--primary");
        engine_util_strv_pushf(&sv, "%" PRId64, sd->primary_id);
        engine_util_strv_push(&sv, "--replica");
        engine_util_strv_pushf(&sv, "%" PRId64, sd->m->id);
        engine_util_strv_push(&sv, "--secret-file");
        engine_util_strv_push(&sv, secret_path);
    }
    engine_util_strv_push(&sv, "--status-file");
    engine_util_strv_push(&sv, status_path);
    engine_util_strv_push(&sv, "--");
    for (int i = 0; step->argv[i]; i++)
        engine_util_strv_push(&sv, step->argv[i]);
    return engine_util_strv_steal(&sv);
}

int seeding_step(void *ctx, const struct engine_seed_step *step, struct err *e)
{
    const struct seeding *sd = ctx;
    struct agent *a = sd->a;
    const char *dir = sd->ms->dir;
    const char *user = sd->ops->cat->default_os_user;
    char *secret_path = xasprintf("%s/seed.secret", dir);
    char *status_path = xasprintf("%s/seed.status", dir);
    char *log_path = xasprintf("%s/seed.log", dir);
    char **argv = NULL;
    struct osuser u;
    struct iso_exec ex;
    struct progress pr;
    struct progress_sample ps;
    struct err ce;
    bool child = iso_kind_of(a->iso) != ISO_LXC, exited = false;
    int64_t now, next_sample, next_walk;
    pid_t pid = 0;
    int status = -1, rc = -1;

    if (osuser_lookup(user, &u, e) < 0)
        goto out;
    if (step->stdin_stream) {
        const char *secret = sd->ms->repl_secret;
        if (!sd->seed_host[0] || sd->seed_port <= 0) {
            err_set(e, AGENT_E_DESIRED, "%s reads the seed stream, but no seed server was given",
                    step->what);
            goto out;
        }
        if (!secret ||
            fileio_write_atomic(secret_path, secret, strlen(secret), 0600, u.uid, u.gid, 0, e) < 0)
            goto out;
    }
    unlink(status_path);
    if (jobs_stop_group(a, sd->group, SIGKILL, 0, e) < 0) /* leftovers */
        goto out;
    argv = step_argv(sd, step, secret_path, status_path);
    memset(&ex, 0, sizeof(ex));
    ex.argv = argv;
    ex.user = user;
    ex.workdir = dir;
    ex.log_path = log_path;
    ex.env = step->env;
    if (iso_start(a->iso, sd->group, &sd->limits, &ex, &pid, e) < 0)
        goto out;
    log_info("event=seed_step member=%lld step=\"%s\" pid=%d", (long long)sd->m->id, step->what,
             (int)pid);
    now = next_sample = clock_now_ms();
    next_walk = now + WALK_MS;
    jobs_sample(a, sd->group, log_path, dir, true, &ps);
    progress_init(&pr, now, &ps);
    while (!exited) {
        if (child) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            exited = r == pid || (r < 0 && errno == ECHILD);
        } else {
            exited = !proc_alive(pid, 0);
        }
        if (exited)
            break;
        now = clock_now_ms();
        if (now >= next_sample) {
            bool walk = now >= next_walk;
            jobs_sample(a, sd->group, log_path, dir, walk, &ps);
            if (walk) {
                next_walk = now + WALK_MS;
                publish(sd, ps.dir_bytes, false);
            } else {
                ps.dir_bytes = pr.last.dir_bytes;
            }
            progress_note(&pr, now, &ps);
            next_sample = now + SAMPLE_MS;
        }
        if (progress_stalled(&pr, now, STALL_MS) || *a->stopping) {
            if (*a->stopping)
                err_set(e, AGENT_E_SYSTEM, "%s: the agent is stopping", step->what);
            else
                err_set(e, LIB_E_TIMEOUT, "%s made no progress (data, log, CPU or IO) for %d s",
                        step->what, STALL_MS / 1000);
            if (jobs_stop_group(a, sd->group, SIGKILL, child ? pid : 0, &ce) < 0)
                log_error("event=seed_step_stop_failed member=%lld error=\"%s\"",
                          (long long)sd->m->id, ce.msg);
            goto out;
        }
        clock_sleep_ms(POLL_MS);
    }
    if (!child)
        status = seedcmd_status_read(status_path);
    if (jobs_stop_group(a, sd->group, SIGKILL, 0, e) < 0)
        goto out;
    publish(sd, hostinfo_disk_used_bytes(dir), false);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *tail = fileio_read_tail(log_path, 0, LOG_TAIL);
        struct buf last = BUF_INIT;
        char how[128];
        lines_last(tail, 4, &last);
        if (status < 0)
            snprintf(how, sizeof(how), "ended without a status");
        else
            spawn_status_text(status, how, sizeof(how));
        err_set(e, LIB_E_TOOL, "%s %s: %s", step->what, how,
                last.len ? buf_str(&last) : "no output");
        buf_free(&last);
        free(tail);
        goto out;
    }
    rc = 0;
out:
    unlink(secret_path);
    unlink(status_path);
    engine_util_strv_free(argv);
    free(secret_path);
    free(status_path);
    free(log_path);
    return rc;
}

int seeding_run(const struct seeding *sd, struct err *e)
{
    int rc;

    publish(sd, 0, true);
    log_info("event=seed_started member=%lld primary=%" PRId64 " from=%s:%d", (long long)sd->m->id,
             sd->primary_id, sd->seed_host[0] ? sd->seed_host : "-", sd->seed_port);
    rc = engine_seed(sd->ops, &sd->ms->spec, seeding_step, (void *)sd, e);
    if (rc == 0)
        log_info("event=seed_done member=%lld bytes=%lld", (long long)sd->m->id,
                 (long long)sd->m->seed_bytes);
    return rc;
}
