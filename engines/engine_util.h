/* Helpers shared by the engine drivers (and by programs that start engines as their OS user):
 * user lookup, running a program as that user, directories the engine user owns, string
 * vectors and small arithmetic. No engine-specific code lives here.
 *
 * NOTES: nothing logs; errors go to struct err with ENGINE_E_SYSTEM unless said otherwise.
 * Files in directories the engine user owns are written with lib/fileio.h, so that a link
 * planted by the engine user cannot redirect a write by root. */
#ifndef ENGINES_ENGINE_UTIL_H
#define ENGINES_ENGINE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/osuser.h"

/* The engine's OS user, resolved ahead of fork(), so that the child only makes system calls. */
struct engine_user {
    struct osuser os;
    bool switch_user; /* we are root: the child changes to this user */
};

/* Look up an OS user (a missing one: LIB_E_NOENT), refusing root. When we are not root, only
 * our own user is accepted (the engine then runs as ourselves; useful for development). */
int engine_util_user(const char *name, struct engine_user *u, struct err *e)
    __attribute__((warn_unused_result));

/* A clean environment for the user's processes: HOME, USER, LOGNAME, PATH, LANG=C.UTF-8.
 * Free with engine_util_strv_free(). */
char **engine_util_env_new(const struct engine_user *u);

/* engine_util_env_new() with the "K=V" entries of extra (NULL: none) added, each replacing an
 * entry of the same name (a seed step's PGPASSFILE, HOME). Free with engine_util_strv_free(). */
char **engine_util_env_with(const struct engine_user *u, char *const *extra);

/* spawn_start() (lib/spawn.h) of argv[0] (an absolute path) as u (when we are root) in a new
 * session, with default signal dispositions and an empty signal mask, umask 077, stdin from
 * /dev/null, stdout and stderr on out_fd (unchanged when -1), no other descriptors, cwd as
 * working directory ("/" when NULL) and envp (engine_util_env_new() when NULL). Sets *pid once
 * the program executed; a failure before exec (user, directory, exec itself) is an error
 * (LIB_E_SYSTEM) with the child reaped. Safe to call from a multithreaded process. */
int engine_util_spawn(const struct engine_user *u, char *const argv[], char *const envp[],
                      const char *cwd, int out_fd, pid_t *pid, struct err *e)
    __attribute__((warn_unused_result));

/* Run a program as u to completion (spawn_run() as engine_util_spawn() starts it), collecting
 * the last 8 KiB of its output in out (appended) and its wait status in *status. After
 * timeout_ms its session is killed and the call fails with LIB_E_TIMEOUT. Returns 0 when the
 * program ran and was reaped, whatever its status. */
int engine_util_run(const struct engine_user *u, char *const argv[], const char *cwd,
                    int timeout_ms, struct buf *out, int *status, struct err *e)
    __attribute__((warn_unused_result));

/* Run a tool (initdb, mariadb-install-db) as engine_util_run() does and require exit status 0:
 * otherwise LIB_E_TOOL "<what> exited with status 1: <its last lines>" (spawn_run_tool()).
 * Frees argv. */
int engine_util_run_tool(const struct engine_user *u, char **argv, const char *cwd, int timeout_ms,
                         const char *what, struct err *e) __attribute__((warn_unused_result));

/* Create directory path (its parent must exist) or accept an existing one; refuse a symbolic
 * link; then set mode 0700 and, when we are root, owner u. */
int engine_util_mkdir(const char *path, const struct engine_user *u, struct err *e)
    __attribute__((warn_unused_result));

/* Write content to path atomically (lib/fileio.h), mode 0600, owned by u when we are root:
 * a file of the member directory that the engine reads. */
int engine_util_write_file(const char *path, const char *content, const struct engine_user *u,
                           struct err *e) __attribute__((warn_unused_result));

/* The first line of a small secret file (not a link, at most 1 KiB) in a new string; the caller
 * wipes and frees it with engine_util_secret_free(). NULL with e set (LIB_E_NOENT when missing,
 * errno ENOENT). */
char *engine_util_read_secret(const char *path, struct err *e);
/* explicit_bzero() then free(); NULL is fine. */
void engine_util_secret_free(char *secret);

/* Whether path exists as a directory (not a link). */
bool engine_util_is_dir(const char *path);

/* dir + "/" + name; the caller frees it. */
char *engine_util_path(const char *dir, const char *name);

/* An absolute program path: bin_dir/name when bin_dir is set, else default_dir/name. The
 * caller frees it. */
char *engine_util_program(const char *bin_dir, const char *default_dir, const char *name);

/* A growable NULL-terminated string vector (for argv). */
struct engine_strv {
    char **v; /* NULL-terminated once anything was pushed */
    size_t n;
    size_t cap;
};

/* Append a copy of s / a formatted string. */
void engine_util_strv_push(struct engine_strv *sv, const char *s);
void engine_util_strv_pushf(struct engine_strv *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The vector, which the caller frees with engine_util_strv_free(); sv is left empty. */
char **engine_util_strv_steal(struct engine_strv *sv);
/* Free a NULL-terminated vector of strings (NULL is fine). */
void engine_util_strv_free(char **v);

/* min(max(v, lo), hi). */
int64_t engine_util_clamp(int64_t v, int64_t lo, int64_t hi);

/* Whether s is non-empty, at most max bytes, and every byte is in the set chars (a string of
 * allowed characters; ranges are not supported). */
bool engine_util_charset(const char *s, size_t max, const char *chars);

#endif
