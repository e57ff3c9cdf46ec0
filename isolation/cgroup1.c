/* The cgroup v1 backend: one group "<root>/<name>" in the cpu, cpuacct, memory and blkio
 * hierarchies, created, changed, read, joined and removed through libcgroup.
 *
 * NOTES
 * - libcgroup keeps its mount table in globals, filled by cgroup_init() in open: one handle per
 *   process, used from one thread.
 * - Limits: cpu.cfs_period_us/cpu.cfs_quota_us, memory.limit_in_bytes,
 *   blkio.throttle.{read,write}_{bps,iops}_device on the disk given in the limits. */
#include "isolation/backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libcgroup.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

static const char *const controllers[] = {"cpu", "cpuacct", "memory", "blkio"};
#define NCTL (sizeof(controllers) / sizeof(controllers[0]))

static const char *const blkio_files[] = {
    "blkio.throttle.read_bps_device",
    "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device",
    "blkio.throttle.write_iops_device",
};

struct cg1 {
    char *mount[NCTL]; /* mount point of each controller's hierarchy */
};

size_t iso_cg1_render(const struct iso_limits *lim, struct iso_setting out[ISO_SETTINGS_MAX])
{
    size_t n = 0;
    const int64_t io[4] = {lim->read_bps, lim->write_bps, lim->read_iops, lim->write_iops};

    out[n] = (struct iso_setting){"cpu", "cpu.cfs_period_us", ""};
    snprintf(out[n++].value, sizeof(out[0].value), "%d", ISO_CPU_PERIOD_US);
    out[n] = (struct iso_setting){"cpu", "cpu.cfs_quota_us", ""};
    if (lim->cpu_millis > 0)
        snprintf(out[n++].value, sizeof(out[0].value), "%" PRId64,
                 lim->cpu_millis * ISO_CPU_PERIOD_US / 1000);
    else
        snprintf(out[n++].value, sizeof(out[0].value), "-1");
    out[n] = (struct iso_setting){"memory", "memory.limit_in_bytes", ""};
    if (lim->memory_mb > 0)
        snprintf(out[n++].value, sizeof(out[0].value), "%" PRId64, lim->memory_mb * 1024 * 1024);
    else
        snprintf(out[n++].value, sizeof(out[0].value), "-1");
    if (lim->device[0] != '\0') {
        for (size_t i = 0; i < 4; i++) {
            out[n] = (struct iso_setting){"blkio", blkio_files[i], ""};
            snprintf(out[n++].value, sizeof(out[0].value), "%s %" PRId64, lim->device, io[i]);
        }
    }
    return n;
}

static char *group_path(const struct iso *iso, const char *name)
{
    return name ? xasprintf("%s/%s", iso->root, name) : xstrdup(iso->root);
}

static int cg_error(struct err *e, int rc, const char *what, const char *group)
{
    return err_set(e, rc == ECGROUPNOTEXIST ? ISO_ENOENT : ISO_EBACKEND,
                   "could not %s cgroup \"%s\": %s", what, group, cgroup_strerror(rc));
}

/* A libcgroup group with our controllers and, when lim is given, its values. */
static struct cgroup *cg_build(const char *path, const struct iso_limits *lim, struct err *e)
{
    struct cgroup *cg = cgroup_new_cgroup(path);
    struct iso_setting set[ISO_SETTINGS_MAX];
    size_t n = lim ? iso_cg1_render(lim, set) : 0;

    if (!cg) {
        err_set(e, ISO_EBACKEND, "could not allocate cgroup \"%s\"", path);
        return NULL;
    }
    for (size_t i = 0; i < NCTL; i++) {
        struct cgroup_controller *c = cgroup_add_controller(cg, controllers[i]);
        if (!c) {
            err_set(e, ISO_EBACKEND, "could not add controller \"%s\" to cgroup \"%s\"",
                    controllers[i], path);
            goto fail;
        }
        for (size_t k = 0; k < n; k++) {
            int rc;
            if (strcmp(set[k].controller, controllers[i]) != 0)
                continue;
            rc = cgroup_add_value_string(c, set[k].file, set[k].value);
            if (rc != 0) {
                err_set(e, ISO_EBACKEND, "could not set \"%s\" of cgroup \"%s\": %s", set[k].file,
                        path, cgroup_strerror(rc));
                goto fail;
            }
        }
    }
    return cg;
fail:
    cgroup_free(&cg);
    return NULL;
}

/* Read a whole control file of the group through libcgroup, in a new string. */
static char *cg_read(const char *controller, const char *path, const char *file, struct err *e)
{
    char line[4096];
    char fname[128];
    void *h = NULL;
    struct buf b = BUF_INIT;
    int rc;

    snprintf(fname, sizeof(fname), "%s", file);
    rc = cgroup_read_value_begin(controller, path, fname, &h, line, (int)sizeof(line));
    while (rc == 0) {
        size_t l = strlen(line);
        buf_append(&b, line, l);
        if (l == 0 || line[l - 1] != '\n')
            buf_puts(&b, "\n");
        rc = cgroup_read_value_next(&h, line, (int)sizeof(line));
    }
    if (h)
        cgroup_read_value_end(&h);
    if (rc != ECGEOF) {
        err_set(e, rc == ECGROUPNOTEXIST ? ISO_ENOENT : ISO_EBACKEND,
                "could not read \"%s\" of cgroup \"%s\": %s", file, path, cgroup_strerror(rc));
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int cg1_open(struct iso *iso, const struct iso_options *o, struct err *e)
{
    struct cg1 *p = NULL;
    int rc;

    (void)o;
    rc = cgroup_init();
    if (rc != 0)
        return err_set(e, ISO_EBACKEND, "could not initialize libcgroup: %s", cgroup_strerror(rc));
    p = xcalloc(1, sizeof(*p));
    for (size_t i = 0; i < NCTL; i++) {
        rc = cgroup_get_subsys_mount_point(controllers[i], &p->mount[i]);
        if (rc != 0) {
            err_set(e, ISO_EBACKEND, "cannot use cgroup v1: controller \"%s\" is not mounted: %s",
                    controllers[i], cgroup_strerror(rc));
            goto fail;
        }
    }
    iso->priv = p;
    return 0;
fail:
    for (size_t i = 0; i < NCTL; i++)
        free(p->mount[i]);
    free(p);
    return -1;
}

static void cg1_close(struct iso *iso)
{
    struct cg1 *p = iso->priv;

    if (!p)
        return;
    for (size_t i = 0; i < NCTL; i++)
        free(p->mount[i]);
    free(p);
    iso->priv = NULL;
}

/* Whether the group's directory exists in hierarchy i. */
static bool dir_exists(const struct iso *iso, size_t i, const char *name)
{
    const struct cg1 *p = iso->priv;
    char *path = name ? xasprintf("%s/%s/%s", p->mount[i], iso->root, name)
                      : xasprintf("%s/%s", p->mount[i], iso->root);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);

    free(path);
    return ok;
}

static int cg1_exists(struct iso *iso, const char *name, struct err *e)
{
    (void)e;
    for (size_t i = 0; i < NCTL; i++)
        if (dir_exists(iso, i, name))
            return 1;
    return 0;
}

struct attach_arg {
    struct cgroup *cg;
    const char *path;
};

static int cg1_attach(void *arg, pid_t pid, struct err *e)
{
    const struct attach_arg *a = arg;
    int rc = cgroup_attach_task_pid(a->cg, pid);

    if (rc != 0)
        return err_set(e, ISO_EBACKEND, "could not move process %d into cgroup \"%s\": %s",
                       (int)pid, a->path, cgroup_strerror(rc));
    return 0;
}

/* Remove the group (name NULL: the parent) from every hierarchy holding it: libcgroup fails on a
 * hierarchy where the directory is missing (a half-made group), so only those are listed. */
static int cg_delete(const struct iso *iso, const char *name, struct err *e)
{
    char *path = group_path(iso, name);
    struct cgroup *cg = cgroup_new_cgroup(path);
    size_t present = 0;
    int rc, ret = -1;

    if (!cg) {
        err_set(e, ISO_EBACKEND, "could not allocate cgroup \"%s\"", path);
        goto out;
    }
    for (size_t i = 0; i < NCTL; i++) {
        if (!dir_exists(iso, i, name))
            continue;
        if (!cgroup_add_controller(cg, controllers[i])) {
            err_set(e, ISO_EBACKEND, "could not add controller \"%s\" to cgroup \"%s\"",
                    controllers[i], path);
            goto out;
        }
        present++;
    }
    if (present > 0) {
        rc = cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_IGNORE_MIGRATION);
        if (rc != 0 && rc != ECGROUPNOTEXIST) {
            cg_error(e, rc, "remove", path);
            goto out;
        }
    }
    ret = 0;
out:
    cgroup_free(&cg);
    free(path);
    return ret;
}

static int cg1_destroy_path(struct iso *iso, const char *name, struct err *e)
{
    int rc = cg_delete(iso, name, e);

    if (rc == 0 && cg1_exists(iso, name, e) == 1) {
        char *path = group_path(iso, name);
        rc = err_set(e, ISO_EBUSY, "could not remove cgroup \"%s\" from every hierarchy", path);
        free(path);
    }
    return rc;
}

static int cg1_start(struct iso *iso, const char *name, const struct iso_limits *lim,
                     const struct iso_exec *ex, pid_t *pid, struct err *e)
{
    char *path = group_path(iso, name);
    struct cgroup *cg = NULL;
    bool created = false;
    int rc, ret = -1;

    if (cg1_exists(iso, name, e) == 1) {
        err_set(e, ISO_EEXIST, "cgroup \"%s\" already exists", path);
        goto out;
    }
    cg = cg_build(path, lim, e);
    if (!cg)
        goto out;
    created = true;
    rc = cgroup_create_cgroup(cg, 0);
    if (rc != 0) {
        cg_error(e, rc, "create", path);
        goto out;
    }
    {
        struct attach_arg a = {cg, path};
        if (iso_spawn(ex, cg1_attach, &a, pid, e) != 0)
            goto out;
    }
    ret = 0;
out:
    if (ret != 0 && created) {
        struct err ignored = {0};
        (void)cg_delete(iso, name, &ignored);
    }
    cgroup_free(&cg);
    free(path);
    return ret;
}

struct clear_arg {
    const char *path;
    const char *file;
};

/* Remove the throttle rule of one device from a blkio file. */
static int clear_device(void *arg, const char *dev, struct err *e)
{
    const struct clear_arg *a = arg;
    char value[ISO_DEVICE_MAX + 4];
    struct cgroup *cg = cgroup_new_cgroup(a->path);
    struct cgroup_controller *c = cg ? cgroup_add_controller(cg, "blkio") : NULL;
    int rc;

    snprintf(value, sizeof(value), "%s 0", dev);
    rc = c ? cgroup_add_value_string(c, a->file, value) : ECGFAIL;
    if (rc == 0)
        rc = cgroup_modify_cgroup(cg);
    cgroup_free(&cg);
    return rc != 0 ? cg_error(e, rc, "update", a->path) : 0;
}

/* Remove throttle rules of devices other than the one in lim (the disk changed). */
static int clear_other_devices(const char *path, const struct iso_limits *lim, struct err *e)
{
    for (size_t f = 0; f < 4; f++) {
        struct clear_arg a = {path, blkio_files[f]};
        char *text = cg_read("blkio", path, blkio_files[f], e);
        int rc;

        if (!text)
            return -1;
        rc = iso_cg_other_devices(text, lim->device, clear_device, &a, e);
        free(text);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int cg1_update(struct iso *iso, const char *name, const struct iso_limits *lim,
                      struct err *e)
{
    char *path = group_path(iso, name);
    struct cgroup *cg = NULL;
    int rc, ret = -1;

    if (cg1_exists(iso, name, e) != 1) {
        err_set(e, ISO_ENOENT, "cgroup \"%s\" does not exist", path);
        goto out;
    }
    if (clear_other_devices(path, lim, e) != 0)
        goto out;
    cg = cg_build(path, lim, e);
    if (!cg)
        goto out;
    rc = cgroup_modify_cgroup(cg);
    if (rc != 0) {
        cg_error(e, rc, "update", path);
        goto out;
    }
    ret = 0;
out:
    cgroup_free(&cg);
    free(path);
    return ret;
}

static int read_u64(const char *controller, const char *path, const char *file, uint64_t *v,
                    struct err *e)
{
    char *text = cg_read(controller, path, file, e);

    if (!text)
        return -1;
    *v = strtoull(text, NULL, 10);
    free(text);
    return 0;
}

static int cg1_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
{
    char *path = group_path(iso, name);
    char *text = NULL;
    uint64_t ns = 0;
    int ret = -1;

    if (cg1_exists(iso, name, e) != 1) {
        err_set(e, ISO_ENOENT, "cgroup \"%s\" does not exist", path);
        goto out;
    }
    if (read_u64("cpuacct", path, "cpuacct.usage", &ns, e) != 0 ||
        read_u64("memory", path, "memory.usage_in_bytes", &u->memory_bytes, e) != 0)
        goto out;
    u->cpu_usec = ns / 1000;
    text = cg_read("memory", path, "memory.oom_control", e);
    if (!text)
        goto out;
    iso_cg_oom_kills(text, &u->oom_kills);
    free(text);
    /* "M:m Read N", "M:m Write N", ... "Total N" */
    text = cg_read("blkio", path, "blkio.throttle.io_service_bytes", e);
    if (!text)
        goto out;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char dev[64], op[16];
        unsigned long long v;
        if (sscanf(line, "%63s %15s %llu", dev, op, &v) != 3)
            continue;
        if (strcmp(op, "Read") == 0)
            u->io_read_bytes += v;
        else if (strcmp(op, "Write") == 0)
            u->io_write_bytes += v;
    }
    ret = 0;
out:
    free(text);
    free(path);
    return ret;
}

static int cg1_procs(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
{
    char *path = group_path(iso, name);
    int ret = -1;

    *pids = NULL;
    *n = 0;
    if (cg1_exists(iso, name, e) != 1) {
        err_set(e, ISO_ENOENT, "cgroup \"%s\" does not exist", path);
        goto out;
    }
    /* every hierarchy: a process moved out of one of them still belongs to the instance */
    for (size_t i = 0; i < NCTL; i++) {
        pid_t *got = NULL;
        int cnt = 0;
        int rc;

        if (!dir_exists(iso, i, name))
            continue;
        rc = cgroup_get_procs(path, (char *)controllers[i], &got, &cnt);
        if (rc != 0) {
            cg_error(e, rc, "list the processes of", path);
            goto out;
        }
        for (int k = 0; k < cnt; k++) {
            bool seen = false;
            for (size_t j = 0; j < *n && !seen; j++)
                seen = (*pids)[j] == got[k];
            if (seen)
                continue;
            *pids = xrealloc(*pids, (*n + 1) * sizeof(pid_t));
            (*pids)[(*n)++] = got[k];
        }
        free(got);
    }
    ret = 0;
out:
    if (ret != 0) {
        free(*pids);
        *pids = NULL;
        *n = 0;
    }
    free(path);
    return ret;
}

static int cg1_destroy(struct iso *iso, const char *name, struct err *e)
{
    return cg1_destroy_path(iso, name, e);
}

static int cg1_remove_root(struct iso *iso, struct err *e)
{
    const struct cg1 *p = iso->priv;

    /* refuse while instances remain, in any hierarchy */
    for (size_t i = 0; i < NCTL; i++) {
        char *path = xasprintf("%s/%s", p->mount[i], iso->root);
        bool child = iso_dir_has_subdirs(path);

        free(path);
        if (child)
            return err_set(e, ISO_EBUSY, "cannot remove cgroup \"%s\": instances remain in it",
                           iso->root);
    }
    return cg1_destroy_path(iso, NULL, e);
}

const struct iso_ops iso_cgroup1_ops = {
    .serial = true,
    .open = cg1_open,
    .close = cg1_close,
    .start = cg1_start,
    .update = cg1_update,
    .usage = cg1_usage,
    .exists = cg1_exists,
    .procs = cg1_procs,
    .main_pid = NULL,
    .kill_all = iso_kill_listed,
    .destroy = cg1_destroy,
    .remove_root = cg1_remove_root,
};
