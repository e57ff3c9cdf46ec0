/* The isolation interface: argument checks, dispatch to the backend chosen at run time, and
 * what is common to every backend about the processes of a group (the main process, waiting
 * for a group to empty, stopping it). The host helpers the backends share are in host.c.
 *
 * NOTES
 * - Runs on the caller's thread; nothing here logs, errors go to struct err.
 * - Threads: a backend whose library keeps global state (ops->serial: libcgroup) has each of
 *   its calls serialised by iso->lock, held for one backend call only, never across a wait
 *   (iso_stop() polls and sleeps without it), so that a slow stop of one group does not hold
 *   up the calls on other groups. */
#include "isolation/backend.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/proc.h"
#include "lib/xalloc.h"

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
    if (lim->device[0] != '\0' && !iso_device_valid(lim->device))
        return err_set(e, ISO_EINVAL, "invalid device \"%s\": expected \"major:minor\"",
                       lim->device);
    if (lim->device[0] == '\0' &&
        (lim->read_iops || lim->write_iops || lim->read_bps || lim->write_bps))
        return err_set(e, ISO_EINVAL, "invalid limits: IO limits need a device");
    return 0;
}

/* ---- serialisation of backend calls (see NOTES) ---- */

static void enter(struct iso *iso)
{
    if (iso->ops->serial)
        pthread_mutex_lock(&iso->lock);
}

static void leave(struct iso *iso)
{
    if (iso->ops->serial)
        pthread_mutex_unlock(&iso->lock);
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
    pthread_mutex_init(&iso->lock, NULL);
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
    pthread_mutex_destroy(&iso->lock);
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
    pthread_mutex_destroy(&iso->lock);
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
    int rc;

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0 || iso_limits_check(lim, e) != 0)
        return -1;
    if (!ex || !ex->argv || !ex->argv[0])
        return err_set(e, ISO_EINVAL, "invalid command: no program");
    enter(iso);
    rc = iso->ops->start(iso, name, lim, ex, pid, e);
    leave(iso);
    return rc;
}

int iso_update(struct iso *iso, const char *name, const struct iso_limits *lim, struct err *e)
{
    struct err local = {0};
    int rc;

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0 || iso_limits_check(lim, e) != 0)
        return -1;
    enter(iso);
    rc = iso->ops->update(iso, name, lim, e);
    leave(iso);
    return rc;
}

int iso_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
{
    struct err local = {0};
    int rc;

    if (!e)
        e = &local;
    if (check_name("instance name", name, e) != 0)
        return -1;
    memset(u, 0, sizeof(*u));
    u->oom_kills = -1;
    enter(iso);
    rc = iso->ops->usage(iso, name, u, e);
    leave(iso);
    return rc;
}

/* ops->exists under the backend's serialisation. */
static int exists(struct iso *iso, const char *name, struct err *e)
{
    int rc;

    enter(iso);
    rc = iso->ops->exists(iso, name, e);
    leave(iso);
    return rc;
}

/* ops->procs under the backend's serialisation. */
static int procs(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
{
    int rc;

    enter(iso);
    rc = iso->ops->procs(iso, name, pids, n, e);
    leave(iso);
    return rc;
}

bool iso_exists(struct iso *iso, const char *name)
{
    struct err e = {0};

    return name_valid(name) && exists(iso, name, &e) == 1;
}

/* The live processes of the group; *n = 0 when the group does not exist and missing_ok. */
static int live_pids(struct iso *iso, const char *name, bool missing_ok, pid_t **pids, size_t *n,
                     struct err *e)
{
    size_t k = 0;

    *pids = NULL;
    *n = 0;
    if (procs(iso, name, pids, n, e) != 0) {
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
    if (iso->ops->main_pid) {
        int rc;
        enter(iso);
        rc = iso->ops->main_pid(iso, name, pid, e);
        leave(iso);
        return rc;
    }
    if (procs(iso, name, &pids, &n, e) != 0)
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

/* ops->kill_all under the backend's serialisation. */
static int kill_all(struct iso *iso, const char *name, struct err *e)
{
    int rc;

    enter(iso);
    rc = iso->ops->kill_all(iso, name, e);
    leave(iso);
    return rc;
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
        if (kill_rounds && kill_all(iso, name, e) != 0)
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
    if (kill_all(iso, name, e) != 0)
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
    rc = exists(iso, name, e);
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
    enter(iso);
    rc = iso->ops->destroy(iso, name, e);
    leave(iso);
    return rc;
}

int iso_remove_root(struct iso *iso, struct err *e)
{
    struct err local = {0};

    int rc;

    if (!e)
        e = &local;
    enter(iso);
    rc = iso->ops->remove_root(iso, e);
    leave(iso);
    return rc;
}
