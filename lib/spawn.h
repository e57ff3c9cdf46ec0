/* Starting programs, as another OS user when asked, and running tools (initdb, rm) to
 * completion within a deadline.
 *
 * NOTES
 * - The child, in this order: default signal dispositions and an empty signal mask; a new
 *   session (it leads its own process group); when there is a hook, a wait until the parent's
 *   hook returned; stdin from in_fd or /dev/null, stdout and stderr on out_fd (stderr on
 *   err_fd when set); every other descriptor closed at exec; the umask; the user's groups, gid
 *   and uid, then a check that root is gone for good; the parent-death signal; the working
 *   directory; exec.
 * - Between fork and exec the child makes only async-signal-safe calls (the parent prepares
 *   everything: the user's groups, the environment), so spawning is safe from a threaded
 *   program.
 * - A failure in the child before exec comes back to the parent through a pipe:
 *   spawn_start() then fails with LIB_E_SYSTEM naming the step, after reaping the child.
 *   Nothing is left behind by a failed start. */
#ifndef LIB_SPAWN_H
#define LIB_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/osuser.h"

/* Run in the parent between fork and exec with the child's pid (e.g. to move it into a cgroup):
 * the child execs only after it returned 0. -1 with e filled cancels the start. */
typedef int (*spawn_hook_fn)(void *arg, pid_t pid, struct err *e);

/* What to start and how. Start from SPAWN_OPTS_INIT: out_fd and umask keep the caller's when
 * -1, in_fd and err_fd are unused when -1; descriptors given here must be above 2. Everything
 * pointed to is borrowed for the duration of the call. */
struct spawn_opts {
    const char *program;       /* the file to execute; NULL: argv[0] (no PATH search) */
    char *const *argv;         /* NULL-terminated; argv[0] is set */
    char *const *envp;         /* NULL: the caller's environment (see spawn_env_new()) */
    const struct osuser *user; /* run as this user; NULL: keep the caller's credentials */
    const char *workdir;       /* working directory; NULL: keep the caller's */
    int out_fd;                /* stdout and stderr; -1: keep the caller's */
    int in_fd;                 /* stdin; -1: /dev/null */
    int err_fd;                /* stderr apart from stdout (a stream on stdout, a log on
                                  stderr); -1: out_fd's choice */
    int umask;                 /* the child's umask; -1: keep the caller's */
    int pdeath_signal;         /* sent to the child when the calling thread dies; 0: none */
    spawn_hook_fn hook;        /* NULL: none */
    void *hook_arg;            /* passed to hook */
};

#define SPAWN_OPTS_INIT                                                                            \
    {                                                                                              \
        .out_fd = -1, .in_fd = -1, .err_fd = -1, .umask = -1                                       \
    }

/* Start a program. Returns once it has executed (*pid set: the caller reaps it) or failed
 * before that (-1: the hook's error, or LIB_E_SYSTEM naming the failed step; the child is
 * killed and reaped). */
int spawn_start(const struct spawn_opts *o, pid_t *pid, struct err *e)
    __attribute__((warn_unused_result));

/* Run a program to completion (spawn_start(); o->out_fd, when set, receives a copy of its
 * output), appending the last SPAWN_OUTPUT_TAIL bytes of its stdout and stderr to out and
 * setting its wait status in *status. After timeout_ms its whole session is killed and the
 * call fails with LIB_E_TIMEOUT. 0 when it ran and was reaped, whatever its status. */
int spawn_run(const struct spawn_opts *o, int timeout_ms, struct buf *out, int *status,
              struct err *e) __attribute__((warn_unused_result));

/* spawn_run() requiring exit status 0: otherwise LIB_E_TOOL "<what> exited with status 1: <its
 * last lines>" (or "was killed by signal N (...)"). */
int spawn_run_tool(const struct spawn_opts *o, int timeout_ms, const char *what, struct err *e)
    __attribute__((warn_unused_result));

/* How much of a program's output spawn_run() keeps. */
#define SPAWN_OUTPUT_TAIL 8192

/* "exited with status 1", "was killed by signal 9 (Killed)" into buf. */
void spawn_status_text(int status, char *buf, size_t n);

/* The environment for a program run as u: a copy of base (NULL: the caller's environment)
 * without HOME, USER and LOGNAME, then u's (u NULL: base unchanged). A new NULL-terminated
 * array the caller frees with spawn_env_free(). */
char **spawn_env_new(char *const *base, const struct osuser *u);
/* Free an array of spawn_env_new() (NULL is fine). */
void spawn_env_free(char **env);

#endif
