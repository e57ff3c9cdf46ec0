/* OS users from the password and group databases. */
#include "lib/osuser.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"

int osuser_lookup(const char *name, struct osuser *u, struct err *e)
{
    struct passwd pw, *res = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    char *strbuf = NULL;
    const char *home;
    int r, rc = -1;

    memset(u, 0, sizeof(*u));
    if (!name || !name[0]) {
        err_set(e, LIB_E_INVALID, "invalid user name \"\"");
        goto out;
    }
    if (size < 16384)
        size = 16384;
    strbuf = xmalloc((size_t)size);
    do
        r = getpwnam_r(name, &pw, strbuf, (size_t)size, &res);
    while (r == EINTR);
    if (!res) {
        /* getpwnam_r() answers 0 or one of these for "no such user", depending on the source */
        if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
            err_set(e, LIB_E_NOENT, "user \"%s\" does not exist", name);
        else
            err_set(e, LIB_E_SYSTEM, "could not look up user \"%s\": %s", name, strerror(r));
        goto out;
    }
    home = pw.pw_dir && pw.pw_dir[0] ? pw.pw_dir : "/";
    if (snprintf(u->name, sizeof(u->name), "%s", pw.pw_name) >= (int)sizeof(u->name) ||
        snprintf(u->home, sizeof(u->home), "%s", home) >= (int)sizeof(u->home)) {
        err_set(e, LIB_E_INVALID, "user \"%s\": name or home directory too long", name);
        goto out;
    }
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    rc = 0;
out:
    if (rc != 0)
        memset(u, 0, sizeof(*u));
    free(strbuf);
    return rc;
}

int osuser_groups(const struct osuser *u, gid_t **groups, int *n, struct err *e)
{
    int ng = 16;
    gid_t *list = xmalloc(sizeof(gid_t) * (size_t)ng);

    /* getgrouplist() says how many there are when the array is too small */
    while (getgrouplist(u->name, u->gid, list, &ng) < 0) {
        if (ng <= 0 || ng > 65536) {
            free(list);
            *groups = NULL;
            *n = 0;
            return err_set(e, LIB_E_SYSTEM, "could not list the groups of user \"%s\"", u->name);
        }
        free(list);
        list = xmalloc(sizeof(gid_t) * (size_t)ng);
    }
    *groups = list;
    *n = ng;
    return 0;
}
