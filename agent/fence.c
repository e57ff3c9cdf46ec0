/* The fence guard: its message codec, its loop, the group lookup and the kill (agent/fence.h).
 *
 * NOTES: fence_guard_main() is the whole `dbaas-agent fence-guard` process: one thread, a
 * non-blocking read of its stdin (so that a frame half written by an agent that was stopped
 * mid-write never blocks it), a poll() whose timeout is the deadline. Everything else is
 * called from the agent's lease thread (agent/leasing.c) or from tests. */
#include "agent/fence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/xalloc.h"

#define FRAME_HEAD 8
#define KILL_ROUNDS 200 /* about 2 s of rounds 10 ms apart */
#define KILL_ROUND_MS 10
#define SUBGROUP_DEPTH 8

static const char frame_magic[4] = {'D', 'B', 'F', '1'};

/* ---- the message ---- */

void fence_msg_encode(const struct fence_msg *m, struct buf *out)
{
    struct buf payload = BUF_INIT;
    unsigned char head[FRAME_HEAD];
    size_t len;

    buf_printf(&payload, "%" PRId64 "\n", m->deadline_ms);
    for (int i = 0; i < m->n; i++)
        buf_printf(&payload, "%" PRId64 " %s\n", m->t[i].id, m->t[i].dir);
    len = payload.len;
    memcpy(head, frame_magic, 4);
    head[4] = (unsigned char)(len >> 24);
    head[5] = (unsigned char)(len >> 16);
    head[6] = (unsigned char)(len >> 8);
    head[7] = (unsigned char)len;
    buf_append(out, head, sizeof(head));
    buf_append(out, buf_str(&payload), len);
    buf_free(&payload);
}

/* One "<id> <dir>" line (NUL-terminated, without its newline) into t. 0 / -1. */
static int parse_target(const char *line, struct fence_target *t)
{
    char *end;
    long long id;

    errno = 0;
    id = strtoll(line, &end, 10);
    if (errno || end == line || id <= 0 || *end != ' ' || end[1] != '/' ||
        strlen(end + 1) >= sizeof(t->dir) || strstr(end + 1, "/.."))
        return -1;
    t->id = id;
    snprintf(t->dir, sizeof(t->dir), "%s", end + 1);
    return 0;
}

long fence_msg_decode(const unsigned char *buf, size_t n, struct fence_msg *m, struct err *e)
{
    size_t len;
    char *text = NULL, *line, *next, *end;
    long rc = -1;

    if (n < FRAME_HEAD)
        return memcmp(buf, frame_magic, n < 4 ? n : 4) == 0
                   ? 0
                   : err_set(e, AGENT_E_SYSTEM, "not a fence frame");
    if (memcmp(buf, frame_magic, 4) != 0)
        return err_set(e, AGENT_E_SYSTEM, "not a fence frame");
    len = (size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
    if (len > FENCE_FRAME_MAX)
        return err_set(e, AGENT_E_SYSTEM, "fence frame of %zu bytes is too long", len);
    if (n < FRAME_HEAD + len)
        return 0;
    memset(m, 0, sizeof(*m));
    text = xstrndup((const char *)buf + FRAME_HEAD, len);
    if (strlen(text) != len || len == 0 || text[len - 1] != '\n') {
        err_set(e, AGENT_E_SYSTEM, "malformed fence frame");
        goto out;
    }
    next = strchr(text, '\n');
    *next++ = '\0';
    errno = 0;
    m->deadline_ms = strtoll(text, &end, 10);
    if (errno || end == text || *end || m->deadline_ms < 0) {
        err_set(e, AGENT_E_SYSTEM, "malformed fence deadline");
        goto out;
    }
    for (line = next; *line; line = next) {
        next = strchr(line, '\n');
        *next++ = '\0';
        if (m->n == FENCE_MAX_TARGETS || parse_target(line, &m->t[m->n]) < 0) {
            err_set(e, AGENT_E_SYSTEM, "malformed fence target %d", m->n);
            goto out;
        }
        m->n++;
    }
    rc = (long)(FRAME_HEAD + len);
out:
    free(text);
    return rc;
}

/* ---- the deadline ---- */

bool fence_due(const struct fence_msg *armed, int64_t now_ms)
{
    return armed->deadline_ms > 0 && now_ms >= armed->deadline_ms;
}

int64_t fence_wait_ms(const struct fence_msg *armed, int64_t now_ms)
{
    if (armed->deadline_ms <= 0)
        return -1;
    return fence_due(armed, now_ms) ? 0 : armed->deadline_ms - now_ms;
}

/* ---- the kill ---- */

/* SIGKILL every live process listed in dir/cgroup.procs and in its subgroups' (depth levels
 * deep); *found counts them. */
static void kill_round(const char *dir, int depth, int *found, int *killed)
{
    char *path = xasprintf("%s/cgroup.kill", dir);
    char *text;
    DIR *d;
    struct dirent *de;
    int fd;

    /* cgroup v2 kills the whole subtree at once, forks included */
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "1", 1) < 0) {
            /* the per-pid kills below still run */
        }
        close(fd);
    }
    free(path);
    path = xasprintf("%s/cgroup.procs", dir);
    text = fileio_read(path, 4 << 20, 0, NULL);
    free(path);
    for (char *p = text, *end; p && *p; p = end) {
        struct proc_stat st;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        while (*end == '\n')
            end++;
        if (pid <= 1 || pid == getpid() || pid == getppid())
            continue;
        if (proc_stat_read((pid_t)pid, &st) < 0 || proc_state_gone(st.state))
            continue; /* gone already (or a zombie: dead, its parent reaps it) */
        (*found)++;
        if (kill((pid_t)pid, SIGKILL) == 0)
            (*killed)++;
    }
    free(text);
    if (depth <= 0 || !(d = opendir(dir)))
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        path = xasprintf("%s/%s", dir, de->d_name);
        kill_round(path, depth - 1, found, killed);
        free(path);
    }
    closedir(d);
}

int fence_kill_group(const char *dir, int *killed, struct err *e)
{
    *killed = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        int found = 0;
        kill_round(dir, SUBGROUP_DEPTH, &found, killed);
        if (found == 0)
            return 0;
        clock_sleep_ms(KILL_ROUND_MS);
    }
    return err_set(e, AGENT_E_SYSTEM, "processes of group \"%s\" survived SIGKILL for %d ms", dir,
                   KILL_ROUNDS * KILL_ROUND_MS);
}

/* ---- the group of a process ---- */

/* The path of pid's group in the hierarchy named by want ("memory", "pids" for v1; "" for the
 * v2 line "0::"), from /proc/PID/cgroup: a new string, or NULL. */
static char *cgroup_of(pid_t pid, const char *want)
{
    char *path = xasprintf("/proc/%d/cgroup", (int)pid);
    char *text = fileio_read(path, 1 << 20, 0, NULL), *line, *save = NULL, *found = NULL;

    free(path);
    for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *ctl = strchr(line, ':'), *rel;
        if (!ctl || !(rel = strchr(ctl + 1, ':')))
            continue;
        *rel++ = '\0';
        ctl++;
        if (!*want) {
            if (!*ctl && strcmp(line, "0") == 0)
                found = xstrdup(rel);
            continue;
        }
        for (char *c, *s2 = NULL, *list = ctl; (c = strtok_r(list, ",", &s2)) != NULL; list = NULL)
            if (strcmp(c, want) == 0) {
                found = xstrdup(rel);
                break;
            }
    }
    free(text);
    return found;
}

/* The mount point of the cgroup hierarchy want ("memory", "pids"; "" for cgroup2) from
 * /proc/self/mountinfo: a new string, or NULL. Only mounts of a hierarchy's root count. */
static char *mount_of(const char *want)
{
    char *text = fileio_read("/proc/self/mountinfo", 4 << 20, 0, NULL), *line, *save = NULL;
    char *found = NULL;

    for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !found;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[6], *sep = strstr(line, " - "), *fstype, *opts, *s2 = NULL;
        int i;
        if (!sep)
            continue;
        *sep = '\0';
        f[0] = strtok_r(line, " ", &s2);
        for (i = 1; i < 6 && (f[i] = strtok_r(NULL, " ", &s2)); i++)
            ;
        if (i < 6 || strcmp(f[3], "/") != 0) /* root: f[3], mount point: f[4] */
            continue;
        s2 = NULL;
        fstype = strtok_r(sep + 3, " ", &s2);
        strtok_r(NULL, " ", &s2); /* source */
        opts = strtok_r(NULL, " ", &s2);
        if (!fstype)
            continue;
        if (!*want) {
            if (strcmp(fstype, "cgroup2") == 0)
                found = xstrdup(f[4]);
            continue;
        }
        if (strcmp(fstype, "cgroup") != 0 || !opts)
            continue;
        for (char *c, *s3 = NULL, *list = opts; (c = strtok_r(list, ",", &s3)) != NULL; list = NULL)
            if (strcmp(c, want) == 0) {
                found = xstrdup(f[4]);
                break;
            }
    }
    free(text);
    return found;
}

int fence_group_dir(pid_t pid, char out[FENCE_DIR_MAX], struct err *e)
{
    static const char *const order[] = {"memory", "pids", ""};
    int rc = -1;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && rc < 0; i++) {
        char *rel = cgroup_of(pid, order[i]), *own = NULL, *mnt = NULL;
        if (!rel || strcmp(rel, "/") == 0 || strstr(rel, "/..") || rel[0] != '/')
            goto next;
        own = cgroup_of(getpid(), order[i]);
        if (own && strcmp(own, rel) == 0)
            goto next;
        mnt = mount_of(order[i]);
        if (!mnt)
            goto next;
        if (snprintf(out, FENCE_DIR_MAX, "%s%s", mnt, rel) >= FENCE_DIR_MAX) {
            out[0] = '\0';
            goto next;
        }
        rc = 0;
    next:
        free(rel);
        free(own);
        free(mnt);
    }
    if (rc < 0)
        err_set(e, AGENT_E_SYSTEM, "could not find the cgroup of process %d", (int)pid);
    return rc;
}

/* ---- markers ---- */

void fence_boot_id(char out[40])
{
    char *t = fileio_read("/proc/sys/kernel/random/boot_id", 128, 0, NULL);

    snprintf(out, 40, "%s", t ? t : "");
    out[strcspn(out, "\n")] = '\0';
    free(t);
}

int fence_marker_write(const char *data_dir, int64_t id, int64_t deadline_ms, struct err *e)
{
    char *dir = xasprintf("%s/fenced", data_dir);
    char *path = xasprintf("%s/%" PRId64, dir, id);
    char boot[40], text[96];
    int rc = -1;

    fence_boot_id(boot);
    snprintf(text, sizeof(text), "%s %" PRId64 "\n", boot, deadline_ms);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        err_set(e, AGENT_E_SYSTEM, "could not create directory \"%s\": %s", dir, strerror(errno));
        goto out;
    }
    rc = fileio_write_atomic(path, text, strlen(text), 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID,
                             FILEIO_SYNC_DIR, e);
out:
    free(dir);
    free(path);
    return rc;
}

void fence_markers_read(const char *data_dir, int64_t **ids, int64_t **at_ms, size_t *n)
{
    char *dir = xasprintf("%s/fenced", data_dir);
    DIR *d = opendir(dir);
    struct dirent *de;
    char boot[40];
    size_t cap = 0;

    *ids = *at_ms = NULL;
    *n = 0;
    fence_boot_id(boot);
    while (d && (de = readdir(d)) != NULL) {
        char *end, *path, *text, mboot[40];
        long long id = strtoll(de->d_name, &end, 10), at = 0;
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || id <= 0)
            continue;
        path = xasprintf("%s/%s", dir, de->d_name);
        text = fileio_read(path, 256, FILEIO_NOFOLLOW, NULL);
        free(path);
        if (!text || sscanf(text, "%39s %lld", mboot, &at) != 2 || strcmp(mboot, boot) != 0)
            at = 0;
        free(text);
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *ids = xrealloc(*ids, cap * sizeof(**ids));
            *at_ms = xrealloc(*at_ms, cap * sizeof(**at_ms));
        }
        (*ids)[*n] = id;
        (*at_ms)[*n] = at;
        (*n)++;
    }
    if (d)
        closedir(d);
    free(dir);
}

void fence_marker_remove(const char *data_dir, int64_t id)
{
    char *path = xasprintf("%s/fenced/%" PRId64, data_dir, id);

    unlink(path);
    free(path);
}

/* ---- the guard process ---- */

/* Empty every group of m, log each and leave its marker. */
static void fire(const struct fence_msg *m, const char *data_dir)
{
    for (int i = 0; i < m->n; i++) {
        struct err e = {0, ""};
        int killed = 0;
        int rc = fence_kill_group(m->t[i].dir, &killed, &e);
        if (rc < 0)
            log_error("event=fence_failed member=%" PRId64 " group=%s error=\"%s\"", m->t[i].id,
                      m->t[i].dir, e.msg);
        log_warn("event=fenced member=%" PRId64 " group=%s killed=%d late_ms=%" PRId64, m->t[i].id,
                 m->t[i].dir, killed, clock_now_ms() - m->deadline_ms);
        if (fence_marker_write(data_dir, m->t[i].id, m->deadline_ms, &e) < 0)
            log_error("event=fence_marker_failed member=%" PRId64 " error=\"%s\"", m->t[i].id,
                      e.msg);
    }
    if (m->n == 0)
        log_info("event=fence_deadline_passed members=0");
}

int fence_guard_main(int fd, const char *data_dir)
{
    static struct fence_msg armed, next;
    unsigned char *in = xmalloc(FENCE_FRAME_MAX + FRAME_HEAD);
    size_t have = 0;
    bool eof = false;
    int flags = fcntl(fd, F_GETFL);

    memset(&armed, 0, sizeof(armed));
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    log_info("event=fence_guard_started pid=%d", (int)getpid());
    for (;;) {
        int64_t wait = fence_wait_ms(&armed, clock_now_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (eof && armed.deadline_ms <= 0)
            break;
        if (wait != 0 && poll(&p, eof ? 0 : 1, wait > INT32_MAX ? INT32_MAX : (int)wait) > 0) {
            ssize_t r = read(fd, in + have, FENCE_FRAME_MAX + FRAME_HEAD - have);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                eof = true;
                have = 0; /* a frame cut short by the agent's end counts for nothing */
                if (armed.deadline_ms > 0)
                    log_warn("event=fence_guard_orphaned deadline_in_ms=%" PRId64,
                             armed.deadline_ms - clock_now_ms());
            } else if (r > 0) {
                have += (size_t)r;
            }
            for (;;) {
                struct err e;
                long used = fence_msg_decode(in, have, &next, &e);
                if (used == 0)
                    break;
                if (used < 0) {
                    log_error("event=fence_bad_message error=\"%s\"", e.msg);
                    have = 0;
                    break;
                }
                armed = next;
                memmove(in, in + used, have - (size_t)used);
                have -= (size_t)used;
            }
            if (have == FENCE_FRAME_MAX + FRAME_HEAD)
                have = 0;
        }
        if (fence_due(&armed, clock_now_ms())) {
            fire(&armed, data_dir);
            armed.deadline_ms = 0;
        }
    }
    free(in);
    log_info("event=fence_guard_stopped reason=\"the agent is gone\"");
    return 0;
}

int fence_guard_spawn(const char *self_exe, const char *data_dir, int *wfd, pid_t *pid,
                      struct err *e)
{
    char *argv[] = {(char *)self_exe, "fence-guard", "--data-dir", (char *)data_dir, NULL};
    int p[2];
    pid_t child;

    if (pipe2(p, O_CLOEXEC) < 0)
        return err_set(e, AGENT_E_SYSTEM, "could not create a pipe: %s", strerror(errno));
    fflush(NULL);
    child = fork();
    if (child < 0) {
        close(p[0]);
        close(p[1]);
        return err_set(e, AGENT_E_SYSTEM, "could not fork the fence guard: %s", strerror(errno));
    }
    if (child == 0) {
        /* only async-signal-safe calls: the agent may have threads */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setsid();
        if (dup2(p[0], 0) < 0)
            _exit(127);
        execv(self_exe, argv);
        _exit(127);
    }
    close(p[0]);
    *wfd = p[1];
    *pid = child;
    return 0;
}

int fence_guard_feed(int wfd, const struct fence_msg *m, struct err *e)
{
    struct buf frame = BUF_INIT;
    size_t off = 0;
    int rc = 0;

    fence_msg_encode(m, &frame);
    while (off < frame.len) {
        ssize_t w = write(wfd, frame.data + off, frame.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = err_set(e, AGENT_E_SYSTEM, "could not write to the fence guard: %s",
                         strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    buf_free(&frame);
    return rc;
}
