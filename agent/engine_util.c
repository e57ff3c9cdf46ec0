/* Helpers shared by the engine drivers: users, running programs as them, careful file writes,
 * string vectors. Nothing here knows about a particular engine. */
#include "agent/engine_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/engine.h"
#include "lib/lines.h"
#include "lib/xalloc.h"
#include "lib/clock.h"

#define OUTPUT_TAIL 8192
#define SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int64_t engine_util_clamp(int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

bool engine_util_charset(const char *s, size_t max, const char *chars)
{
    size_t n;

    if (!s || !*s)
        return false;
    n = strlen(s);
    return n <= max && strspn(s, chars) == n;
}

char *engine_util_path(const char *dir, const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

char *engine_util_program(const char *bin_dir, const char *default_dir, const char *name)
{
    return xasprintf("%s/%s", bin_dir ? bin_dir : default_dir, name);
}

/* ---- users ---- */

int engine_util_user(const char *name, struct engine_user *u, struct err *e)
{
    struct passwd pwd, *pw = NULL;
    char *strbuf = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    int rc = -1, r, ngroups = ENGINE_UTIL_MAX_GROUPS;

    memset(u, 0, sizeof(*u));
    if (size < 16384)
        size = 16384;
    strbuf = xmalloc((size_t)size);
    r = getpwnam_r(name, &pwd, strbuf, (size_t)size, &pw);
    if (!pw) {
        if (r)
            err_set(e, ENGINE_E_SYSTEM, "could not look up user \"%s\": %s", name, strerror(r));
        else
            err_set(e, ENGINE_E_SYSTEM, "user \"%s\" does not exist", name);
        goto out;
    }
    if (pw->pw_uid == 0) {
        err_set(e, ENGINE_E_INVALID, "cannot run an engine as user \"%s\": it is root", name);
        goto out;
    }
    if (snprintf(u->name, sizeof(u->name), "%s", pw->pw_name) >= (int)sizeof(u->name) ||
        snprintf(u->home, sizeof(u->home), "%s", pw->pw_dir) >= (int)sizeof(u->home)) {
        err_set(e, ENGINE_E_SYSTEM, "user \"%s\": name or home directory too long", name);
        goto out;
    }
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    if (geteuid() == 0) {
        u->switch_user = true;
        if (getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &ngroups) < 0) {
            err_set(e, ENGINE_E_SYSTEM, "user \"%s\" is in more than %d groups", name,
                    ENGINE_UTIL_MAX_GROUPS);
            goto out;
        }
        u->ngroups = ngroups;
    } else if (geteuid() != pw->pw_uid) {
        err_set(e, ENGINE_E_SYSTEM, "cannot run as user \"%s\": not running as root", name);
        goto out;
    }
    rc = 0;
out:
    free(strbuf);
    return rc;
}

void engine_util_strv_push(struct engine_strv *sv, const char *s)
{
    if (sv->n + 2 > sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
    }
    sv->v[sv->n++] = xstrdup(s);
    sv->v[sv->n] = NULL;
}

void engine_util_strv_pushf(struct engine_strv *sv, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort(); /* out of memory: the daemons' policy */
    va_end(ap);
    engine_util_strv_push(sv, s);
    free(s);
}

char **engine_util_strv_steal(struct engine_strv *sv)
{
    char **v = sv->v;

    if (!v)
        v = xcalloc(1, sizeof(*v));
    sv->v = NULL;
    sv->n = sv->cap = 0;
    return v;
}

void engine_util_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

char **engine_util_env_new(const struct engine_user *u)
{
    struct engine_strv sv = {0};

    engine_util_strv_pushf(&sv, "HOME=%s", u->home[0] ? u->home : "/");
    engine_util_strv_pushf(&sv, "USER=%s", u->name);
    engine_util_strv_pushf(&sv, "LOGNAME=%s", u->name);
    engine_util_strv_push(&sv, "PATH=" SAFE_PATH);
    engine_util_strv_push(&sv, "LANG=C.UTF-8");
    return engine_util_strv_steal(&sv);
}

/* ---- running programs ---- */

/* Async-signal-safe: write a few strings to fd. */
static void child_say(int fd, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};

    for (int i = 0; i < 3; i++) {
        size_t n = parts[i] ? strlen(parts[i]) : 0;
        while (n > 0) {
            ssize_t w = write(fd, parts[i], n);
            if (w <= 0)
                return;
            parts[i] += w;
            n -= (size_t)w;
        }
    }
}

/* In the forked child; never returns. Only async-signal-safe calls (strerror excepted, which
 * is a table lookup in glibc's C locale). */
static void child_exec(const struct engine_user *u, char *const argv[], char *const envp[],
                       const char *cwd, int out_fd)
{
    struct sigaction sa;
    sigset_t none;
    int fd, errfd;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();

    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 && fd != STDIN_FILENO) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    if (out_fd >= 0) {
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
    }
    errfd = STDERR_FILENO;
    close_range(3, ~0U, 0);
    umask(077);

    if (u->switch_user) {
        if (setgroups((size_t)u->ngroups, u->groups) < 0 || setgid(u->gid) < 0 ||
            setuid(u->uid) < 0) {
            child_say(errfd, "could not change to user \"", u->name, "\"\n");
            _exit(126);
        }
        if (getuid() != u->uid || geteuid() != u->uid || setuid(0) == 0) {
            child_say(errfd, "could not drop root privileges for user \"", u->name, "\"\n");
            _exit(126);
        }
    }
    if (chdir(cwd ? cwd : "/") < 0) {
        int saved = errno;
        child_say(errfd, "could not enter directory \"", cwd ? cwd : "/", "\" as user \"");
        child_say(errfd, u->name, "\": ", strerror(saved));
        child_say(errfd, "\n", NULL, NULL);
        _exit(126);
    }
    execve(argv[0], argv, envp);
    {
        int saved = errno;
        child_say(errfd, "could not execute \"", argv[0], "\": ");
        child_say(errfd, strerror(saved), "\n", NULL);
    }
    _exit(127);
}

int engine_util_spawn(const struct engine_user *u, char *const argv[], char *const envp[],
                      const char *cwd, int out_fd, pid_t *pid, struct err *e)
{
    char **own_env = NULL;
    pid_t p;

    if (!envp)
        envp = own_env = engine_util_env_new(u);
    fflush(NULL);
    p = fork();
    if (p == 0)
        child_exec(u, argv, envp, cwd, out_fd);
    engine_util_strv_free(own_env);
    if (p < 0)
        return err_set(e, ENGINE_E_SYSTEM, "could not fork: %s", strerror(errno));
    *pid = p;
    return 0;
}

/* Keep only the last OUTPUT_TAIL bytes appended since `start`. */
static void tail_append(struct buf *out, size_t start, const char *data, size_t n)
{
    buf_append(out, data, n);
    if (out->len - start > 2 * OUTPUT_TAIL) {
        size_t drop = out->len - start - OUTPUT_TAIL;
        memmove(out->data + start, out->data + start + drop, out->len - start - drop);
        out->len -= drop;
        out->data[out->len] = '\0';
    }
}

int engine_util_run(const struct engine_user *u, char *const argv[], const char *cwd,
                    int timeout_ms, struct buf *out, int *status, struct err *e)
{
    int fds[2] = {-1, -1}, rc = -1, st = 0;
    size_t start = out->len;
    bool eof = false, exited = false;
    int64_t deadline = clock_now_ms() + timeout_ms;
    pid_t pid = -1;
    char chunk[4096];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not create a pipe: %s", strerror(errno));
        goto out;
    }
    if (engine_util_spawn(u, argv, NULL, cwd, fds[1], &pid, e) < 0)
        goto out;
    close(fds[1]);
    fds[1] = -1;
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not set a pipe non-blocking: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        int64_t left = deadline - clock_now_ms();

        if (!exited) {
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid)
                exited = true;
            else if (r < 0 && errno != EINTR) {
                err_set(e, ENGINE_E_SYSTEM, "could not wait for \"%s\": %s", argv[0],
                        strerror(errno));
                goto out;
            }
        }
        /* Drain what is there; after the exit, stop at the first empty read even if a
         * straggler keeps the pipe open. */
        while (!eof) {
            ssize_t n = read(fds[0], chunk, sizeof(chunk));
            if (n > 0)
                tail_append(out, start, chunk, (size_t)n);
            else if (n == 0)
                eof = true;
            else if (errno != EINTR)
                break;
        }
        if (exited)
            break;
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            pid = -1;
            err_set(e, ENGINE_E_TOOL, "\"%s\" timed out after %d ms", argv[0], timeout_ms);
            goto out;
        }
        if (!eof) {
            struct pollfd pfd = {fds[0], POLLIN, 0};
            poll(&pfd, 1, (int)(left < 20 ? left : 20));
        } else {
            clock_sleep_ms(5);
        }
    }
    pid = -1;
    *status = st;
    rc = 0;
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return rc;
}

void engine_util_status_text(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "ended with wait status %d", status);
}

/* ---- files ---- */

int engine_util_mkdir(const char *path, const struct engine_user *u, struct err *e)
{
    struct stat st;
    int fd = -1, rc = -1;

    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        err_set(e, ENGINE_E_SYSTEM, "could not create directory \"%s\": %s", path, strerror(errno));
        goto out;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not open directory \"%s\": %s", path,
                errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not stat \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if (u->switch_user && (st.st_uid != u->uid || st.st_gid != u->gid) &&
        fchown(fd, u->uid, u->gid) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not change owner of \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not set mode of \"%s\": %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

bool engine_util_is_dir(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int engine_util_run_tool(const struct engine_user *u, char **argv, const char *cwd, int timeout_ms,
                         const char *what, struct err *e)
{
    struct buf out = BUF_INIT, last = BUF_INIT;
    char how[128];
    int status = 0, rc = -1;

    if (engine_util_run(u, argv, cwd, timeout_ms, &out, &status, e) < 0)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        engine_util_status_text(status, how, sizeof(how));
        lines_last(buf_str(&out), 4, &last);
        err_set(e, ENGINE_E_TOOL, "%s %s: %s", what, how, buf_str(&last));
        goto out;
    }
    rc = 0;
out:
    engine_util_strv_free(argv);
    buf_free(&out);
    buf_free(&last);
    return rc;
}
