/* The embedded metadata store: dbaasd's own PostgreSQL, under DATA_DIR/pg.
 *
 * NOTES: called from main() only. The server is a child of dbaasd in its own session (a Ctrl-C
 * on the terminal reaches dbaasd, which then stops it in order); it gets SIGINT (fast shutdown)
 * if dbaasd dies. It listens on no TCP address: only on a Unix socket in DATA_DIR/run (mode
 * 0700), with trust authentication, so only its OS user and root can reach it. */
#include "store/embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "store/store.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/lines.h"
#include "lib/osuser.h"
#include "lib/proc.h"
#include "lib/spawn.h"

#define PG_USER "postgres"
#define DB_ROLE "dbaas"
#define START_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 30000
#define INITDB_DEADLINE_MS 300000
#define LOG_TAIL_MAX 16384
/* Supervision: a failed restart is tried again after 1 s, then 2, 4, 8, and 10 s at most. */
#define RESTART_BACKOFF_MIN_MS 1000
#define RESTART_BACKOFF_MAX_MS 10000

struct embedded {
    pid_t pid;           /* the postmaster; -1 while it is down */
    char *data_dir;
    char *bindir, *pgdata, *rundir, *log_path;
    char **env;          /* the server's environment (spawn_env_new) */
    struct osuser user;  /* whom it runs as, when has_user (dbaasd is root) */
    bool has_user;
    int max_connections;
    int restarts;        /* how many times supervision restarted it */
    int64_t down_since;  /* clock_now_ms() when supervision found it gone; 0 while it runs */
    int64_t next_try;    /* when supervision tries the next start */
    int64_t backoff;     /* the wait after the next failed start */
};

/* The PostgreSQL server binaries: $DBAAS_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin.
 * The caller frees the result; NULL when none is installed. */
static char *find_bindir(void)
{
    const char *env = getenv("DBAAS_PG_BINDIR");
    DIR *d;
    struct dirent *de;
    int best = 0;
    char *path;

    if (env && *env)
        return xstrdup(env);
    d = opendir("/usr/lib/postgresql");
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        int v = atoi(de->d_name);
        if (v > best) {
            path = xasprintf("/usr/lib/postgresql/%d/bin/postgres", v);
            if (access(path, X_OK) == 0)
                best = v;
            free(path);
        }
    }
    closedir(d);
    return best ? xasprintf("/usr/lib/postgresql/%d/bin", best) : NULL;
}

/* How the store's programs (initdb, postgres) run: as pw when dbaasd is root, with envp (its
 * HOME, USER and LOGNAME), output appended to the log (logfd; -1: dbaasd's own), in the data
 * directory (entering it as pw checks that every parent of --data-dir lets it through), and
 * SIGINT (fast shutdown) when dbaasd dies. */
static struct spawn_opts store_opts(char *const argv[], char *const envp[], const struct osuser *pw,
                                    const char *pgdata, int logfd)
{
    struct spawn_opts o = SPAWN_OPTS_INIT;

    o.argv = argv;
    o.envp = envp;
    o.user = pw;
    o.workdir = pgdata;
    o.out_fd = logfd;
    o.pdeath_signal = SIGINT;
    return o;
}

/* A program of the store could not start as pw (LIB_E_SYSTEM from lib/spawn.h): most likely a
 * --data-dir that user cannot reach. Say so after the error. */
static void start_hint(struct err *e, const struct osuser *pw)
{
    char msg[sizeof(e->msg)];

    if (!pw || e->code != LIB_E_SYSTEM)
        return;
    snprintf(msg, sizeof(msg), "%s", e->msg);
    err_set(e, LIB_E_SYSTEM,
            "%s (the embedded store runs as user \"%s\": pick a --data-dir every parent folder "
            "of which it may enter)",
            msg, pw->name);
}

/* The last lines of the log, for an error message. Static buffer; not thread-safe. */
static const char *log_tail(const char *log_path)
{
    static char tail[300];
    char *text = fileio_read_tail(log_path, 0, LOG_TAIL_MAX);
    struct buf last = BUF_INIT;

    lines_last(text, 3, &last);
    snprintf(tail, sizeof(tail), "%s", buf_str(&last));
    buf_free(&last);
    free(text);
    return tail;
}

static int make_dir(const char *path, const struct osuser *pw, struct err *e)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return err_set(e, STORE_E_SYSTEM, "could not create directory \"%s\": %s", path,
                       strerror(errno));
    if (chmod(path, 0700) < 0)
        return err_set(e, STORE_E_SYSTEM, "could not set mode of \"%s\": %s", path,
                       strerror(errno));
    if (pw && chown(path, pw->uid, pw->gid) < 0)
        return err_set(e, STORE_E_SYSTEM, "could not change owner of \"%s\": %s", path,
                       strerror(errno));
    return 0;
}

static int run_initdb(const char *bindir, const char *pgdata, const struct osuser *pw,
                      char *const envp[], int logfd, struct err *e)
{
    char *prog = xasprintf("%s/initdb", bindir);
    char *argv[] = {prog,           "-D", (char *)pgdata, "-U",         DB_ROLE,
                    "--auth=trust", "-E", "UTF8",         "--locale=C", "--data-checksums",
                    "--no-sync",    NULL};
    struct spawn_opts o = store_opts(argv, envp, pw, pgdata, logfd);
    int rc;

    rc = spawn_run_tool(&o, INITDB_DEADLINE_MS, "initdb of the embedded store", e);
    if (rc < 0)
        start_hint(e, pw);
    free(prog);
    return rc;
}

/* A server left running by a dbaasd that died without stopping it: stop it. */
static int stop_leftover(const char *pgdata, struct err *e)
{
    char *pidfile = xasprintf("%s/postmaster.pid", pgdata);
    FILE *f = fopen(pidfile, "r");
    long long deadline;
    int pid = 0, rc = 0;

    if (!f)
        goto out;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 0 || !proc_alive(pid, 0))
        goto out; /* stale file: the server removes it itself at start */
    kill(pid, SIGINT);
    deadline = clock_now_ms() + STOP_DEADLINE_MS;
    while (proc_alive(pid, 0) && access(pidfile, F_OK) == 0 && clock_now_ms() < deadline)
        clock_sleep_ms(20);
    if (proc_alive(pid, 0) && access(pidfile, F_OK) == 0)
        rc = err_set(e, STORE_E_START, "could not stop the embedded store left running (pid %d)",
                     pid);
out:
    free(pidfile);
    return rc;
}

/* Fast shutdown of our child server with a deadline, then SIGKILL; reaps it. */
static void stop_child(pid_t pid)
{
    long long deadline = clock_now_ms() + STOP_DEADLINE_MS;
    int status;

    kill(pid, SIGINT);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        if (clock_now_ms() > deadline)
            break;
        clock_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* The store's log, for appending, owned by the server's user (it writes it; dbaasd reads it):
 * *fd is -1 when it cannot be opened (the server's output then goes to dbaasd's). 0, or -1
 * with e set when its owner cannot be set. */
static int open_log(const struct embedded *pg, int *fd, struct err *e)
{
    *fd = open(pg->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (*fd >= 0 && pg->has_user && fchown(*fd, pg->user.uid, pg->user.gid) < 0) {
        err_set(e, STORE_E_SYSTEM, "could not change owner of \"%s\": %s", pg->log_path,
                strerror(errno));
        close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

/* A SIGTERM or SIGINT is waiting for dbaasd's main thread (which blocks them): a start that
 * waits for the server gives up, so that the stop is not delayed by it. */
static bool stop_requested(void)
{
    sigset_t pending;

    if (sigpending(&pending) < 0)
        return false;
    return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

/* Start the server of pg (its data directory is initialized) and wait until it accepts
 * connections on info. Sets pg->pid. 0, or -1 with e set and nothing left running. */
static int start_server(struct embedded *pg, const char *info, struct err *e)
{
    const struct osuser *pw = pg->has_user ? &pg->user : NULL;
    char *prog = xasprintf("%s/postgres", pg->bindir);
    char *sockdir_opt = xasprintf("unix_socket_directories=%s", pg->rundir);
    char *maxconn_opt = xasprintf("max_connections=%d", pg->max_connections);
    char *argv[] = {prog,
                    "-D",
                    pg->pgdata,
                    "-c",
                    "listen_addresses=",
                    "-c",
                    sockdir_opt,
                    "-c",
                    "unix_socket_permissions=0700",
                    "-c",
                    maxconn_opt,
                    "-c",
                    "shared_buffers=64MB",
                    "-c",
                    "logging_collector=off",
                    "-c",
                    "log_min_messages=warning",
                    NULL};
    struct spawn_opts o;
    int64_t deadline;
    int status, rc = -1, logfd;
    pid_t pid = -1;

    if (open_log(pg, &logfd, e) < 0)
        goto out;
    if (stop_leftover(pg->pgdata, e) < 0)
        goto out;
    o = store_opts(argv, pg->env, pw, pg->pgdata, logfd);
    if (spawn_start(&o, &pid, e) < 0) {
        pid = -1;
        start_hint(e, pw);
        goto out;
    }
    deadline = clock_now_ms() + START_DEADLINE_MS;
    for (;;) {
        if (PQping(info) == PQPING_OK)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            err_set(e, STORE_E_START, "the embedded store exited at start: %s",
                    log_tail(pg->log_path));
            goto out;
        }
        if (clock_now_ms() > deadline || stop_requested()) {
            err_set(e, STORE_E_START, "the embedded store was not ready within %d s",
                    START_DEADLINE_MS / 1000);
            goto out;
        }
        clock_sleep_ms(20);
    }
    pg->pid = pid;
    pid = -1;
    rc = 0;
out:
    if (pid > 0)
        stop_child(pid);
    if (logfd >= 0)
        close(logfd);
    free(prog);
    free(sockdir_opt);
    free(maxconn_opt);
    return rc;
}

static void free_embedded(struct embedded *pg)
{
    free(pg->data_dir);
    free(pg->bindir);
    free(pg->pgdata);
    free(pg->rundir);
    free(pg->log_path);
    spawn_env_free(pg->env);
    free(pg);
}

void embedded_stop(struct embedded *pg)
{
    if (!pg)
        return;
    if (pg->pid > 0)
        stop_child(pg->pid);
    free_embedded(pg);
}

/* How a reaped server ended, for the log. Static buffer; main thread only. */
static const char *exit_text(int status)
{
    static char text[64];

    if (WIFSIGNALED(status))
        snprintf(text, sizeof(text), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(text, sizeof(text), "exited with status %d", WEXITSTATUS(status));
    return text;
}

void embedded_supervise(struct embedded *pg, const char *conninfo)
{
    struct err e;
    int status;
    int64_t now;

    if (!pg)
        return;
    now = clock_now_ms();
    if (pg->pid > 0) {
        if (waitpid(pg->pid, &status, WNOHANG) != pg->pid)
            return;
        log_error("event=store_exited kind=embedded pid=%d how=\"%s\" note=\"restarting it\"",
                  (int)pg->pid, exit_text(status));
        pg->pid = -1;
        pg->down_since = now;
        pg->next_try = now;
        pg->backoff = RESTART_BACKOFF_MIN_MS;
    }
    if (now < pg->next_try)
        return;
    if (start_server(pg, conninfo, &e) < 0) {
        log_error("event=store_restart_failed kind=embedded error=\"%s\" retry_in_ms=%lld",
                  e.msg, (long long)pg->backoff);
        pg->next_try = clock_now_ms() + pg->backoff;
        pg->backoff = pg->backoff * 2 > RESTART_BACKOFF_MAX_MS ? RESTART_BACKOFF_MAX_MS
                                                               : pg->backoff * 2;
        return;
    }
    pg->restarts++;
    log_info("event=store_restarted kind=embedded pid=%d restarts=%d down_ms=%lld", (int)pg->pid,
             pg->restarts, (long long)(clock_now_ms() - pg->down_since));
    pg->down_since = 0;
}

struct embedded *embedded_start(const char *data_dir, int max_connections, char **conninfo,
                                struct err *e)
{
    struct embedded *pg = xcalloc(1, sizeof(*pg));
    char *version = NULL, *info = NULL;
    int logfd = -1;

    *conninfo = NULL;
    pg->pid = -1;
    pg->max_connections = max_connections;
    pg->data_dir = xstrdup(data_dir);
    pg->bindir = find_bindir();
    if (!pg->bindir) {
        err_set(e, STORE_E_NOT_INSTALLED,
                "could not find the PostgreSQL server binaries (install postgresql or set "
                "DBAAS_PG_BINDIR)");
        goto fail;
    }
    if (geteuid() == 0) {
        if (osuser_lookup(PG_USER, &pg->user, e) < 0) {
            err_set(e, STORE_E_NOT_INSTALLED, "user \"%s\" does not exist (install postgresql)",
                    PG_USER);
            goto fail;
        }
        pg->has_user = true;
    }
    pg->pgdata = xasprintf("%s/pg", data_dir);
    pg->rundir = xasprintf("%s/run", data_dir);
    pg->log_path = xasprintf("%s/store.log", data_dir);
    version = xasprintf("%s/PG_VERSION", pg->pgdata);
    if (make_dir(pg->pgdata, pg->has_user ? &pg->user : NULL, e) < 0 ||
        make_dir(pg->rundir, pg->has_user ? &pg->user : NULL, e) < 0)
        goto fail;
    /* dbaasd's environment with the server user's HOME, USER and LOGNAME */
    pg->env = spawn_env_new(NULL, pg->has_user ? &pg->user : NULL);
    if (access(version, F_OK) < 0) {
        if (open_log(pg, &logfd, e) < 0)
            goto fail;
        if (run_initdb(pg->bindir, pg->pgdata, pg->has_user ? &pg->user : NULL, pg->env, logfd,
                       e) < 0)
            goto fail;
    }
    info = xasprintf("host=%s port=5432 user=%s dbname=postgres application_name=dbaasd",
                     pg->rundir, DB_ROLE);
    if (start_server(pg, info, e) < 0)
        goto fail;
    *conninfo = info;
    free(version);
    if (logfd >= 0)
        close(logfd);
    return pg;
fail:
    free(version);
    free(info);
    if (logfd >= 0)
        close(logfd);
    free_embedded(pg);
    return NULL;
}
