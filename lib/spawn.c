/* Starting programs as a user, with a hook between fork and exec, and running tools to
 * completion. See lib/spawn.h for what the child does. */
#include "lib/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/lines.h"
#include "lib/xalloc.h"

extern char **environ;

/* The child's steps that can fail before exec, as reported to the parent. */
enum step {
    STEP_HOOK,
    STEP_STDIO,
    STEP_GROUPS,
    STEP_GID,
    STEP_UID,
    STEP_DROP,
    STEP_PDEATH,
    STEP_CHDIR,
    STEP_EXEC,
};

struct report {
    int step;
    int err; /* errno */
};

/* Everything the child needs, prepared by the parent. */
struct child {
    const struct spawn_opts *o;
    const char *program;
    char *const *envp;
    const gid_t *groups;
    int ngroups;
    int nullfd;
    int go;  /* with a hook: the parent writes one byte when the hook returned */
    int rep; /* a struct report on failure; EOF (close on exec) on success */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* In the child: report the failed step to the parent and exit. Async-signal-safe. */
static void child_fail(int fd, int step)
{
    struct report r = {step, errno};
    ssize_t w = write(fd, &r, sizeof(r));

    (void)w;
    _exit(127);
}

/* In the forked child; never returns. Only async-signal-safe calls. */
static void child_run(const struct child *c)
{
    const struct spawn_opts *o = c->o;
    const struct osuser *u = o->user;
    struct sigaction sa;
    sigset_t none;
    char byte;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    if (c->go >= 0 && read(c->go, &byte, 1) != 1)
        child_fail(c->rep, STEP_HOOK);
    if (dup2(o->in_fd >= 0 ? o->in_fd : c->nullfd, STDIN_FILENO) < 0 ||
        (o->out_fd >= 0 &&
         (dup2(o->out_fd, STDOUT_FILENO) < 0 || dup2(o->out_fd, STDERR_FILENO) < 0)) ||
        (o->err_fd >= 0 && dup2(o->err_fd, STDERR_FILENO) < 0))
        child_fail(c->rep, STEP_STDIO);
    /* Nothing else of the caller's leaks into the program; the report pipe stays until exec. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (o->umask >= 0)
        umask((mode_t)o->umask);
    if (u) {
        if (setgroups((size_t)c->ngroups, c->groups) != 0)
            child_fail(c->rep, STEP_GROUPS);
        if (setgid(u->gid) != 0)
            child_fail(c->rep, STEP_GID);
        if (setuid(u->uid) != 0)
            child_fail(c->rep, STEP_UID);
        if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid ||
            getegid() != u->gid || (u->uid != 0 && setuid(0) == 0)) {
            errno = EPERM;
            child_fail(c->rep, STEP_DROP);
        }
    }
    /* After the credential change, which clears it. */
    if (o->pdeath_signal > 0 && prctl(PR_SET_PDEATHSIG, o->pdeath_signal) != 0)
        child_fail(c->rep, STEP_PDEATH);
    if (o->workdir && chdir(o->workdir) != 0)
        child_fail(c->rep, STEP_CHDIR);
    execve(c->program, o->argv, c->envp);
    child_fail(c->rep, STEP_EXEC);
}

/* The parent's message for a step the child reported. */
static void report_error(const struct spawn_opts *o, const char *program, const struct report *r,
                         struct err *e)
{
    const char *user = o->user ? o->user->name : NULL;
    const char *why = strerror(r->err);

    switch (r->step) {
    case STEP_HOOK:
        err_set(e, LIB_E_SYSTEM, "could not start \"%s\": the child lost its parent", program);
        break;
    case STEP_STDIO:
        err_set(e, LIB_E_SYSTEM, "could not start \"%s\": could not redirect its output: %s",
                program, why);
        break;
    case STEP_GROUPS:
    case STEP_GID:
    case STEP_UID:
        err_set(e, LIB_E_SYSTEM, "could not start \"%s\": could not change to user \"%s\" (%s): %s",
                program, user ? user : "",
                r->step == STEP_GROUPS ? "setgroups"
                : r->step == STEP_GID  ? "setgid"
                                       : "setuid",
                why);
        break;
    case STEP_DROP:
        err_set(e, LIB_E_SYSTEM,
                "could not start \"%s\": could not drop root privileges for user \"%s\"", program,
                user ? user : "");
        break;
    case STEP_PDEATH:
        err_set(e, LIB_E_SYSTEM,
                "could not start \"%s\": could not set its parent-death signal: %s", program, why);
        break;
    case STEP_CHDIR:
        if (user)
            err_set(e, LIB_E_SYSTEM,
                    "could not start \"%s\": could not enter directory \"%s\" as user \"%s\": %s",
                    program, o->workdir, user, why);
        else
            err_set(e, LIB_E_SYSTEM, "could not start \"%s\": could not enter directory \"%s\": %s",
                    program, o->workdir, why);
        break;
    default:
        err_set(e, LIB_E_SYSTEM, "could not execute \"%s\": %s", program, why);
        break;
    }
}

int spawn_start(const struct spawn_opts *o, pid_t *pid, struct err *e)
{
    struct child c = {o, NULL, NULL, NULL, 0, -1, -1, -1};
    gid_t *groups = NULL;
    int go[2] = {-1, -1}, rep[2] = {-1, -1};
    pid_t child = -1;
    int ret = -1;

    if (!o->argv || !o->argv[0]) {
        err_set(e, LIB_E_INVALID, "invalid command: no program");
        goto out;
    }
    c.program = o->program ? o->program : o->argv[0];
    c.envp = o->envp ? o->envp : environ;
    if (o->user && osuser_groups(o->user, &groups, &c.ngroups, e) < 0)
        goto out;
    c.groups = groups;
    c.nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (c.nullfd < 0) {
        err_set(e, LIB_E_SYSTEM, "could not open \"/dev/null\": %s", strerror(errno));
        goto out;
    }
    /* go is a socket, so that a dead child cannot SIGPIPE us */
    if ((o->hook && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) ||
        pipe2(rep, O_CLOEXEC) != 0) {
        err_set(e, LIB_E_SYSTEM, "could not create a pipe: %s", strerror(errno));
        goto out;
    }
    c.go = go[1];
    c.rep = rep[1];
    fflush(NULL);
    child = fork();
    if (child < 0) {
        err_set(e, LIB_E_SYSTEM, "could not fork: %s", strerror(errno));
        goto out;
    }
    if (child == 0) {
        /* the child must see EOF on go if the parent dies */
        close_fd(&go[0]);
        close_fd(&rep[0]);
        child_run(&c);
    }
    close_fd(&go[1]);
    close_fd(&rep[1]);
    if (o->hook) {
        if (o->hook(o->hook_arg, child, e) != 0)
            goto out;
        if (send(go[0], "g", 1, MSG_NOSIGNAL) != 1) {
            err_set(e, LIB_E_SYSTEM, "could not start \"%s\": the child died before exec",
                    c.program);
            goto out;
        }
    }
    {
        struct report r;
        ssize_t n;

        do
            n = read(rep[0], &r, sizeof(r));
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(r)) {
            report_error(o, c.program, &r, e);
            goto out;
        }
        if (n != 0) {
            err_set(e, LIB_E_SYSTEM, "could not start \"%s\": lost contact with the child",
                    c.program);
            goto out;
        }
    }
    *pid = child;
    child = -1;
    ret = 0;
out:
    if (child > 0) {
        /* a failed start leaves no process behind */
        kill(child, SIGKILL);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    close_fd(&go[0]);
    close_fd(&go[1]);
    close_fd(&rep[0]);
    close_fd(&rep[1]);
    close_fd(&c.nullfd);
    free(groups);
    return ret;
}

/* Keep only the last SPAWN_OUTPUT_TAIL bytes of what was appended to out since `start`. */
static void tail_trim(struct buf *out, size_t start)
{
    if (out->len - start > SPAWN_OUTPUT_TAIL) {
        size_t drop = out->len - start - SPAWN_OUTPUT_TAIL;
        memmove(out->data + start, out->data + start + drop, out->len - start - drop);
        out->len -= drop;
        out->data[out->len] = '\0';
    }
}

/* Append, trimming now and then rather than at every chunk. */
static void tail_append(struct buf *out, size_t start, const char *data, size_t n)
{
    buf_append(out, data, n);
    if (out->len - start > 2 * SPAWN_OUTPUT_TAIL)
        tail_trim(out, start);
}

/* Copy data to fd, ignoring errors (a log that fills up must not stop the tool). */
static void copy_out(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        data += w;
        n -= (size_t)w;
    }
}

int spawn_run(const struct spawn_opts *o, int timeout_ms, struct buf *out, int *status,
              struct err *e)
{
    struct spawn_opts ro = *o;
    int fds[2] = {-1, -1}, rc = -1, st = 0;
    size_t start = out->len;
    bool eof = false, exited = false;
    int64_t deadline = clock_now_ms() + timeout_ms;
    pid_t pid = -1;
    char chunk[4096];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not create a pipe: %s", strerror(errno));
        goto out;
    }
    ro.out_fd = fds[1];
    if (spawn_start(&ro, &pid, e) < 0)
        goto out;
    close_fd(&fds[1]);
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not set a pipe non-blocking: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        int64_t left = deadline - clock_now_ms();

        if (!exited) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid)
                exited = true;
            else if (r < 0 && errno != EINTR) {
                err_set(e, LIB_E_SYSTEM, "could not wait for \"%s\": %s", o->argv[0],
                        strerror(errno));
                goto out;
            }
        }
        /* Drain what is there; after the exit, stop at the first empty read even if a
         * straggler keeps the pipe open. */
        while (!eof) {
            ssize_t n = read(fds[0], chunk, sizeof(chunk));
            if (n > 0) {
                tail_append(out, start, chunk, (size_t)n);
                if (o->out_fd >= 0)
                    copy_out(o->out_fd, chunk, (size_t)n);
            } else if (n == 0) {
                eof = true;
            } else if (errno != EINTR) {
                break;
            }
        }
        if (exited)
            break;
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            err_set(e, LIB_E_TIMEOUT, "\"%s\" timed out after %d ms", o->argv[0], timeout_ms);
            goto out;
        }
        if (!eof) {
            struct pollfd pfd = {fds[0], POLLIN, 0};
            poll(&pfd, 1, (int)(left < 20 ? left : 20));
        } else {
            clock_sleep_ms(5);
        }
    }
    *status = st;
    rc = 0;
out:
    tail_trim(out, start);
    close_fd(&fds[0]);
    close_fd(&fds[1]);
    return rc;
}

int spawn_run_tool(const struct spawn_opts *o, int timeout_ms, const char *what, struct err *e)
{
    struct buf out = BUF_INIT, last = BUF_INIT;
    char how[128];
    int status = 0, rc = -1;

    if (spawn_run(o, timeout_ms, &out, &status, e) < 0)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        spawn_status_text(status, how, sizeof(how));
        lines_last(buf_str(&out), 4, &last);
        err_set(e, LIB_E_TOOL, "%s %s: %s", what, how, last.len ? buf_str(&last) : "no output");
        goto out;
    }
    rc = 0;
out:
    buf_free(&out);
    buf_free(&last);
    return rc;
}

void spawn_status_text(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "ended with wait status %d", status);
}

static bool user_var(const char *s)
{
    return strncmp(s, "HOME=", 5) == 0 || strncmp(s, "USER=", 5) == 0 ||
           strncmp(s, "LOGNAME=", 8) == 0;
}

char **spawn_env_new(char *const *base, const struct osuser *u)
{
    size_t n = 0, k = 0;
    char **env;

    if (!base)
        base = environ;
    while (base && base[n])
        n++;
    env = xcalloc(n + 4, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (u && user_var(base[i]))
            continue;
        env[k++] = xstrdup(base[i]);
    }
    if (u) {
        env[k++] = xasprintf("HOME=%s", u->home[0] ? u->home : "/");
        env[k++] = xasprintf("USER=%s", u->name);
        env[k++] = xasprintf("LOGNAME=%s", u->name);
    }
    env[k] = NULL;
    return env;
}

void spawn_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}
