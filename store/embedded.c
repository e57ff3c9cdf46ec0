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

struct embedded {
    pid_t pid;
    char *data_dir;
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

void embedded_stop(struct embedded *pg)
{
    if (!pg)
        return;
    stop_child(pg->pid);
    free(pg->data_dir);
    free(pg);
}

struct embedded *embedded_start(const char *data_dir, int max_connections, char **conninfo,
                                struct err *e)
{
    struct embedded *pg = NULL;
    struct osuser pg_user, *pw = NULL;
    char *bindir = NULL, *pgdata = NULL, *rundir = NULL, *log_path = NULL, *prog = NULL;
    char *version = NULL, *info = NULL;
    char **env = NULL;
    long long deadline;
    int status, logfd = -1;
    pid_t pid = -1;

    *conninfo = NULL;
    bindir = find_bindir();
    if (!bindir) {
        err_set(e, STORE_E_NOT_INSTALLED,
                "could not find the PostgreSQL server binaries (install postgresql or set "
                "DBAAS_PG_BINDIR)");
        goto fail;
    }
    if (geteuid() == 0) {
        pw = &pg_user;
        if (osuser_lookup(PG_USER, pw, e) < 0) {
            err_set(e, STORE_E_NOT_INSTALLED, "user \"%s\" does not exist (install postgresql)",
                    PG_USER);
            goto fail;
        }
    }
    pgdata = xasprintf("%s/pg", data_dir);
    rundir = xasprintf("%s/run", data_dir);
    log_path = xasprintf("%s/store.log", data_dir);
    version = xasprintf("%s/PG_VERSION", pgdata);
    if (make_dir(pgdata, pw, e) < 0 || make_dir(rundir, pw, e) < 0)
        goto fail;
    /* The log is written by the server's user; dbaasd reads it. */
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd >= 0) {
        if (pw && fchown(logfd, pw->uid, pw->gid) < 0) {
            err_set(e, STORE_E_SYSTEM, "could not change owner of \"%s\": %s", log_path,
                    strerror(errno));
            goto fail;
        }
    }
    /* dbaasd's environment with the server user's HOME, USER and LOGNAME */
    env = spawn_env_new(NULL, pw);
    if (access(version, F_OK) < 0 && run_initdb(bindir, pgdata, pw, env, logfd, e) < 0)
        goto fail;
    if (stop_leftover(pgdata, e) < 0)
        goto fail;

    prog = xasprintf("%s/postgres", bindir);
    {
        char *sockdir_opt = xasprintf("unix_socket_directories=%s", rundir);
        char *maxconn_opt = xasprintf("max_connections=%d", max_connections);
        char *argv[] = {prog,
                        "-D",
                        pgdata,
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
        struct spawn_opts o = store_opts(argv, env, pw, pgdata, logfd);
        int rc = spawn_start(&o, &pid, e);

        free(sockdir_opt);
        free(maxconn_opt);
        if (rc < 0) {
            start_hint(e, pw);
            goto fail;
        }
    }
    info = xasprintf("host=%s port=5432 user=%s dbname=postgres application_name=dbaasd", rundir,
                     DB_ROLE);
    deadline = clock_now_ms() + START_DEADLINE_MS;
    for (;;) {
        if (PQping(info) == PQPING_OK)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            err_set(e, STORE_E_START, "the embedded store exited at start: %s", log_tail(log_path));
            goto fail;
        }
        if (clock_now_ms() > deadline) {
            err_set(e, STORE_E_START, "the embedded store was not ready within %d s",
                    START_DEADLINE_MS / 1000);
            goto fail;
        }
        clock_sleep_ms(20);
    }
    pg = xcalloc(1, sizeof(*pg));
    pg->pid = pid;
    pg->data_dir = xstrdup(data_dir);
    *conninfo = info;
    info = NULL;
    goto out;
fail:
    if (pid > 0)
        stop_child(pid);
    pg = NULL;
out:
    free(bindir);
    free(pgdata);
    free(rundir);
    free(log_path);
    free(prog);
    free(version);
    free(info);
    spawn_env_free(env);
    if (logfd >= 0)
        close(logfd);
    return pg;
}
