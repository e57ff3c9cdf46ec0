/* The container init of the LXC backend (isolation/lxc_init.h): what the cgroup backends' spawn
 * does between fork and exec (lib/spawn.c), as a program, because libvirt starts the init
 * itself. No shell: every argument reaches execv() as it is.
 *
 * NOTES
 * - Only libc. The container shares the host's filesystem, so /etc/passwd and /etc/group give
 *   the user's supplementary groups (initgroups); a uid without a passwd entry gets none.
 * - The log is opened after the privilege drop, with O_NOFOLLOW and without O_CREAT: the agent
 *   created it (checked) and gave it to the user, so a link planted in its directory gets no
 *   more than the user's own rights.
 * - The environment is libvirt's initenv (isolation/lxc.c): the engine's, but for a sanitized
 *   agent's ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS, which are this init's and are unset
 *   before the exec. */
#include "isolation/lxc_init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "dbaas lxc-init: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
            strerror(errno));
    return 127;
}

/* A decimal id in [0, 2^31). */
static int parse_id(const char *s, unsigned int *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > 0x7fffffffUL)
        return -1;
    *out = (unsigned int)v;
    return 0;
}

/* Whether the process holds any effective capability (CapEff in /proc/self/status). */
static int has_capabilities(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    int has = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "CapEff:", 7) == 0) {
            has = strtoull(line + 7, NULL, 16) != 0;
            break;
        }
    fclose(f);
    return has;
}

static int drop_to(uid_t uid, gid_t gid)
{
    struct passwd *pw = getpwuid(uid);

    if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) != 0)
        return fail("could not set the supplementary groups of uid", pw ? pw->pw_name : NULL);
    if (setgid(gid) != 0)
        return fail("could not set the gid", NULL);
    if (setuid(uid) != 0)
        return fail("could not set the uid", NULL);
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        (uid != 0 && (setuid(0) == 0 || has_capabilities() != 0))) {
        errno = EPERM;
        return fail("root privileges are not gone", NULL);
    }
    return 0;
}

int lxc_init_main(int argc, char **argv)
{
    unsigned int uid = 0, gid = 0;
    bool user = false;
    int i = 1, fd, rc;

    umask(077);
    if (i + 3 < argc && strcmp(argv[i], "--uid") == 0 && strcmp(argv[i + 2], "--gid") == 0) {
        if (parse_id(argv[i + 1], &uid) < 0 || parse_id(argv[i + 3], &gid) < 0) {
            fprintf(stderr, "dbaas lxc-init: invalid --uid or --gid\n");
            return 127;
        }
        user = true;
        i += 4;
    }
    if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0 || argv[i + 2][0] != '/') {
        fprintf(stderr, "dbaas lxc-init: usage: lxc-init [--uid U --gid G] LOG -- /ENGINE [ARG...]"
                        " (the container init of dbaas-agent's LXC backend)\n");
        return 127;
    }
    if (user && (rc = drop_to((uid_t)uid, (gid_t)gid)) != 0)
        return rc;
    fd = open(argv[i], O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return fail("could not open the log", argv[i]);
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        return fail("could not redirect to the log", argv[i]);
    close(fd);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
        return fail("could not read from", "/dev/null");
    close(fd);
    /* a sanitized agent's options (isolation/lxc.c) were this init's, read when it started:
     * the engine gets none of the agent's environment */
    unsetenv("ASAN_OPTIONS");
    unsetenv("UBSAN_OPTIONS");
    unsetenv("LSAN_OPTIONS");
    execv(argv[i + 2], argv + i + 2);
    return fail("could not execute", argv[i + 2]);
}
