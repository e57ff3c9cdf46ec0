/* The fence guard (docs/agent.md, "Fencing"): a process of its own, `dbaas-agent fence-guard`,
 * that the agent feeds over a pipe after every lease grant with a deadline on CLOCK_MONOTONIC
 * (the lease's end minus FENCE_MARGIN_MS) and the isolation groups of the members to fence
 * (primaries of instances with replicas). When the deadline passes without a newer message
 * (the agent hung, stopped with SIGSTOP, killed, or cut off from dbaasd: all the same) it
 * SIGKILLs every process of those groups until they are empty, logs `event=fenced`, and leaves
 * a marker per member in DATA/fenced/ that the agent reads. At the pipe's end (the agent is
 * gone) it still fires at a pending deadline, then exits.
 *
 * NOTES: the message codec, the deadline decision and the group lookup are pure or read only
 * /proc and the cgroup files, so that tests/unit/test_fence.c runs the guard itself against a
 * fake group directory. Nothing here logs except fence_guard_main(), the guard process's own
 * main loop. */
#ifndef AGENT_FENCE_H
#define AGENT_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/err.h"

#define FENCE_MARGIN_MS 100   /* the guard fires this long before the lease's end */
#define FENCE_MAX_TARGETS 64  /* groups in one message */
#define FENCE_DIR_MAX 512     /* a group directory's path, with its NUL */
#define FENCE_FRAME_MAX 65536 /* the largest frame the guard accepts */

/* One group to empty when the deadline passes: the member it belongs to and the directory of
 * its group in a cgroup hierarchy (its cgroup.procs and those of its subgroups are read). */
struct fence_target {
    int64_t id;
    char dir[FENCE_DIR_MAX];
};

/* What the agent tells the guard. deadline_ms 0: disarmed (nothing fires). */
struct fence_msg {
    int64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds (clock_now_ms(): system-wide) */
    int n;
    struct fence_target t[FENCE_MAX_TARGETS];
};

/* Append m to out as one frame: "DBF1", the payload's length (4 bytes, big-endian), then the
 * payload, text: "<deadline_ms>\n" and one "<member id> <dir>\n" per target. */
void fence_msg_encode(const struct fence_msg *m, struct buf *out);
/* Decode the frame at the start of buf (n bytes). Returns the frame's length (> 0) with *m
 * filled, 0 when buf holds only part of a frame, -1 with e set when it is not a frame (the
 * guard then drops everything it holds). */
long fence_msg_decode(const unsigned char *buf, size_t n, struct fence_msg *m, struct err *e)
    __attribute__((warn_unused_result));

/* The guard's decision at now_ms with armed the last message: how long to wait for the next
 * message (-1: forever, 0: due now). */
int64_t fence_wait_ms(const struct fence_msg *armed, int64_t now_ms);
/* Whether armed is due: armed and its deadline is not after now_ms. */
bool fence_due(const struct fence_msg *armed, int64_t now_ms);

/* SIGKILL every process listed in dir/cgroup.procs and in its subgroups' (and write
 * dir/cgroup.kill where it exists), round after round until none is left or about 2 s passed.
 * Never kills pid 1, the caller or its parent. Sets *killed to the number of kills sent.
 * 0 when the group is empty (or gone) at the end, -1 with e set when processes remain. */
int fence_kill_group(const char *dir, int *killed, struct err *e)
    __attribute__((warn_unused_result));

/* The directory of pid's group in the cgroup hierarchy that holds every process: with cgroup
 * v1 the memory controller's (else the pids controller's), with cgroup v2 the unified one. Read
 * from /proc/PID/cgroup and /proc/self/mountinfo; for an LXC domain pass its init's pid (the
 * domain's processes share libvirt's machine group). Refuses a hierarchy's root and the
 * caller's own group (fencing them would kill the host or the agent). 0 / -1 with e set. */
int fence_group_dir(pid_t pid, char out[FENCE_DIR_MAX], struct err *e)
    __attribute__((warn_unused_result));

/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters; "" when unreadable): a
 * CLOCK_MONOTONIC time means something only within the boot it was read in. */
void fence_boot_id(char out[40]);

/* Markers: DATA/fenced/<member id>, "<boot id> <deadline_ms>\n", written by the guard for each
 * member it fenced. */
int fence_marker_write(const char *data_dir, int64_t id, int64_t deadline_ms, struct err *e)
    __attribute__((warn_unused_result));
/* The members with a marker: ids and the deadline at which they were fenced (0 when the marker
 * is of another boot, or unreadable), in new arrays the caller frees (NULL when *n is 0). */
void fence_markers_read(const char *data_dir, int64_t **ids, int64_t **at_ms, size_t *n);
void fence_marker_remove(const char *data_dir, int64_t id);

/* The guard process: read frames from fd (made non-blocking) and fire at the deadlines, logging
 * `event=fenced` and writing markers under data_dir. Returns (the process's exit status) after
 * the pipe's end, once a pending deadline fired. */
int fence_guard_main(int fd, const char *data_dir);

/* Start `self_exe fence-guard --data-dir DIR` with a pipe as its stdin, in a session of its
 * own. Safe after threads exist (only exec in the child). *wfd: the pipe's write end
 * (close-on-exec, so that no engine inherits it: the guard sees its end when the agent is
 * gone). 0 / -1 with e set. */
int fence_guard_spawn(const char *self_exe, const char *data_dir, int *wfd, pid_t *pid,
                      struct err *e) __attribute__((warn_unused_result));
/* Write m to the guard as one frame (retrying partial writes). -1 with e set when the guard is
 * gone (EPIPE). */
int fence_guard_feed(int wfd, const struct fence_msg *m, struct err *e)
    __attribute__((warn_unused_result));

#endif
