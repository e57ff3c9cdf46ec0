/* Internal interface between isolation/isolation.c and its backends (cgroup1.c, cgroup2.c,
 * lxc.c), the helpers they share (host.c, cgcommon.c), plus the pure pieces the unit tests
 * check: rendering of limits, detection and device lookup against fake roots. Not for use
 * outside isolation/ and its tests. */
#ifndef ISOLATION_BACKEND_H
#define ISOLATION_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "isolation/isolation.h"
#include "lib/err.h"
#include "lib/osuser.h"
#include "lib/spawn.h"

/* One backend. Every function gets a validated name; errors fill e. */
struct iso_ops {
    /* true: the backend's library keeps global state (libcgroup): isolation.c serialises its
     * calls with iso->lock; false: its calls may run concurrently on different groups. */
    bool serial;
    int (*open)(struct iso *iso, const struct iso_options *o, struct err *e);
    void (*close)(struct iso *iso);
    int (*start)(struct iso *iso, const char *name, const struct iso_limits *lim,
                 const struct iso_exec *ex, pid_t *pid, struct err *e);
    int (*update)(struct iso *iso, const char *name, const struct iso_limits *lim, struct err *e);
    int (*usage)(struct iso *iso, const char *name, struct iso_usage *u, struct err *e);
    /* 1 = exists, 0 = does not, -1 = error */
    int (*exists)(struct iso *iso, const char *name, struct err *e);
    /* Every process of the group, zombies included (the caller filters); ISO_ENOENT when the
     * group does not exist. New array in *pids, freed by the caller. */
    int (*procs)(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e);
    /* Optional: the engine's pid; NULL = pick from procs with iso_pick_main(). */
    int (*main_pid)(struct iso *iso, const char *name, pid_t *pid, struct err *e);
    /* One round of SIGKILL for everything in the group. */
    int (*kill_all)(struct iso *iso, const char *name, struct err *e);
    /* Remove the group; the caller has checked it holds no live process (cgroups). */
    int (*destroy)(struct iso *iso, const char *name, struct err *e);
    int (*remove_root)(struct iso *iso, struct err *e);
};

struct iso {
    enum iso_kind kind;
    const struct iso_ops *ops;
    char *root;           /* owned */
    void *priv;           /* the backend's state, owned by it */
    pthread_mutex_t lock; /* serialises the calls of a serial backend */
};

extern const struct iso_ops iso_cgroup1_ops;
extern const struct iso_ops iso_cgroup2_ops;
extern const struct iso_ops iso_lxc_ops;

/* ---- rendering (pure) ---- */

/* The CFS period every backend uses (µs), and the smallest cpu_millis it can express (the
 * kernel's minimum quota is 1 ms per period). */
#define ISO_CPU_PERIOD_US 100000
#define ISO_CPU_MIN_MILLIS 10

/* Check limits: no negative number, cpu_millis 0 or >= ISO_CPU_MIN_MILLIS, device "" or
 * "major:minor", IO limits only with a device. */
int iso_limits_check(const struct iso_limits *lim, struct err *e);

/* One file to write in a cgroup. */
struct iso_setting {
    const char *controller; /* v1 controller ("cpu", "memory", "blkio"); NULL for v2 */
    const char *file;       /* e.g. "cpu.cfs_quota_us", "io.max" */
    char value[192];        /* exactly what is written */
};
#define ISO_SETTINGS_MAX 8

/* cgroup v1 files and values for lim, in the order they must be written: cfs period then quota
 * (-1 = unlimited), memory.limit_in_bytes (-1 = unlimited), and with a device the four
 * blkio.throttle.*_device files as "major:minor N" (0 removes the rule). Returns the count. */
size_t iso_cg1_render(const struct iso_limits *lim, struct iso_setting out[ISO_SETTINGS_MAX]);

/* cgroup v2 files and values: cpu.max "QUOTA PERIOD" or "max PERIOD", memory.max bytes or "max",
 * and with a device io.max "major:minor rbps=N wbps=N riops=N wiops=N" ("max" = unlimited).
 * Returns the count. */
size_t iso_cg2_render(const struct iso_limits *lim, struct iso_setting out[ISO_SETTINGS_MAX]);

/* Who the LXC init runs as, resolved on the host. */
struct iso_lxc_user {
    bool set; /* false: run as root (the init drops nothing) */
    uid_t uid;
    gid_t gid;
    const char *name;
    const char *home;
};

/* Everything the LXC domain XML needs besides the limits. */
struct iso_lxc_spec {
    const char *domain;    /* domain name */
    const char *init;      /* the program that carries lxc-init (isolation/lxc_init.h) */
    const char *program;   /* resolved absolute path of argv[0] */
    char *const *argv;     /* argv[1..] become init arguments after the program */
    const char *workdir;   /* never NULL */
    const char *log_path;  /* never NULL ("/dev/null" for none) */
    const char *path_env;  /* PATH inside the container */
    const char *blk_path;  /* "/dev/vda" for lim->device; NULL without IO limits */
    uint64_t host_mem_kib; /* <memory> (the hard limit comes from memtune) */
    struct iso_lxc_user user;
    char *const *env; /* "K=V" entries added to the init's environment; NULL = none */
    /* the agent's own ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS (NULL: unset), passed on
     * to the init, so that a sanitized build's reports from inside the container go where the
     * agent's go (scripts/run-integration.sh); the init unsets them before it execs the
     * engine */
    const char *sanitizer_options[3];
};

/* The transient domain's XML, in a new string the caller frees, or NULL (ISO_EINVAL) when an
 * argument cannot be passed (libvirt rejects an empty <initarg>). */
char *iso_lxc_render_xml(const struct iso_lxc_spec *spec, const struct iso_limits *lim,
                         struct err *e);

/* ---- host helpers (host.c) ---- */

/* iso_detect() against another mounts file (a unit test passes a fake one whose cgroup2 entry
 * points at a directory holding a fake cgroup.controllers). */
int iso_detect_at(const char *mounts_path, enum iso_kind *kind, struct err *e);

/* Whether d is "major:minor" (decimal numbers). */
bool iso_device_valid(const char *d);

/* iso_block_device() for a known device number against another sysfs root ("/sys"). */
int iso_block_device_sys(const char *sysfs, unsigned int major, unsigned int minor,
                         char out[ISO_DEVICE_MAX], struct err *e);

/* "/dev/<name>" of a "major:minor" block device (from /sys/dev/block/M:m/uevent), in a new string
 * the caller frees, or NULL. */
char *iso_device_path(const char *sysfs, const char *device, struct err *e);

/* argv0 itself when it contains '/', else its first executable match in PATH; a new string. */
char *iso_resolve_program(const char *argv0, struct err *e);

/* 0 when dir exists and is a directory (checked before anything is created). */
int iso_check_workdir(const char *dir, struct err *e);
/* Open (create 0640) the engine's log for appending, /dev/null for NULL: an fd or -1. The log
 * lives in a directory the engine's user owns: it is opened without following a symbolic link
 * (O_NOFOLLOW, O_NONBLOCK against a FIFO) and must be a regular file with one link. */
int iso_open_log(const char *path, struct err *e);
/* /dev/null for writing: an fd or -1. */
int iso_open_null(struct err *e);
/* The environment of a program run as u (NULL: as the caller), clean of the caller's
 * (docs/engines.md): PATH (the caller's, or a default), LANG=C, u's HOME, USER and LOGNAME
 * (spawn_env_new()), then the "K=V" entries of extra (NULL: none), which is what the engine
 * needs. A new array the caller frees with spawn_env_free(). */
char **iso_env_new(const struct osuser *u, char *const *extra);

/* Start the engine with spawn_start() (lib/spawn.h): the child starts a new session and waits
 * until attach(arg, pid, e) (the backend's hook, run here between fork and exec) has put it
 * into the group, then redirects its output to ex->log_path, becomes ex->user (uid, gid,
 * groups, HOME, USER, LOGNAME; the rest of the caller's environment is kept), changes to
 * ex->workdir and execs. Returns once the exec has succeeded (*pid set) or failed (the child
 * reaped, -1: attach's error, ISO_EINVAL for a bad program or directory, the lib/ code of a
 * missing user or of a failed step in the child). */
int iso_spawn(const struct iso_exec *ex, spawn_hook_fn attach, void *arg, pid_t *pid,
              struct err *e);

/* ---- processes of a group (isolation.c) ---- */

/* The engine among a group's processes: a live one whose parent is not in the group, the
 * session leader first, then the oldest. 0 when none is live. */
pid_t iso_pick_main(const pid_t *pids, size_t n);

/* ---- shared by the backends (cgcommon.c) ---- */

/* Whether word is one of the words of list, separated by any of seps. */
bool iso_word_in(const char *list, const char *word, const char *seps);

/* The rest of the first line of text that starts with prefix ("DEVNAME="), without its
 * newline, in a new string the caller frees; NULL when no line does. */
char *iso_line_value(const char *text, const char *prefix);
/* The number after prefix and blanks on the first line of text that starts with prefix
 * ("usage_usec 12", "MemTotal:  16318412 kB"); false when there is no such line or number. */
bool iso_line_u64(const char *text, const char *prefix, uint64_t *v);

/* The OOM-kill counter of a group from its "oom_kill N" line: memory.events (v2) and
 * memory.oom_control (v1, Linux 4.13 and later) spell it alike. *oom_kills is left as it is
 * (-1: unknown) when the kernel writes no such line. */
void iso_cg_oom_kills(const char *text, int64_t *oom_kills);

/* Called with one device ("major:minor") by iso_cg_other_devices(); 0 or -1 with e filled. */
typedef int (*iso_device_fn)(void *arg, const char *device, struct err *e);
/* Call fn for every device of a throttle file's text (blkio.throttle.*_device, io.max: the
 * first word of each line) other than keep, stopping at its first failure: to drop the rules
 * of a disk the instance no longer uses. */
int iso_cg_other_devices(const char *text, const char *keep, iso_device_fn fn, void *arg,
                         struct err *e);

/* Parse the pids of a cgroup.procs-style text into a new array. */
int iso_parse_pids(const char *text, pid_t **pids, size_t *n);

/* Whether directory path holds a subdirectory (a child group); false when it cannot be read. */
bool iso_dir_has_subdirs(const char *path);

/* One round of SIGKILL to every process ops->procs lists in the group; a group that does not
 * exist is not an error. The kill_all of a backend without a better way. */
int iso_kill_listed(struct iso *iso, const char *name, struct err *e);

#endif
