/* The isolation interface: argument checks and dispatch to the backend chosen at run time, and
 * the host helpers every backend shares (detection, block devices, programs, spawning).
 *
 * NOTES
 * - Runs on the caller's thread; nothing here logs, errors go to struct err.
 * - iso_spawn() forks through lib/spawn.h, whose child makes only async-signal-safe calls, so
 *   it is safe from a threaded agent. */
#include "isolation/backend.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/osuser.h"
#include "lib/proc.h"
#include "lib/spawn.h"

#define NAME_MAX_LEN 48
#define KILL_GRACE_MS 5000

/* ---- kinds, names, limits ---- */

static const char *const kind_names[] = {
    [ISO_CGROUP] = "cgroup",
    [ISO_CGROUP_V1] = "cgroup-v1",
    [ISO_CGROUP_V2] = "cgroup-v2",
    [ISO_LXC] = "lxc",
};

int iso_kind_parse(const char *s, enum iso_kind *kind, struct err *e)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
        if (s && strcmp(s, kind_names[i]) == 0) {
            *kind = (enum iso_kind)i;
            return 0;
        }
    }
    return err_set(
        e, ISO_EINVAL,
        "invalid isolation backend \"%s\" (expected cgroup, cgroup-v1, cgroup-v2 or lxc)",
        s ? s : "");
}

const char *iso_kind_name(enum iso_kind kind)
{
    if ((size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]))
        return kind_names[kind];
    return "unknown";
}

static bool name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return false;
    }
    return true;
}

static int check_name(const char *what, const char *s, struct err *e)
{
    if (name_valid(s))
        return 0;
    return err_set(e, ISO_EINVAL,
                   "invalid %s \"%s\": use 1 to %d letters, digits, '_', '-' or '.', not starting "
                   "with '.' or '-'",
                   what, s ? s : "", NAME_MAX_LEN);
}

static bool device_valid(const char *d)
{
    unsigned int maj, min;
    int used = 0;

    return sscanf(d, "%u:%u%n", &maj, &min, &used) == 2 && d[used] == '\0' &&
           isdigit((unsigned char)d[0]);
}

int iso_limits_check(const struct iso_limits *lim, struct err *e)
{
    const struct {
        const char *name;
        int64_t v;
    } nums[] = {
        {"cpu_millis", lim->cpu_millis}, {"memory_mb", lim->memory_mb},
        {"read_iops", lim->read_iops},   {"write_iops", lim->write_iops},
        {"read_bps", lim->read_bps},     {"write_bps", lim->write_bps},
    };

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (nums[i].v < 0)
            return err_set(e, ISO_EINVAL, "invalid limit %s = %" PRId64 ": must not be negative",
                           nums[i].name, nums[i].v);
    }
    if (lim->cpu_millis != 0 && lim->cpu_millis < ISO_CPU_MIN_MILLIS)
        return err_set(e, ISO_EINVAL, "invalid limit cpu_millis = %" PRId64 ": the minimum is %d",
                       lim->cpu_millis, ISO_CPU_MIN_MILLIS);
    if (lim->cpu_millis > INT64_MAX / 1000 || lim->memory_mb > INT64_MAX / (1024 * 1024))
        return err_set(e, ISO_EINVAL, "invalid limits: value too large");
    if (memchr(lim->device, '\0', sizeof(lim->device)) == NULL)
        return err_set(e, ISO_EINVAL, "invalid device: not terminated");
    if (lim->device[0] != '\0' && !device_valid(lim->device))
        return err_set(e, ISO_EINVAL, "invalid device \"%s\": expected \"major:minor\"",
                       lim->device);
    if (lim->device[0] == '\0' &&
        (lim->read_iops || lim->write_iops || lim->read_bps || lim->write_bps))
        return err_set(e, ISO_EINVAL, "invalid limits: IO limits need a device");
    return 0;
}

/* ---- detection ---- */

static bool word_in(const char *list, const char *word, const char *seps)
{
    size_t wl = strlen(word);
    const char *p = list;

    while (p && *p) {
        size_t n = strcspn(p, seps);
        if (n == wl && strncmp(p, word, wl) == 0)
            return true;
        p += n;
        p += strspn(p, seps);
    }
    return false;
}

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
            v1_cpu = v1_cpu || word_in(opts, "cpu", ",");
            v1_mem = v1_mem || word_in(opts, "memory", ",");
        } else if (strcmp(type, "cgroup2") == 0 && !v2) {
            char path[1100];
            char *ctl;
            snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
            ctl = fileio_read(path, SIZE_MAX, 0, NULL);
            v2 = ctl && word_in(ctl, "cpu", " \n") && word_in(ctl, "memory", " \n");
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
    if (n == 0 || n >= ISO_DEVICE_MAX || !device_valid(s)) {
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
    char *ret = NULL;

    if (!text) {
        err_set(e, ISO_ENOENT, "cannot find block device %s: %s", device, strerror(errno));
        goto out;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "DEVNAME=", 8) == 0 && line[8] != '\0') {
            ret = xasprintf("/dev/%s", line + 8);
            break;
        }
    }
    if (!ret)
        err_set(e, ISO_ENOENT, "cannot find the device node of block device %s", device);
out:
    free(uevent);
    free(text);
    return ret;
}

/* ---- users and programs ---- */

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
    int fd;

    if (!path)
        path = "/dev/null";
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return err_set(e, ISO_ESYS, "could not open log file \"%s\": %s", path, strerror(errno));
    return fd;
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
    /* the caller's environment, with HOME, USER and LOGNAME of the user */
    env = spawn_env_new(NULL, ex->user ? &user : NULL);
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

/* ---- processes of a group ---- */

static bool pid_in(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

pid_t iso_pick_main(const pid_t *pids, size_t n)
{
    pid_t best = 0;
    bool best_leader = false;
    uint64_t best_start = 0;

    for (size_t i = 0; i < n; i++) {
        struct proc_stat p;
        bool leader;

        if (proc_stat_read(pids[i], &p) != 0 || proc_state_gone(p.state))
            continue;
        if (pid_in(pids, n, p.ppid))
            continue;
        leader = p.sid == pids[i];
        if (best == 0 || (leader && !best_leader) ||
            (leader == best_leader && p.starttime < best_start)) {
            best = pids[i];
            best_leader = leader;
            best_start = p.starttime;
        }
    }
    return best;
}

int iso_parse_pids(const char *text, pid_t **pids, size_t *n)
{
    size_t cap = 0;

    *pids = NULL;
    *n = 0;
    for (const char *p = text; p && *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        if (v > 0 && v <= INT_MAX) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                *pids = xrealloc(*pids, cap * sizeof(pid_t));
            }
            (*pids)[(*n)++] = (pid_t)v;
        }
        p = end;
    }
    return 0;
}

/* ---- the interface ---- */

struct iso *iso_open(enum iso_kind kind, const char *root, const struct iso_options *opts,
                     struct err *e)
{
    struct iso_options none = {0};
    struct iso *iso = NULL;

    if (check_name("isolation root", root, e) != 0)
        return NULL;
    if (kind == ISO_CGROUP) {
        if (opts && opts->cgroup2_mount)
            kind = ISO_CGROUP_V2;
        else if (iso_detect(&kind, e) != 0)
            return NULL;
    }
    iso = xcalloc(1, sizeof(*iso));
    iso->kind = kind;
    iso->root = xstrdup(root);
    switch (kind) {
    case ISO_CGROUP_V1:
        iso->ops = &iso_cgroup1_ops;
        break;
    case ISO_CGROUP_V2:
        iso->ops = &iso_cgroup2_ops;
        break;
    case ISO_LXC:
        iso->ops = &iso_lxc_ops;
        break;
    default:
        err_set(e, ISO_EINVAL, "invalid isolation backend %d", (int)kind);
        goto fail;
    }
    if (iso->ops->open(iso, opts ? opts : &none, e) != 0)
        goto fail;
    return iso;
fail:
    free(iso->root);
    free(iso);
    return NULL;
}

void iso_close(struct iso *iso)
{
    if (!iso)
        return;
    if (iso->ops)
        iso->ops->close(iso);
    free(iso->root);
    free(iso);
}

enum iso_kind iso_kind_of(const struct iso *iso)
{
    return iso->kind;
}

int iso_start(struct iso *iso, const char *name, const struct iso_limits *lim,
              const struct iso_exec *ex, pid_t *pid, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0 || iso_limits_check(lim, e) != 0)
        return -1;
    if (!ex || !ex->argv || !ex->argv[0])
        return err_set(e, ISO_EINVAL, "invalid command: no program");
    return iso->ops->start(iso, name, lim, ex, pid, e);
}

int iso_update(struct iso *iso, const char *name, const struct iso_limits *lim, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0 || iso_limits_check(lim, e) != 0)
        return -1;
    return iso->ops->update(iso, name, lim, e);
}

int iso_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0)
        return -1;
    memset(u, 0, sizeof(*u));
    u->oom_kills = -1;
    return iso->ops->usage(iso, name, u, e);
}

bool iso_exists(struct iso *iso, const char *name)
{
    struct err e = {0};

    return name_valid(name) && iso->ops->exists(iso, name, &e) == 1;
}

/* The live processes of the group; *n = 0 when the group does not exist and missing_ok. */
static int live_pids(struct iso *iso, const char *name, bool missing_ok, pid_t **pids, size_t *n,
                     struct err *e)
{
    size_t k = 0;

    *pids = NULL;
    *n = 0;
    if (iso->ops->procs(iso, name, pids, n, e) != 0) {
        if (missing_ok && e->code == ISO_ENOENT) {
            err_clear(e);
            return 0;
        }
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        if (proc_alive((*pids)[i], 0))
            (*pids)[k++] = (*pids)[i];
    *n = k;
    if (k == 0) {
        free(*pids);
        *pids = NULL;
    }
    return 0;
}

int iso_main_pid(struct iso *iso, const char *name, pid_t *pid, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    pid_t *pids = NULL;
    size_t n = 0;

    *pid = 0;
    if (check_name("instance name", name, e) != 0)
        return -1;
    if (iso->ops->main_pid)
        return iso->ops->main_pid(iso, name, pid, e);
    if (iso->ops->procs(iso, name, &pids, &n, e) != 0)
        return -1;
    *pid = iso_pick_main(pids, n);
    free(pids);
    return 0;
}

int iso_pids(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0)
        return -1;
    return live_pids(iso, name, false, pids, n, e);
}

/* Wait until the group holds no live process; 1 = empty, 0 = deadline passed, -1 = error. */
static int wait_empty(struct iso *iso, const char *name, int64_t deadline, bool kill_rounds,
                      struct err *e)
{
    for (;;) {
        pid_t *pids = NULL;
        size_t n = 0;

        if (live_pids(iso, name, true, &pids, &n, e) != 0)
            return -1;
        free(pids);
        if (n == 0)
            return 1;
        if (clock_now_ms() >= deadline)
            return 0;
        if (kill_rounds && iso->ops->kill_all(iso, name, e) != 0)
            return -1;
        clock_sleep_ms(10);
    }
}

int iso_stop(struct iso *iso, const char *name, int sig, int deadline_ms, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    pid_t main = 0;
    int rc;

    if (check_name("instance name", name, e) != 0)
        return -1;
    if (iso_main_pid(iso, name, &main, e) != 0) {
        if (e->code == ISO_ENOENT) {
            err_clear(e);
            return 0;
        }
        return -1;
    }
    if (main > 0 && sig > 0 && kill(main, sig) != 0 && errno != ESRCH)
        return err_set(e, ISO_ESYS, "could not signal process %d of \"%s\": %s", (int)main, name,
                       strerror(errno));
    rc = wait_empty(iso, name, clock_now_ms() + (deadline_ms > 0 ? deadline_ms : 0), false, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (iso->ops->kill_all(iso, name, e) != 0)
        return -1;
    rc = wait_empty(iso, name, clock_now_ms() + KILL_GRACE_MS, true, e);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return err_set(e, ISO_EBUSY, "could not stop \"%s\": processes survived SIGKILL for %d ms",
                       name, KILL_GRACE_MS);
    return 0;
}

int iso_destroy(struct iso *iso, const char *name, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    pid_t *pids = NULL;
    size_t n = 0;
    int rc;

    if (check_name("instance name", name, e) != 0)
        return -1;
    rc = iso->ops->exists(iso, name, e);
    if (rc <= 0)
        return rc;
    if (iso->kind != ISO_LXC) {
        if (live_pids(iso, name, true, &pids, &n, e) != 0)
            return -1;
        free(pids);
        if (n > 0)
            return err_set(e, ISO_EBUSY,
                           "cannot destroy \"%s\": %zu processes still run in it (stop it first)",
                           name, n);
    }
    return iso->ops->destroy(iso, name, e);
}

int iso_remove_root(struct iso *iso, struct err *e)
{
    struct err local = {0};

    if (!e)
        e = &local;
    return iso->ops->remove_root(iso, e);
}
