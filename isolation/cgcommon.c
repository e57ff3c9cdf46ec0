/* What the isolation backends share besides the host helpers: values read out of cgroup, /proc
 * and /sys text files (the OOM-kill counter of both cgroup versions, cpu.stat, meminfo,
 * uevent), the devices of a throttle file, cgroup.procs, child groups and the SIGKILL round of
 * the cgroup backends. Pure text functions take const text and never modify it. */
#include "isolation/backend.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

bool iso_word_in(const char *list, const char *word, const char *seps)
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

char *iso_line_value(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);

    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n >= pl && strncmp(p, prefix, pl) == 0)
            return xstrndup(p + pl, n - pl);
        p += n;
        if (*p == '\n')
            p++;
    }
    return NULL;
}

bool iso_line_u64(const char *text, const char *prefix, uint64_t *v)
{
    char *s = iso_line_value(text, prefix), *end;
    const char *num;
    unsigned long long x;
    bool ok = false;

    if (!s)
        return false;
    num = s + strspn(s, " \t");
    if (*num >= '0' && *num <= '9') {
        errno = 0;
        x = strtoull(num, &end, 10);
        ok = errno == 0 && end != num;
        if (ok)
            *v = x;
    }
    free(s);
    return ok;
}

void iso_cg_oom_kills(const char *text, int64_t *oom_kills)
{
    uint64_t v;

    /* "oom_kill N": not "oom_kill_disable" (memory.oom_control) */
    if (iso_line_u64(text, "oom_kill ", &v) && v <= INT64_MAX)
        *oom_kills = (int64_t)v;
}

int iso_cg_other_devices(const char *text, const char *keep, iso_device_fn fn, void *arg,
                         struct err *e)
{
    for (const char *p = text; p && *p;) {
        size_t n, w;

        p += strspn(p, " \t");
        n = strcspn(p, "\n");
        w = strcspn(p, " \t\n");
        if (w > 0 && w < ISO_DEVICE_MAX) {
            char dev[ISO_DEVICE_MAX];
            memcpy(dev, p, w);
            dev[w] = '\0';
            if (strcmp(dev, keep) != 0 && fn(arg, dev, e) != 0)
                return -1;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    return 0;
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

bool iso_dir_has_subdirs(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    bool child = false;

    while (d && !child && (de = readdir(d)) != NULL)
        child =
            de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return child;
}

int iso_kill_listed(struct iso *iso, const char *name, struct err *e)
{
    pid_t *pids = NULL;
    size_t n = 0;
    int ret = 0;

    if (iso->ops->procs(iso, name, &pids, &n, e) != 0) {
        if (e->code == ISO_ENOENT)
            err_clear(e);
        else
            ret = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
out:
    free(pids);
    return ret;
}
