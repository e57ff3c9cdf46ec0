/* The cgroup v2 backend: one group "<root>/<name>" in the unified hierarchy with cpu.max,
 * memory.max and io.max, the engine joined through cgroup.procs.
 *
 * NOTES
 * - libcgroup finds the unified mount (cgroup_init, cgroup_get_subsys_mount_point). The group's
 *   files are written directly (mkdir, cgroup.subtree_control, the limit files, cgroup.procs):
 *   v2 is one hierarchy of plain files, and writing them ourselves lets the same code run
 *   against a fake root (iso_options.cgroup2_mount = an ordinary directory), where a unit test
 *   reads back exactly what was written. On a fake root (not a cgroup2 filesystem) files are
 *   created when missing and removed before rmdir, as the kernel does by itself.
 * - Verified only against a fake root: the project's machines mount cgroup v1 (docs/isolation.md).
 */
#include "isolation/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <libcgroup.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"

#define ENABLE_CONTROLLERS "+cpu +memory +io"
#define IO_UNLIMITED "rbps=max wbps=max riops=max wiops=max"

struct cg2 {
    char *mount; /* the unified hierarchy (or the fake root) */
    bool real;   /* mount is a cgroup2 filesystem */
};

static void fmt_limit(char *out, size_t n, int64_t v)
{
    if (v > 0)
        snprintf(out, n, "%" PRId64, v);
    else
        snprintf(out, n, "max");
}

size_t iso_cg2_render(const struct iso_limits *lim, struct iso_setting out[ISO_SETTINGS_MAX])
{
    size_t n = 0;

    out[n] = (struct iso_setting){NULL, "cpu.max", ""};
    if (lim->cpu_millis > 0)
        snprintf(out[n++].value, sizeof(out[0].value), "%" PRId64 " %d",
                 lim->cpu_millis * ISO_CPU_PERIOD_US / 1000, ISO_CPU_PERIOD_US);
    else
        snprintf(out[n++].value, sizeof(out[0].value), "max %d", ISO_CPU_PERIOD_US);
    out[n] = (struct iso_setting){NULL, "memory.max", ""};
    fmt_limit(out[n++].value, sizeof(out[0].value),
              lim->memory_mb > 0 ? lim->memory_mb * 1024 * 1024 : 0);
    if (lim->device[0] != '\0') {
        char rb[24], wb[24], ri[24], wi[24];
        fmt_limit(rb, sizeof(rb), lim->read_bps);
        fmt_limit(wb, sizeof(wb), lim->write_bps);
        fmt_limit(ri, sizeof(ri), lim->read_iops);
        fmt_limit(wi, sizeof(wi), lim->write_iops);
        out[n] = (struct iso_setting){NULL, "io.max", ""};
        snprintf(out[n++].value, sizeof(out[0].value), "%s rbps=%s wbps=%s riops=%s wiops=%s",
                 lim->device, rb, wb, ri, wi);
    }
    return n;
}

static char *gpath(const struct iso *iso, const char *name, const char *file)
{
    const struct cg2 *p = iso->priv;

    if (name && file)
        return xasprintf("%s/%s/%s/%s", p->mount, iso->root, name, file);
    if (name)
        return xasprintf("%s/%s/%s", p->mount, iso->root, name);
    if (file)
        return xasprintf("%s/%s/%s", p->mount, iso->root, file);
    return xasprintf("%s/%s", p->mount, iso->root);
}

static int write_file(const struct cg2 *p, const char *path, const char *value, struct err *e)
{
    int flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (p->real ? 0 : O_CREAT);
    int fd = open(path, flags, 0644);
    size_t len = strlen(value);
    ssize_t w;

    if (fd < 0)
        return err_set(e, ISO_ESYS, "could not open \"%s\": %s", path, strerror(errno));
    w = write(fd, value, len);
    if (w != (ssize_t)len) {
        int saved = w < 0 ? errno : EIO;
        close(fd);
        return err_set(e, ISO_ESYS, "could not write \"%s\" to \"%s\": %s", value, path,
                       strerror(saved));
    }
    if (close(fd) != 0)
        return err_set(e, ISO_ESYS, "could not write \"%s\" to \"%s\": %s", value, path,
                       strerror(errno));
    return 0;
}

static int cg2_open(struct iso *iso, const struct iso_options *o, struct err *e)
{
    struct cg2 *p = xcalloc(1, sizeof(*p));
    struct statfs sfs;
    char *ctl_path = NULL, *ctl = NULL;
    int ret = -1;

    if (o->cgroup2_mount) {
        p->mount = xstrdup(o->cgroup2_mount);
    } else {
        int rc = cgroup_init();
        if (rc == 0)
            rc = cgroup_get_subsys_mount_point("cpu", &p->mount);
        if (rc != 0) {
            err_set(e, ISO_EBACKEND, "cannot use cgroup v2: cannot find the cpu controller: %s",
                    cgroup_strerror(rc));
            goto out;
        }
    }
    if (statfs(p->mount, &sfs) != 0) {
        err_set(e, ISO_ESYS, "cannot use cgroup v2 at \"%s\": %s", p->mount, strerror(errno));
        goto out;
    }
    p->real = sfs.f_type == CGROUP2_SUPER_MAGIC;
    if (!p->real && !o->cgroup2_mount) {
        err_set(e, ISO_EBACKEND,
                "cannot use cgroup v2: the cpu controller is mounted at \"%s\", which is not a "
                "cgroup v2 hierarchy",
                p->mount);
        goto out;
    }
    ctl_path = xasprintf("%s/cgroup.controllers", p->mount);
    ctl = fileio_read(ctl_path, SIZE_MAX, 0, NULL);
    if (!ctl) {
        err_set(e, ISO_ESYS, "could not read \"%s\": %s", ctl_path, strerror(errno));
        goto out;
    }
    {
        const char *need[] = {"cpu", "memory", "io"};
        for (size_t i = 0; i < 3; i++) {
            if (!iso_word_in(ctl, need[i], " \n")) {
                err_set(e, ISO_EBACKEND,
                        "cannot use cgroup v2 at \"%s\": controller \"%s\" is not available",
                        p->mount, need[i]);
                goto out;
            }
        }
    }
    iso->priv = p;
    p = NULL;
    ret = 0;
out:
    if (p) {
        free(p->mount);
        free(p);
    }
    free(ctl_path);
    free(ctl);
    return ret;
}

static void cg2_close(struct iso *iso)
{
    struct cg2 *p = iso->priv;

    if (!p)
        return;
    free(p->mount);
    free(p);
    iso->priv = NULL;
}

static int cg2_exists(struct iso *iso, const char *name, struct err *e)
{
    char *path = gpath(iso, name, NULL);
    struct stat st;
    int ret = stat(path, &st) == 0 && S_ISDIR(st.st_mode);

    (void)e;
    free(path);
    return ret;
}

/* rmdir a group; on a fake root remove the files first. Missing is fine. */
static int remove_dir(const struct cg2 *p, const char *path, struct err *e)
{
    if (!p->real) {
        DIR *d;
        struct dirent *de;

        if (iso_dir_has_subdirs(path))
            return err_set(e, ISO_EBUSY, "could not remove cgroup \"%s\": it has children", path);
        d = opendir(path);
        if (!d)
            return errno == ENOENT
                       ? 0
                       : err_set(e, ISO_ESYS, "could not open \"%s\": %s", path, strerror(errno));
        while ((de = readdir(d)) != NULL) {
            if (de->d_type == DT_REG) {
                char *f = xasprintf("%s/%s", path, de->d_name);
                unlink(f);
                free(f);
            }
        }
        closedir(d);
    }
    if (rmdir(path) != 0 && errno != ENOENT)
        return err_set(e, errno == EBUSY || errno == ENOTEMPTY ? ISO_EBUSY : ISO_ESYS,
                       "could not remove cgroup \"%s\": %s", path, strerror(errno));
    return 0;
}

static int write_settings(struct iso *iso, const char *name, const struct iso_limits *lim,
                          struct err *e)
{
    struct iso_setting set[ISO_SETTINGS_MAX];
    size_t n = iso_cg2_render(lim, set);

    for (size_t i = 0; i < n; i++) {
        char *path = gpath(iso, name, set[i].file);
        int rc = write_file(iso->priv, path, set[i].value, e);
        free(path);
        if (rc != 0)
            return -1;
    }
    return 0;
}

struct attach_arg {
    const struct cg2 *p;
    const char *procs;
};

static int cg2_attach(void *arg, pid_t pid, struct err *e)
{
    const struct attach_arg *a = arg;
    char buf[24];

    snprintf(buf, sizeof(buf), "%d", (int)pid);
    return write_file(a->p, a->procs, buf, e);
}

static int cg2_start(struct iso *iso, const char *name, const struct iso_limits *lim,
                     const struct iso_exec *ex, pid_t *pid, struct err *e)
{
    struct cg2 *p = iso->priv;
    char *top = xasprintf("%s/cgroup.subtree_control", p->mount);
    char *parent = gpath(iso, NULL, NULL);
    char *parent_ctl = gpath(iso, NULL, "cgroup.subtree_control");
    char *group = gpath(iso, name, NULL);
    char *procs = gpath(iso, name, "cgroup.procs");
    struct attach_arg a = {p, procs};
    bool created = false;
    int ret = -1;

    if (cg2_exists(iso, name, e) == 1) {
        err_set(e, ISO_EEXIST, "cgroup \"%s\" already exists", group);
        goto out;
    }
    /* the controllers must be enabled in every ancestor's subtree_control */
    if (write_file(p, top, ENABLE_CONTROLLERS, e) != 0)
        goto out;
    if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
        err_set(e, ISO_ESYS, "could not create cgroup \"%s\": %s", parent, strerror(errno));
        goto out;
    }
    if (write_file(p, parent_ctl, ENABLE_CONTROLLERS, e) != 0)
        goto out;
    if (mkdir(group, 0755) != 0) {
        err_set(e, errno == EEXIST ? ISO_EEXIST : ISO_ESYS, "could not create cgroup \"%s\": %s",
                group, strerror(errno));
        goto out;
    }
    created = true;
    if (write_settings(iso, name, lim, e) != 0)
        goto out;
    if (iso_spawn(ex, cg2_attach, &a, pid, e) != 0)
        goto out;
    ret = 0;
out:
    if (ret != 0 && created) {
        struct err ignored = {0};
        (void)remove_dir(p, group, &ignored);
    }
    free(top);
    free(parent);
    free(parent_ctl);
    free(group);
    free(procs);
    return ret;
}

struct unlimit_arg {
    const struct cg2 *p;
    const char *iomax;
};

/* Lift every IO limit of one device in io.max. */
static int unlimit_device(void *arg, const char *dev, struct err *e)
{
    const struct unlimit_arg *a = arg;
    char value[ISO_DEVICE_MAX + sizeof(IO_UNLIMITED) + 2];

    snprintf(value, sizeof(value), "%s %s", dev, IO_UNLIMITED);
    return write_file(a->p, a->iomax, value, e);
}

static int cg2_update(struct iso *iso, const char *name, const struct iso_limits *lim,
                      struct err *e)
{
    char *iomax = NULL, *text = NULL;
    int ret = -1;

    if (cg2_exists(iso, name, e) != 1) {
        char *g = gpath(iso, name, NULL);
        err_set(e, ISO_ENOENT, "cgroup \"%s\" does not exist", g);
        free(g);
        goto out;
    }
    /* drop the rules of any other disk (the data directory moved) */
    iomax = gpath(iso, name, "io.max");
    text = fileio_read(iomax, SIZE_MAX, 0, NULL);
    {
        struct unlimit_arg a = {iso->priv, iomax};
        if (text && iso_cg_other_devices(text, lim->device, unlimit_device, &a, e) != 0)
            goto out;
    }
    ret = write_settings(iso, name, lim, e);
out:
    free(iomax);
    free(text);
    return ret;
}

static char *read_group_file(struct iso *iso, const char *name, const char *file, struct err *e)
{
    char *path = gpath(iso, name, file);
    char *text = fileio_read(path, SIZE_MAX, 0, NULL);

    if (!text)
        err_set(e, errno == ENOENT ? ISO_ENOENT : ISO_ESYS, "could not read \"%s\": %s", path,
                strerror(errno));
    free(path);
    return text;
}

static int cg2_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
{
    char *text = NULL;
    int ret = -1;

    text = read_group_file(iso, name, "cpu.stat", e);
    if (!text)
        goto out;
    iso_line_u64(text, "usage_usec ", &u->cpu_usec);
    free(text);
    text = read_group_file(iso, name, "memory.current", e);
    if (!text)
        goto out;
    u->memory_bytes = strtoull(text, NULL, 10);
    free(text);
    text = read_group_file(iso, name, "memory.events", e);
    if (!text)
        goto out;
    iso_cg_oom_kills(text, &u->oom_kills);
    free(text);
    /* "M:m rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device */
    text = read_group_file(iso, name, "io.stat", e);
    if (!text)
        goto out;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        for (char *s2 = NULL, *kv = strtok_r(line, " ", &s2); kv; kv = strtok_r(NULL, " ", &s2)) {
            unsigned long long v;
            if (sscanf(kv, "rbytes=%llu", &v) == 1)
                u->io_read_bytes += v;
            else if (sscanf(kv, "wbytes=%llu", &v) == 1)
                u->io_write_bytes += v;
        }
    }
    ret = 0;
out:
    free(text);
    return ret;
}

static int cg2_procs(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
{
    char *text = read_group_file(iso, name, "cgroup.procs", e);

    *pids = NULL;
    *n = 0;
    if (!text)
        return -1;
    iso_parse_pids(text, pids, n);
    free(text);
    return 0;
}

static int cg2_kill_all(struct iso *iso, const char *name, struct err *e)
{
    const struct cg2 *p = iso->priv;
    char *kill_file = gpath(iso, name, "cgroup.kill");
    int ret;

    /* cgroup.kill (Linux 5.14) kills the whole group at once, forks included */
    if (p->real && access(kill_file, W_OK) == 0)
        ret = write_file(p, kill_file, "1", e);
    else
        ret = iso_kill_listed(iso, name, e);
    free(kill_file);
    return ret;
}

static int cg2_destroy(struct iso *iso, const char *name, struct err *e)
{
    char *group = gpath(iso, name, NULL);
    int rc = remove_dir(iso->priv, group, e);

    free(group);
    return rc;
}

static int cg2_remove_root(struct iso *iso, struct err *e)
{
    char *parent = gpath(iso, NULL, NULL);
    int rc = remove_dir(iso->priv, parent, e);

    free(parent);
    return rc;
}

const struct iso_ops iso_cgroup2_ops = {
    .serial = false,
    .open = cg2_open,
    .close = cg2_close,
    .start = cg2_start,
    .update = cg2_update,
    .usage = cg2_usage,
    .exists = cg2_exists,
    .procs = cg2_procs,
    .main_pid = NULL,
    .kill_all = cg2_kill_all,
    .destroy = cg2_destroy,
    .remove_root = cg2_remove_root,
};
