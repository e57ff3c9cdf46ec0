/* The host as the isolation backends see it: which cgroup version it mounts, the whole disk
 * under a path and its device node, the program and directory of an engine, and starting the
 * engine inside a group (iso_spawn(), over lib/spawn.h).
 *
 * NOTES
 * - Runs on the caller's thread; nothing here logs, errors go to struct err.
 * - iso_spawn() forks through lib/spawn.h, whose child makes only async-signal-safe calls, so
 *   it is safe from a threaded agent. */
#include "isolation/backend.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/osuser.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

#define ISO_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin" /* when the agent has no PATH */

/* ---- detection ---- */

int iso_detect_at(const char *mounts_path, enum iso_kind *kind, struct err *e)
{
    FILE *f = NULL;
    char line[4096];
    bool v1_cpu = false, v1_mem = false, v2 = false;
    int ret = -1;

    f = fopen(mounts_path, "re");
    if (!f) {
        err_set(e, ISO_ESYS, "could not open \"%s\": %s", mounts_path, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof(line), f)) {
        char dev[256], dir[1024], type[64], opts[2048];
        if (sscanf(line, "%255s %1023s %63s %2047s", dev, dir, type, opts) != 4)
            continue;
        if (strcmp(type, "cgroup") == 0) {
            v1_cpu = v1_cpu || iso_word_in(opts, "cpu", ",");
            v1_mem = v1_mem || iso_word_in(opts, "memory", ",");
        } else if (strcmp(type, "cgroup2") == 0 && !v2) {
            char path[1100];
            char *ctl;
            snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
            ctl = fileio_read(path, SIZE_MAX, 0, NULL);
            v2 = ctl && iso_word_in(ctl, "cpu", " \n") && iso_word_in(ctl, "memory", " \n");
            free(ctl);
        }
    }
    if (v2)
        *kind = ISO_CGROUP_V2;
    else if (v1_cpu && v1_mem)
        *kind = ISO_CGROUP_V1;
    else {
        err_set(e, ISO_ENOENT,
                "cannot find the cpu and memory cgroup controllers in \"%s\" (v1 or v2)",
                mounts_path);
        goto out;
    }
    ret = 0;
out:
    if (f)
        fclose(f);
    return ret;
}

int iso_detect(enum iso_kind *kind, struct err *e)
{
    return iso_detect_at("/proc/self/mounts", kind, e);
}

/* ---- block devices ---- */

bool iso_device_valid(const char *d)
{
    unsigned int maj, min;
    int used = 0;

    return sscanf(d, "%u:%u%n", &maj, &min, &used) == 2 && d[used] == '\0' &&
           isdigit((unsigned char)d[0]);
}

static int read_dev_file(const char *path, char out[ISO_DEVICE_MAX], struct err *e)
{
    char *s = fileio_read(path, SIZE_MAX, 0, NULL);
    size_t n;
    int ret = -1;

    if (!s) {
        err_set(e, ISO_ESYS, "could not read \"%s\": %s", path, strerror(errno));
        goto out;
    }
    n = strcspn(s, "\n");
    s[n] = '\0';
    if (n == 0 || n >= ISO_DEVICE_MAX || !iso_device_valid(s)) {
        err_set(e, ISO_ESYS, "unexpected contents in \"%s\"", path);
        goto out;
    }
    memcpy(out, s, n + 1);
    ret = 0;
out:
    free(s);
    return ret;
}

int iso_block_device_sys(const char *sysfs, unsigned int major, unsigned int minor,
                         char out[ISO_DEVICE_MAX], struct err *e)
{
    char *link = NULL, *real = NULL, *probe = NULL, *devfile = NULL;
    struct stat st;
    int ret = -1;

    link = xasprintf("%s/dev/block/%u:%u", sysfs, major, minor);
    real = realpath(link, NULL);
    if (!real) {
        err_set(e, ISO_ENOENT, "device %u:%u is not a block device (%s)", major, minor,
                strerror(errno));
        goto out;
    }
    probe = xasprintf("%s/partition", real);
    if (stat(probe, &st) == 0) {
        /* a partition: the throttles apply to its disk, the parent directory */
        char *slash = strrchr(real, '/');
        if (!slash || slash == real) {
            err_set(e, ISO_ENOENT, "cannot find the disk of partition %u:%u", major, minor);
            goto out;
        }
        *slash = '\0';
    }
    devfile = xasprintf("%s/dev", real);
    ret = read_dev_file(devfile, out, e);
out:
    free(link);
    free(real);
    free(probe);
    free(devfile);
    return ret;
}

int iso_block_device(const char *path, char out[ISO_DEVICE_MAX], struct err *e)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return err_set(e, errno == ENOENT ? ISO_ENOENT : ISO_ESYS, "could not stat \"%s\": %s",
                       path, strerror(errno));
    if (iso_block_device_sys("/sys", major(st.st_dev), minor(st.st_dev), out, e) != 0) {
        char inner[sizeof(e->msg)];
        snprintf(inner, sizeof(inner), "%s", e ? e->msg : "");
        return err_set(e, ISO_ENOENT, "cannot find the block device holding \"%s\": %s", path,
                       inner);
    }
    return 0;
}

char *iso_device_path(const char *sysfs, const char *device, struct err *e)
{
    char *uevent = xasprintf("%s/dev/block/%s/uevent", sysfs, device);
    char *text = fileio_read(uevent, SIZE_MAX, 0, NULL);
    char *name = NULL, *ret = NULL;

    if (!text) {
        err_set(e, ISO_ENOENT, "cannot find block device %s: %s", device, strerror(errno));
        goto out;
    }
    name = iso_line_value(text, "DEVNAME=");
    if (name && name[0])
        ret = xasprintf("/dev/%s", name);
    else
        err_set(e, ISO_ENOENT, "cannot find the device node of block device %s", device);
out:
    free(uevent);
    free(text);
    free(name);
    return ret;
}

/* ---- programs ---- */

char *iso_resolve_program(const char *argv0, struct err *e)
{
    const char *path = getenv("PATH");
    char *copy = NULL, *ret = NULL;

    if (!argv0 || !argv0[0]) {
        err_set(e, ISO_EINVAL, "invalid command: empty program name");
        return NULL;
    }
    if (strchr(argv0, '/')) {
        if (access(argv0, X_OK) != 0) {
            err_set(e, ISO_EINVAL, "cannot execute \"%s\": %s", argv0, strerror(errno));
            return NULL;
        }
        return xstrdup(argv0);
    }
    copy = xstrdup(path && path[0] ? path : "/usr/local/bin:/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char *cand = xasprintf("%s/%s", dir, argv0);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            ret = cand;
            break;
        }
        free(cand);
    }
    free(copy);
    if (!ret)
        err_set(e, ISO_EINVAL, "cannot find program \"%s\" in PATH", argv0);
    return ret;
}

int iso_check_workdir(const char *dir, struct err *e)
{
    struct stat st;

    if (stat(dir, &st) != 0)
        return err_set(e, ISO_EINVAL, "cannot use working directory \"%s\": %s", dir,
                       strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(e, ISO_EINVAL, "cannot use working directory \"%s\": not a directory", dir);
    return 0;
}

int iso_open_log(const char *path, struct err *e)
{
    struct stat st;
    int fd, flags;

    if (!path)
        return iso_open_null(e);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
              0640);
    if (fd < 0)
        return err_set(e, ISO_ESYS, "could not open log file \"%s\": %s", path,
                       errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(fd);
        return err_set(e, ISO_ESYS,
                       "could not open log file \"%s\": not a regular file with one link", path);
    }
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        close(fd);
        return err_set(e, ISO_ESYS, "could not open log file \"%s\": %s", path, strerror(errno));
    }
    return fd;
}

int iso_open_null(struct err *e)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return err_set(e, ISO_ESYS, "could not open \"/dev/null\": %s", strerror(errno));
    return fd;
}

char **iso_env_new(const struct osuser *u, char *const *extra)
{
    const char *path = getenv("PATH");
    char *path_var = xasprintf("PATH=%s", path && path[0] ? path : ISO_DEFAULT_PATH);
    char *minimal[] = {path_var, "LANG=C", NULL};
    char **base = spawn_env_new(minimal, u), **env;
    size_t n = 0, k = 0;

    free(path_var);

    while (base[n])
        n++;
    while (extra && extra[k])
        k++;
    if (k == 0)
        return base;
    env = xcalloc(n + k + 1, sizeof(char *));
    memcpy(env, base, n * sizeof(char *));
    for (size_t i = 0; i < k; i++)
        env[n + i] = xstrdup(extra[i]);
    free(base);
    return env;
}

/* ---- spawning ---- */

int iso_spawn(const struct iso_exec *ex, spawn_hook_fn attach, void *arg, pid_t *pid, struct err *e)
{
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct osuser user;
    char *program = NULL;
    char **env = NULL;
    const char *workdir = ex->workdir ? ex->workdir : "/";
    int logfd = -1, ret = -1;

    if (!ex->argv || !ex->argv[0]) {
        err_set(e, ISO_EINVAL, "invalid command: no program");
        goto out;
    }
    program = iso_resolve_program(ex->argv[0], e);
    if (!program)
        goto out;
    if (iso_check_workdir(workdir, e) != 0 || (ex->user && osuser_lookup(ex->user, &user, e) != 0))
        goto out;
    /* a clean environment (PATH, LANG, the user's HOME, USER and LOGNAME, and ex->env) and
     * umask 077: the engine's files are its own (docs/engines.md) */
    env = iso_env_new(ex->user ? &user : NULL, ex->env);
    o.umask = 077;
    logfd = iso_open_log(ex->log_path, e);
    if (logfd < 0)
        goto out;
    o.program = program;
    o.argv = ex->argv;
    o.envp = env;
    o.user = ex->user ? &user : NULL;
    o.workdir = workdir;
    o.out_fd = logfd;
    o.hook = attach;
    o.hook_arg = arg;
    ret = spawn_start(&o, pid, e);
out:
    if (logfd >= 0)
        close(logfd);
    spawn_env_free(env);
    free(program);
    return ret;
}
