/* Deleted members' data moved aside, and removed after the keep time (agent/quarantine.h).
 *
 * NOTES: quarantine_move() runs on a delete job's worker thread, quarantine_sweep() on the
 * janitor thread (agent/agent.c); neither holds the agent's lock. Nothing here logs. */
#include "agent/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

#define REMOVE_TIMEOUT_MS (30 * 60 * 1000)
#define MAX_SAME_SECOND 100

/* data_dir/quarantine, created root-only when missing. A new string, or NULL with e set. */
static char *quarantine_dir(const char *data_dir, struct err *e)
{
    char *q = xasprintf("%s/quarantine", data_dir);

    if ((mkdir(q, 0700) < 0 && errno != EEXIST) || chmod(q, 0700) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not create directory \"%s\": %s", q, strerror(errno));
        free(q);
        return NULL;
    }
    return q;
}

int quarantine_move(const char *data_dir, const char *src, int64_t id, time_t now, bool *moved,
                    struct err *e)
{
    struct stat st;
    char *q = NULL, *dst = NULL;
    int rc = -1;

    *moved = false;
    if (lstat(src, &st) < 0 && errno == ENOENT)
        return 0;
    q = quarantine_dir(data_dir, e);
    if (!q)
        goto out;
    for (int n = 0; n < MAX_SAME_SECOND; n++) {
        free(dst);
        dst = n == 0 ? xasprintf("%s/%" PRId64 "-%lld", q, id, (long long)now)
                     : xasprintf("%s/%" PRId64 "-%lld-%d", q, id, (long long)now, n);
        /* RENAME_NOREPLACE: never over an entry of the same second */
        if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
            *moved = true;
            rc = 0;
            goto out;
        }
        if (errno != EEXIST)
            break;
    }
    err_set(e, AGENT_E_SYSTEM, "could not move \"%s\" to \"%s\": %s", src, dst, strerror(errno));
out:
    free(q);
    free(dst);
    return rc;
}

bool quarantine_entry_time(const char *name, time_t *when)
{
    char *end;
    long long id, t;

    errno = 0;
    id = strtoll(name, &end, 10);
    if (errno || end == name || id <= 0 || *end != '-')
        return false;
    name = end + 1;
    t = strtoll(name, &end, 10);
    if (errno || end == name || t < 0 || (*end != '\0' && *end != '-'))
        return false;
    *when = (time_t)t;
    return true;
}

int quarantine_sweep(const char *data_dir, time_t now, int64_t keep_s, struct err *e)
{
    char *q = xasprintf("%s/quarantine", data_dir);
    DIR *d = opendir(q);
    struct dirent *de;
    int removed = 0;

    while (d && (de = readdir(d)) != NULL) {
        struct spawn_opts o = SPAWN_OPTS_INIT;
        time_t when;
        char *path;
        char *argv[] = {"/bin/rm", "-rf", "--one-file-system", "--", NULL, NULL};
        if (!quarantine_entry_time(de->d_name, &when) || (int64_t)(now - when) < keep_s)
            continue;
        path = xasprintf("%s/%s", q, de->d_name);
        argv[4] = path;
        o.argv = argv;
        o.workdir = "/";
        if (spawn_run_tool(&o, REMOVE_TIMEOUT_MS, "rm", e) == 0)
            removed++;
        free(path);
    }
    if (d)
        closedir(d);
    free(q);
    return removed;
}
