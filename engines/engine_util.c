/* Helpers shared by the engine drivers: the engine's OS user and how its programs run (over
 * lib/osuser.h and lib/spawn.h), its directories, string vectors. Nothing here knows about a
 * particular engine. */
#include "engines/engine_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engines/engine.h"
#include "lib/fileio.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

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
    int rc = -1;

    memset(u, 0, sizeof(*u));
    if (osuser_lookup(name, &u->os, e) < 0)
        goto out;
    if (u->os.uid == 0) {
        err_set(e, ENGINE_E_INVALID, "cannot run an engine as user \"%s\": it is root", name);
        goto out;
    }
    if (geteuid() == 0) {
        u->switch_user = true;
    } else if (geteuid() != u->os.uid) {
        err_set(e, ENGINE_E_SYSTEM, "cannot run as user \"%s\": not running as root", name);
        goto out;
    }
    rc = 0;
out:
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
    char *const base[] = {"PATH=" SAFE_PATH, "LANG=C.UTF-8", NULL};

    return spawn_env_new(base, &u->os);
}

char **engine_util_env_with(const struct engine_user *u, char *const *extra)
{
    char **env = engine_util_env_new(u);
    struct engine_strv sv = {0};

    for (char **p = env; *p; p++) {
        size_t n = strcspn(*p, "=");
        bool replaced = false;

        for (char *const *x = extra; x && *x && !replaced; x++)
            replaced = strncmp(*x, *p, n) == 0 && (*x)[n] == '=';
        if (!replaced)
            engine_util_strv_push(&sv, *p);
    }
    for (char *const *x = extra; x && *x; x++)
        engine_util_strv_push(&sv, *x);
    spawn_env_free(env);
    return engine_util_strv_steal(&sv);
}

/* ---- running programs ---- */

/* How every engine program runs: as u when we are root, umask 077, in cwd ("/" when NULL). */
static struct spawn_opts engine_opts(const struct engine_user *u, char *const argv[],
                                     char *const envp[], const char *cwd, int out_fd)
{
    struct spawn_opts o = SPAWN_OPTS_INIT;

    o.argv = argv;
    o.envp = envp;
    o.user = u->switch_user ? &u->os : NULL;
    o.workdir = cwd ? cwd : "/";
    o.out_fd = out_fd;
    o.umask = 077;
    return o;
}

int engine_util_spawn(const struct engine_user *u, char *const argv[], char *const envp[],
                      const char *cwd, int out_fd, pid_t *pid, struct err *e)
{
    char **own_env = NULL;
    struct spawn_opts o;
    int rc;

    if (!envp)
        envp = own_env = engine_util_env_new(u);
    o = engine_opts(u, argv, envp, cwd, out_fd);
    rc = spawn_start(&o, pid, e);
    spawn_env_free(own_env);
    return rc;
}

int engine_util_run(const struct engine_user *u, char *const argv[], const char *cwd,
                    int timeout_ms, struct buf *out, int *status, struct err *e)
{
    char **env = engine_util_env_new(u);
    struct spawn_opts o = engine_opts(u, argv, env, cwd, -1);
    int rc = spawn_run(&o, timeout_ms, out, status, e);

    spawn_env_free(env);
    return rc;
}

int engine_util_run_tool(const struct engine_user *u, char **argv, const char *cwd, int timeout_ms,
                         const char *what, struct err *e)
{
    char **env = engine_util_env_new(u);
    struct spawn_opts o = engine_opts(u, argv, env, cwd, -1);
    int rc = spawn_run_tool(&o, timeout_ms, what, e);

    spawn_env_free(env);
    engine_util_strv_free(argv);
    return rc;
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
    if (u->switch_user && (st.st_uid != u->os.uid || st.st_gid != u->os.gid) &&
        fchown(fd, u->os.uid, u->os.gid) < 0) {
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

int engine_util_write_file(const char *path, const char *content, const struct engine_user *u,
                           struct err *e)
{
    return fileio_write_atomic(path, content, strlen(content), 0600,
                               u->switch_user ? u->os.uid : FILEIO_KEEP_UID,
                               u->switch_user ? u->os.gid : FILEIO_KEEP_GID, FILEIO_SYNC_DIR, e);
}

char *engine_util_read_secret(const char *path, struct err *e)
{
    char *s = fileio_read(path, 1024, FILEIO_NOFOLLOW, e);

    if (s)
        s[strcspn(s, "\r\n")] = '\0';
    return s;
}

void engine_util_secret_free(char *secret)
{
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

bool engine_util_is_dir(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
