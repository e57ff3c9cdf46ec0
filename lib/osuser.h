/* OS users looked up by name, resolved before a fork so that the child only makes system calls
 * (lib/spawn.h runs programs as them). */
#ifndef LIB_OSUSER_H
#define LIB_OSUSER_H

#include <limits.h>
#include <sys/types.h>

#include "lib/err.h"

/* Sizes of the copied strings, with their NUL. */
#define OSUSER_NAME_MAX 256
#define OSUSER_HOME_MAX PATH_MAX

/* One user of the password database. A plain value: copy it, no free. */
struct osuser {
    char name[OSUSER_NAME_MAX]; /* the name as the database spells it */
    char home[OSUSER_HOME_MAX]; /* the home directory; "/" when the entry has none */
    uid_t uid;
    gid_t gid; /* the primary group */
};

/* Look up user name. LIB_E_NOENT "user "x" does not exist" when there is no such user,
 * LIB_E_SYSTEM when the lookup failed, LIB_E_INVALID when its name or home does not fit. */
int osuser_lookup(const char *name, struct osuser *u, struct err *e)
    __attribute__((warn_unused_result));

/* The groups of u as initgroups() would set them (its primary group and every group that
 * lists it), in a new array the caller frees; *n is their count. */
int osuser_groups(const struct osuser *u, gid_t **groups, int *n, struct err *e)
    __attribute__((warn_unused_result));

#endif
