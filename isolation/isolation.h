/* Per-instance isolation for the node agent: one interface, three backends chosen at run time
 * (cgroup v1 and cgroup v2 through libcgroup, libvirt LXC through libvirt's C API).
 *
 * An instance is a named group (a cgroup in every hierarchy, or an LXC domain) holding one engine
 * process and its children, with CPU, memory and IO limits. The agent starts it, resizes it live,
 * reads its usage, re-adopts it after its own restart, stops it and destroys it.
 *
 * NOTES
 * - Library style: nothing is logged; every fallible call fills a struct err (codes below).
 * - Thread-safe: one struct iso per process (libcgroup keeps global state), shared by the
 *   caller's threads. Calls on different groups run concurrently (a backend whose library is
 *   not thread-safe has each call serialised for its duration only, never across the waits of
 *   iso_stop()); the caller keeps calls on one group from overlapping where order matters
 *   (start, stop, destroy).
 * - Reaping: with the cgroup backends the engine is a child of the caller, who reaps it
 *   (waitpid); iso_stop() never reaps. With LXC the engine is a child of libvirt's controller.
 * - Every action is idempotent where it can be: iso_destroy() of a missing group succeeds,
 *   iso_stop() of an empty group succeeds. */
#ifndef ISOLATION_ISOLATION_H
#define ISOLATION_ISOLATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* Error codes set in struct err. Starting a process may also fail with a code of lib/: a
 * missing user (LIB_E_NOENT, lib/osuser.h) or a step of the child before exec (LIB_E_SYSTEM,
 * lib/spawn.h). */
enum {
    ISO_EINVAL = ERR_BASE_ISO + 1, /* bad argument: name, limits, kind */
    ISO_ENOENT,                    /* no such group or domain */
    ISO_EEXIST,                    /* the group or domain already exists */
    ISO_ESYS,                      /* a system call failed (message carries strerror) */
    ISO_EBACKEND,                  /* libcgroup or libvirt refused (message carries their text) */
    ISO_EBUSY,                     /* processes are still running in the group */
};

enum iso_kind {
    ISO_CGROUP,    /* cgroup v1 or v2, whichever the host mounts (resolved by iso_open) */
    ISO_CGROUP_V1, /* cgroup v1 hierarchies through libcgroup */
    ISO_CGROUP_V2, /* the unified cgroup v2 hierarchy */
    ISO_LXC,       /* one libvirt LXC domain per instance */
};

/* Largest "major:minor" string, with its NUL. */
#define ISO_DEVICE_MAX 32

/* Resource limits; 0 means unlimited for every number. */
struct iso_limits {
    int64_t cpu_millis; /* 1000 = one full CPU */
    int64_t memory_mb;  /* MiB */
    int64_t read_iops, write_iops;
    int64_t read_bps, write_bps; /* bytes per second */
    char device[ISO_DEVICE_MAX]; /* "major:minor" of the whole disk that IO limits apply to
                                    (see iso_block_device); "" = no IO limits */
};

/* Usage counters of one instance, cumulative since it started. */
struct iso_usage {
    uint64_t cpu_usec;       /* CPU time of every process in the group */
    uint64_t memory_bytes;   /* memory charged to the group now (RSS + page cache) */
    uint64_t io_read_bytes;  /* bytes read from block devices (direct and page cache misses) */
    uint64_t io_write_bytes; /* bytes written to block devices (see docs/isolation.md) */
    int64_t oom_kills;       /* processes killed by the OOM killer in the group; -1 = unknown */
};

/* What to run. */
struct iso_exec {
    char *const *argv;    /* argv[0] is an absolute path or a name looked up in PATH; NULL-ended */
    const char *user;     /* run as this OS user (uid, gid, supplementary groups, HOME, USER,
                             LOGNAME); NULL = as the caller */
    const char *workdir;  /* working directory; NULL = "/" */
    const char *log_path; /* stdout and stderr are appended here (created 0640; a link, a FIFO or
                             a file with several links is refused); NULL = /dev/null */
    char *const *env;     /* "K=V" entries added to the program's environment (after HOME, USER,
                             LOGNAME and PATH); NULL = none */
};

/* Backend options; NULL or zeroed fields take the defaults. */
struct iso_options {
    /* cgroup v2: the directory of the unified hierarchy; NULL = the host's mount. A unit test may
     * point it at an ordinary directory to see exactly what the backend writes. */
    const char *cgroup2_mount;
    /* LXC: the libvirt URI; NULL = "lxc:///system". */
    const char *libvirt_uri;
    /* LXC: the absolute path of the program whose "lxc-init" subcommand calls lxc_init_main()
     * (isolation/lxc_init.h): the containers' init. Required for LXC. */
    const char *lxc_init;
};

struct iso;

/* "cgroup", "cgroup-v1", "cgroup-v2" or "lxc" to a kind; -1 (ISO_EINVAL) for anything else. */
int iso_kind_parse(const char *s, enum iso_kind *kind, struct err *e)
    __attribute__((warn_unused_result));
/* The name iso_kind_parse() accepts for a kind (a static string). */
const char *iso_kind_name(enum iso_kind kind);

/* Which cgroup version holds the cpu and memory controllers on this host: ISO_CGROUP_V2 when the
 * unified hierarchy has both, else ISO_CGROUP_V1 when v1 hierarchies mount both. -1 when neither.
 */
int iso_detect(enum iso_kind *kind, struct err *e) __attribute__((warn_unused_result));

/* The "major:minor" of the whole disk holding path (for a partition, its parent disk, since the
 * block throttles apply to whole disks). -1 (ISO_ENOENT) when path is not on a block device
 * (tmpfs, overlayfs, NFS). */
int iso_block_device(const char *path, char out[ISO_DEVICE_MAX], struct err *e)
    __attribute__((warn_unused_result));

/* Open a backend. root names the parent of every instance: the parent cgroup below each
 * hierarchy's root (e.g. "dbaas" -> /sys/fs/cgroup/cpu/dbaas/<name>) or the LXC domain name
 * prefix ("dbaas" -> domain "dbaas-<name>"). ISO_CGROUP resolves to v1 or v2 with iso_detect().
 * opts may be NULL. Returns a handle the caller frees with iso_close(), or NULL. */
struct iso *iso_open(enum iso_kind kind, const char *root, const struct iso_options *opts,
                     struct err *e) __attribute__((warn_unused_result));
/* Release the handle (instances keep running). Accepts NULL. */
void iso_close(struct iso *iso);
/* The resolved kind of an open handle (never ISO_CGROUP). */
enum iso_kind iso_kind_of(const struct iso *iso);

/* Create the group "name" (letters, digits, '_', '-', '.'; at most 48 characters) with the
 * limits and start ex->argv inside it. The process joins the group before it execs, in its own
 * session, with its output appended to ex->log_path. *pid is the engine's pid as the host sees
 * it. On any failure nothing is left behind: no process, no group, no domain. ISO_EEXIST when
 * the group already exists. */
int iso_start(struct iso *iso, const char *name, const struct iso_limits *lim,
              const struct iso_exec *ex, pid_t *pid, struct err *e)
    __attribute__((warn_unused_result));

/* Apply new limits to a running instance without restarting it (same pid). Shrinking memory
 * below what the group uses may fail with the kernel's EBUSY. */
int iso_update(struct iso *iso, const char *name, const struct iso_limits *lim, struct err *e)
    __attribute__((warn_unused_result));

/* Read the usage counters of an instance. */
int iso_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
    __attribute__((warn_unused_result));

/* Whether the group (or domain) exists; false on errors too. */
bool iso_exists(struct iso *iso, const char *name);

/* The engine's pid of an existing instance, without starting anything: for cgroups the live
 * process of the group whose parent is outside it (the session leader first); for LXC the
 * domain's init. *pid = 0 when the group exists but holds no live process. ISO_ENOENT when the
 * group does not exist. */
int iso_main_pid(struct iso *iso, const char *name, pid_t *pid, struct err *e)
    __attribute__((warn_unused_result));

/* Every live (non-zombie) process of an instance, in a new array the caller frees (NULL when
 * *n is 0). ISO_ENOENT when the group does not exist. */
int iso_pids(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
    __attribute__((warn_unused_result));

/* Send sig to the engine, wait up to deadline_ms for every process of the group to exit, then
 * SIGKILL whatever is left. 0 when the group holds no live process at the end (or does not
 * exist); ISO_EBUSY when processes survived SIGKILL for 5 s. Zombies count as gone; the caller
 * reaps its child. Note: with LXC the engine is the PID namespace's init, which gets only the
 * signals it has a handler for (SIGKILL comes after the deadline anyway). */
int iso_stop(struct iso *iso, const char *name, int sig, int deadline_ms, struct err *e)
    __attribute__((warn_unused_result));

/* Remove the group from every hierarchy (or destroy and undefine the domain). Refuses with
 * ISO_EBUSY while live processes remain in a cgroup (call iso_stop first); LXC destroys the
 * domain with whatever runs in it. A missing group is not an error. */
int iso_destroy(struct iso *iso, const char *name, struct err *e)
    __attribute__((warn_unused_result));

/* Remove the (empty) parent group "root" from every hierarchy; nothing to do for LXC. For tests
 * and uninstalls. A missing parent is not an error; ISO_EBUSY when instances remain. */
int iso_remove_root(struct iso *iso, struct err *e) __attribute__((warn_unused_result));

#endif
