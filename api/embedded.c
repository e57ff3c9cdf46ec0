/* The embedded metadata store: dbaasd's own PostgreSQL, under DATA_DIR/pg.
 *
 * NOTES: called from main() only. The server is a child of dbaasd in its own session (a Ctrl-C
 * on the terminal reaches dbaasd, which then stops it in order); it gets SIGINT (fast shutdown)
 * if dbaasd dies. It listens on no TCP address: only on a Unix socket in DATA_DIR/run (mode
 * 0700), with trust authentication, so only its OS user and root can reach it. */
#include "api/embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/proc.h"

#define PG_USER "postgres"
#define DB_ROLE "dbaas"
#define START_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 30000

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

/* In a forked child: become the server's user (when root), redirect output to log_path, exec.
 * Never returns. */
static void child_exec(const struct passwd *pw, const char *log_path, char *const argv[])
{
    sigset_t none;
    int fd;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (pw) {
        if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
            setuid(pw->pw_uid) < 0)
            _exit(126);
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
    }
    /* Set after the credential change, which would clear it. */
    prctl(PR_SET_PDEATHSIG, SIGINT);
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0)
        dup2(fd, STDIN_FILENO);
    if (access(argv[0], X_OK) < 0 || (argv[2] && access(argv[2], R_OK | W_OK | X_OK) < 0)) {
        dprintf(STDERR_FILENO,
                "could not access \"%s\" as user \"%s\": %s (the embedded store runs as this "
                "user: pick a --data-dir every parent folder of which it may enter)\n",
                argv[2], pw ? pw->pw_name : "self", strerror(errno));
        _exit(126);
    }
    execv(argv[0], argv);
    dprintf(STDERR_FILENO, "could not execute \"%s\": %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* The last lines of the log, for an error message. Static buffer; not thread-safe. */
static const char *log_tail(const char *log_path)
{
    static char tail[300];
    FILE *f = fopen(log_path, "r");
    long size;
    size_t n;
    char *p;

    tail[0] = '\0';
    if (!f)
        return tail;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0, SEEK_SET);
    n = fread(tail, 1, sizeof(tail) - 1, f);
    tail[n] = '\0';
    fclose(f);
    for (p = tail; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return tail;
}

static int make_dir(const char *path, const struct passwd *pw, struct err *e)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return err_set(e, 1, "could not create directory \"%s\": %s", path, strerror(errno));
    if (chmod(path, 0700) < 0)
        return err_set(e, 1, "could not set mode of \"%s\": %s", path, strerror(errno));
    if (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0)
        return err_set(e, 1, "could not change owner of \"%s\": %s", path, strerror(errno));
    return 0;
}

static int run_initdb(const char *bindir, const char *pgdata, const struct passwd *pw,
                      const char *log_path, struct err *e)
{
    char *prog = xasprintf("%s/initdb", bindir);
    char *argv[] = {prog,           "-D", (char *)pgdata, "-U",         DB_ROLE,
                    "--auth=trust", "-E", "UTF8",         "--locale=C", "--data-checksums",
                    "--no-sync",    NULL};
    int status, rc = -1;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        err_set(e, 1, "could not fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        child_exec(pw, log_path, argv);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err_set(e, 1, "initdb of the embedded store failed: %s", log_tail(log_path));
        goto out;
    }
    rc = 0;
out:
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
        rc = err_set(e, 1, "could not stop the embedded store left running (pid %d)", pid);
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

struct embedded *embedded_start(const char *data_dir, char **conninfo, struct err *e)
{
    struct embedded *pg = NULL;
    struct passwd *pw = NULL;
    char *bindir = NULL, *pgdata = NULL, *rundir = NULL, *log_path = NULL, *prog = NULL;
    char *version = NULL, *info = NULL;
    long long deadline;
    int status;
    pid_t pid = -1;

    *conninfo = NULL;
    bindir = find_bindir();
    if (!bindir) {
        err_set(e, 1,
                "could not find the PostgreSQL server binaries (install postgresql or set "
                "DBAAS_PG_BINDIR)");
        goto fail;
    }
    if (geteuid() == 0) {
        pw = getpwnam(PG_USER);
        if (!pw) {
            err_set(e, 1, "user \"%s\" does not exist (install postgresql)", PG_USER);
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
    status = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (status >= 0) {
        if (pw && fchown(status, pw->pw_uid, pw->pw_gid) < 0) {
            close(status);
            err_set(e, 1, "could not change owner of \"%s\": %s", log_path, strerror(errno));
            goto fail;
        }
        close(status);
    }
    if (access(version, F_OK) < 0 && run_initdb(bindir, pgdata, pw, log_path, e) < 0)
        goto fail;
    if (stop_leftover(pgdata, e) < 0)
        goto fail;

    prog = xasprintf("%s/postgres", bindir);
    {
        char *sockdir_opt = xasprintf("unix_socket_directories=%s", rundir);
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
                        "max_connections=200",
                        "-c",
                        "shared_buffers=64MB",
                        "-c",
                        "logging_collector=off",
                        "-c",
                        "log_min_messages=warning",
                        NULL};
        fflush(NULL);
        pid = fork();
        if (pid == 0)
            child_exec(pw, log_path, argv);
        free(sockdir_opt);
    }
    if (pid < 0) {
        err_set(e, 1, "could not fork: %s", strerror(errno));
        goto fail;
    }
    info = xasprintf("host=%s port=5432 user=%s dbname=postgres application_name=dbaasd", rundir,
                     DB_ROLE);
    deadline = clock_now_ms() + START_DEADLINE_MS;
    for (;;) {
        if (PQping(info) == PQPING_OK)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            err_set(e, 1, "the embedded store exited at start: %s", log_tail(log_path));
            goto fail;
        }
        if (clock_now_ms() > deadline) {
            err_set(e, 1, "the embedded store was not ready within %d s", START_DEADLINE_MS / 1000);
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
    return pg;
}
