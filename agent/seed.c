/* The agent's seed server: who may be served, and the source under isolation (agent/seed.h).
 *
 * NOTES: the callbacks run on the seed server's connection threads; they take a->lock only to
 * read a member, never across the source's start, the relay or its stop. */
#include "agent/seed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/jobs.h"
#include "agent/member.h"
#include "agent/seedcmd.h"
#include "agent/seedsrv.h"
#include "engines/engine.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/osuser.h"
#include "lib/proc.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

#define EXIT_WAIT_MS 30000 /* for the source to exit once its output ended */

struct seed_server {
    struct agent *a;
    struct seedsrv_ops ops;
    struct seedsrv *srv;
};

/* A source being streamed. */
struct source {
    int64_t primary; /* the member whose data it streams */
    char group[48];
    pid_t pid;
    bool child; /* the agent's child (cgroup backends): its wait status is the source's */
    char *fifo, *status, *log;
    int stop_signal;
};

/* The primary member id that serves replica, under a->lock; NULL with e set. */
static struct member *find_primary(struct agent *a, int64_t primary, int64_t replica, struct err *e)
{
    struct member *m;

    for (m = a->members; m && m->id != primary; m = m->next)
        ;
    if (!m) {
        err_set(e, AGENT_E_DENIED, "member %" PRId64 " is not a running primary of this agent",
                primary);
        return NULL;
    }
    return member_serves_seed(m, replica, e) == 0 ? m : NULL;
}

static int lookup(void *arg, int64_t primary, int64_t replica, char **secret, struct err *e)
{
    struct seed_server *ss = arg;
    struct agent *a = ss->a;
    struct member *m;

    pthread_mutex_lock(&a->lock);
    m = find_primary(a, primary, replica, e);
    *secret = m ? xstrdup(m->repl_secret) : NULL;
    pthread_mutex_unlock(&a->lock);
    return m ? 0 : -1;
}

static void source_free(struct source *src)
{
    if (!src)
        return;
    if (src->fifo)
        unlink(src->fifo);
    if (src->status)
        unlink(src->status);
    if (src->log)
        unlink(src->log);
    free(src->fifo);
    free(src->status);
    free(src->log);
    free(src);
}

/* A file of the source's, made by root in the root-only seed directory and given to the OS
 * user: the FIFO (the user writes it), the status file (the user's wrapper writes it). */
static int make_file(const char *path, bool fifo, const struct osuser *u, struct err *e)
{
    int fd;

    if (fifo) {
        if (mkfifo(path, 0600) < 0 || chown(path, u->uid, u->gid) < 0)
            return err_set(e, AGENT_E_SYSTEM, "could not create \"%s\": %s", path, strerror(errno));
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchown(fd, u->uid, u->gid) < 0) {
        if (fd >= 0)
            close(fd);
        return err_set(e, AGENT_E_SYSTEM, "could not create \"%s\": %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

static int start(void *arg, int64_t primary, int64_t replica, int *fd, void **h, struct err *e)
{
    struct seed_server *ss = arg;
    struct agent *a = ss->a;
    const struct engine_ops *ops = NULL;
    struct member_spec *ms = NULL;
    struct member *m;
    struct iso_limits lim;
    struct source *src = xcalloc(1, sizeof(*src));
    struct engine_strv sv = {0};
    char **cmd = NULL, **argv = NULL, *dir = NULL, name[33];
    unsigned char rnd[16];
    struct osuser u;
    struct iso_exec ex;
    int rfd = -1, rc = -1;

    pthread_mutex_lock(&a->lock);
    m = find_primary(a, primary, replica, e);
    if (m) {
        ops = engine_find(m->engine);
        ms = member_spec_new(m, a->cfg->data_dir, a->cfg->advertise);
        lim = m->limits;
        snprintf(lim.device, sizeof(lim.device), "%s", a->device);
        snprintf(src->group, sizeof(src->group), "%s-m%" PRId64 "-s%" PRId64, a->tag, primary,
                 replica);
    }
    pthread_mutex_unlock(&a->lock);
    if (!m)
        goto out;
    if (!ops) {
        err_set(e, AGENT_E_NO_ENGINE, "engine of member %" PRId64 " is not offered", primary);
        goto out;
    }
    src->primary = primary;
    src->stop_signal = SIGTERM;
    src->child = iso_kind_of(a->iso) != ISO_LXC;
    if (engine_seed_source(ops, &ms->spec, &cmd, e) < 0 ||
        osuser_lookup(ops->cat->default_os_user, &u, e) < 0)
        goto out;
    dir = xasprintf("%s/seed", a->cfg->data_dir);
    if ((mkdir(dir, 0711) < 0 && errno != EEXIST) || chmod(dir, 0711) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not create directory \"%s\": %s", dir, strerror(errno));
        goto out;
    }
    if (crypto_random(rnd, sizeof(rnd)) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not draw a name");
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(name + 2 * i, 3, "%02x", rnd[i]);
    src->fifo = xasprintf("%s/%s.fifo", dir, name);
    src->status = xasprintf("%s/%s.status", dir, name);
    src->log = xasprintf("%s/%s.log", dir, name);
    if (make_file(src->fifo, true, &u, e) < 0 || make_file(src->status, false, &u, e) < 0)
        goto out;
    /* the reading end first: the source's open then finds a reader */
    rfd = open(src->fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (rfd < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not open \"%s\": %s", src->fifo, strerror(errno));
        goto out;
    }
    engine_util_strv_push(&sv, a->self_exe);
    engine_util_strv_push(&sv, "seed-source");
    engine_util_strv_push(&sv, "--fifo");
    engine_util_strv_push(&sv, src->fifo);
    engine_util_strv_push(&sv, "--status-file");
    engine_util_strv_push(&sv, src->status);
    engine_util_strv_push(&sv, "--");
    for (int i = 0; cmd[i]; i++)
        engine_util_strv_push(&sv, cmd[i]);
    argv = engine_util_strv_steal(&sv);
    if (jobs_stop_group(a, src->group, SIGKILL, 0, e) < 0) /* leftovers */
        goto out;
    memset(&ex, 0, sizeof(ex));
    ex.argv = argv;
    ex.user = ops->cat->default_os_user;
    ex.workdir = ms->dir;
    ex.log_path = src->log;
    if (iso_start(a->iso, src->group, &lim, &ex, &src->pid, e) < 0)
        goto out;
    *fd = rfd;
    rfd = -1;
    *h = src;
    src = NULL;
    rc = 0;
out:
    if (rfd >= 0)
        close(rfd);
    source_free(src);
    engine_argv_free(cmd);
    engine_util_strv_free(argv);
    member_spec_free(ms);
    free(dir);
    return rc;
}

static int finish(void *arg, void *h, bool complete, struct err *e)
{
    struct seed_server *ss = arg;
    struct agent *a = ss->a;
    struct source *src = h;
    int64_t deadline = clock_now_ms() + (complete ? EXIT_WAIT_MS : 0);
    int status = -1, rc = -1;
    bool exited = false;
    struct err se;

    /* once its output ended the source exits by itself; an aborted one is stopped */
    while (!exited && clock_now_ms() < deadline) {
        if (src->child)
            exited = waitpid(src->pid, &status, WNOHANG) == src->pid;
        else
            exited = !proc_alive(src->pid, 0);
        if (!exited)
            clock_sleep_ms(50);
    }
    if (jobs_stop_group(a, src->group, src->stop_signal, exited || !src->child ? 0 : src->pid,
                        &se) < 0)
        log_error("event=seed_source_stop_failed group=%s error=\"%s\"", src->group, se.msg);
    if (!src->child)
        status = seedcmd_status_read(src->status);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
    } else if (complete) {
        char *tail = fileio_read_tail(src->log, 0, 2048);
        char how[64];
        if (status >= 0)
            spawn_status_text(status, how, sizeof(how));
        else
            snprintf(how, sizeof(how), "ended without a status");
        tail[strcspn(tail, "\n")] = '\0';
        err_set(e, AGENT_E_SEED, "the seed source %s: %.300s", how, tail);
        free(tail);
    } else {
        err_set(e, AGENT_E_SEED, "the stream was aborted");
    }
    source_free(src);
    return rc;
}

/* The source is silent: ask the engine to release what may block it (a sync MariaDB primary's
 * commits waiting for the replica being copied). */
static void idle(void *arg, void *h)
{
    struct seed_server *ss = arg;
    struct agent *a = ss->a;
    struct source *src = h;
    const struct engine_ops *ops = NULL;
    struct member_spec *ms = NULL;
    struct member *m;
    struct err e;
    int released = 0;

    pthread_mutex_lock(&a->lock);
    for (m = a->members; m && m->id != src->primary; m = m->next)
        ;
    if (m && m->state == HB_RUNNING && !member_is_replica(m) && (ops = engine_find(m->engine)))
        ms = member_spec_new(m, a->cfg->data_dir, a->cfg->advertise);
    pthread_mutex_unlock(&a->lock);
    if (!ms)
        return;
    if (engine_seed_source_unblock(ops, &ms->spec, &released, &e) < 0)
        log_warn("event=seed_unblock_failed member=%" PRId64 " error=\"%s\"", src->primary, e.msg);
    else if (released > 0)
        log_warn("event=seed_unblocked member=%" PRId64 " sessions_killed=%d "
                 "note=\"commits waiting for the replica being copied; their clients got no "
                 "acknowledgement\"",
                 src->primary, released);
    member_spec_free(ms);
}

struct seed_server *seed_server_start(struct agent *a, struct err *e)
{
    struct seed_server *s = xcalloc(1, sizeof(*s));

    s->a = a;
    s->ops.lookup = lookup;
    s->ops.start = start;
    s->ops.finish = finish;
    s->ops.idle = idle;
    s->srv = seedsrv_start(a->cfg->advertise, a->cfg->seed_port, &s->ops, s, e);
    if (!s->srv) {
        free(s);
        return NULL;
    }
    log_info("event=seed_server_ready address=%s port=%d", a->cfg->advertise, a->cfg->seed_port);
    return s;
}

void seed_server_stop(struct seed_server *s)
{
    if (!s)
        return;
    seedsrv_stop(s->srv);
    free(s);
}
