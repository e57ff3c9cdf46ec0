/* The agent's lease thread and its fence guard (agent/leasing.h).
 *
 * NOTES: leasing_main() runs on its own thread: it sends a renewal every renew_ms, waits for
 * grants in between (poll on a non-blocking UDP socket), feeds the guard after every grant and
 * whenever the groups to fence change, and reads the guard's markers. The lease's bookkeeping
 * is agent/lessee.c, under a->lock; the socket, the guard's pipe and the group lookups
 * (agent/fence.c, /proc reads) are done without it. */
#include "agent/leasing.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/desired.h"
#include "agent/fence.h"
#include "agent/member.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/hbproto.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/xalloc.h"

#define FEED_MS 200 /* the guard's groups are refreshed this often, grants aside */

/* ---- startup ---- */

int leasing_init(struct agent *a, struct err *e)
{
    char *pidpath = xasprintf("%s/fence.pid", a->cfg->data_dir);
    char *lpath = xasprintf("%s/lease.json", a->cfg->data_dir);
    char *text = fileio_read(pidpath, 128, FILEIO_NOFOLLOW, NULL);
    char line[64];
    json_t *saved;
    long long pid = 0;
    unsigned long long start = 0;
    int rc = -1;

    a->guard_fd = -1;
    if (text && sscanf(text, "%lld %llu", &pid, &start) == 2 && pid > 1 &&
        proc_alive((pid_t)pid, start)) {
        a->old_guard_pid = (pid_t)pid;
        a->old_guard_start = start;
        log_info("event=fence_guard_previous pid=%lld action=kept_until_a_lease", pid);
    }
    free(text);
    saved = json_load_file(lpath, 0, NULL);
    if (json_is_integer(json_object_get(saved, HB_F_TTL_MS)))
        a->lease_saved_ttl_ms = (int)json_integer_value(json_object_get(saved, HB_F_TTL_MS));
    json_decref(saved);
    if (fence_guard_spawn(a->self_exe, a->cfg->data_dir, &a->guard_fd, &a->guard_pid, e) < 0)
        goto out;
    snprintf(line, sizeof(line), "%d %llu\n", (int)a->guard_pid,
             (unsigned long long)proc_starttime(a->guard_pid));
    if (fileio_write_atomic(pidpath, line, strlen(line), 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0,
                            e) < 0)
        goto out;
    rc = 0;
out:
    free(pidpath);
    free(lpath);
    return rc;
}

void leasing_arm_adopted(struct agent *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->lease_saved_ttl_ms > 0) {
        a->lease_arm_ms = clock_now_ms() + a->lease_saved_ttl_ms - FENCE_MARGIN_MS;
        log_info("event=fence_armed_at_start deadline_in_ms=%d reason=\"no lease yet\"",
                 a->lease_saved_ttl_ms - FENCE_MARGIN_MS);
    }
    pthread_mutex_unlock(&a->lock);
}

/* ---- the reply ---- */

/* Keep ttl_ms and renew_ms for the next agent (never the key). Caller holds a->lock. */
static void save_settings(struct agent *a)
{
    char *path = xasprintf("%s/lease.json", a->cfg->data_dir);
    char text[96];
    struct err e;

    snprintf(text, sizeof(text), "{\"" HB_F_TTL_MS "\":%d,\"" HB_F_RENEW_MS "\":%d}\n",
             a->lessee.s.ttl_ms, a->lessee.s.renew_ms);
    if (fileio_write_atomic(path, text, strlen(text), 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0,
                            &e) < 0)
        log_error("event=lease_save_failed error=\"%s\"", e.msg);
    a->lease_saved_ttl_ms = a->lessee.s.ttl_ms;
    free(path);
}

/* Whether the lease holds past the guard's deadline (its end minus FENCE_MARGIN_MS): only then
 * may a member that needs a lease start, or a guard's fence be cleared. In the last margin the
 * lease is still valid but the guard has fired (or fires), and it is not fed a deadline already
 * past (feed()): an engine started then would run unguarded after the lease's end, while dbaasd
 * promotes another. Caller holds a->lock. */
static bool lease_guarded(const struct agent *a, int64_t now_ms)
{
    return lessee_valid(&a->lessee, now_ms + FENCE_MARGIN_MS);
}

void leasing_reply(struct agent *a, const json_t *lease, const json_t *desired, int64_t req_ms)
{
    int64_t now = clock_now_ms();
    struct lessee_settings s;
    struct member *m;
    struct err e;

    switch (lessee_reply_parse(lease, &s, &e)) {
    case LESSEE_REPLY_NONE:
        if (a->lease_mode != LEASING_OFF)
            log_info("event=lease_off reason=\"dbaasd hands out no lease\"");
        lessee_unconfigure(&a->lessee);
        a->lease_mode = LEASING_OFF;
        break;
    case LESSEE_REPLY_OK:
        if (lessee_configure(&a->lessee, &s)) {
            log_info("event=lease_settings host_id=%" PRId64 " port=%d ttl_ms=%d renew_ms=%d",
                     s.host_id, s.port, s.ttl_ms, s.renew_ms);
            if (s.ttl_ms != a->lease_saved_ttl_ms)
                save_settings(a);
        }
        a->lease_mode = LEASING_ON;
        a->lease_bad_logged = false;
        break;
    case LESSEE_REPLY_BAD:
        /* dbaasd fences on leases, but this one cannot be used: no lease is valid */
        if (!a->lease_bad_logged)
            log_error("event=lease_bad error=\"%s\"", e.msg);
        a->lease_bad_logged = true;
        a->lease_mode = LEASING_ON;
        break;
    }
    explicit_bzero(&s, sizeof(s));
    /* a member the guard fenced stays down until a reply that could not have been computed
     * before the fence says what it is now: the request left after the guard's deadline, and
     * within the lease's current unbroken run, which still holds past the guard's deadline
     * (dbaasd's view of an unbroken run is unbroken too: a promotion on an expired lease came
     * before the request, and the reply knows it) */
    for (m = a->members; m; m = m->next) {
        if (!m->guard_fenced || !desired_lists(desired, m->id))
            continue;
        if (a->lease_mode == LEASING_ON &&
            (!lease_guarded(a, now) || req_ms <= m->guard_fenced_at_ms ||
             req_ms < a->lessee.valid_since_ms))
            continue;
        log_info("event=fence_cleared member=%lld role=%s", (long long)m->id, m->role);
        m->guard_fenced = false;
        m->guard_fenced_at_ms = 0;
        fence_marker_remove(a->cfg->data_dir, m->id);
    }
}

bool leasing_may_start(const struct agent *a, int64_t now_ms)
{
    return a->lease_mode == LEASING_OFF ||
           (a->lease_mode == LEASING_ON && lease_guarded(a, now_ms));
}

int leasing_report(const struct agent *a, int64_t now_ms)
{
    if (a->lease_mode != LEASING_ON)
        return -1;
    return lessee_valid(&a->lessee, now_ms) ? 1 : 0;
}

/* ---- the socket ---- */

/* The host part of dbaasd's URL (scheme://host[:port]/..., [v6] allowed) into out. 0 / -1. */
static int url_host(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://"), *end;

    p = p ? p + 3 : url;
    if (*p == '[') {
        end = strchr(++p, ']');
    } else {
        end = p + strcspn(p, ":/?#");
    }
    if (!end || end == p || (size_t)(end - p) >= n)
        return -1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 0;
}

/* A non-blocking UDP socket connected to dbaasd's host at port; -1 (logged) on failure. */
static int open_socket(struct agent *a, int port)
{
    struct addrinfo hints, *res = NULL;
    char host[256], service[16];
    int fd = -1, rc;

    if (url_host(a->cfg->server, host, sizeof(host)) < 0) {
        log_error("event=lease_socket_failed error=\"no host in the server URL\"");
        return -1;
    }
    snprintf(service, sizeof(service), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        log_error("event=lease_socket_failed host=%s error=\"%s\"", host, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        log_error("event=lease_socket_failed host=%s port=%d error=\"%s\"", host, port,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* ---- the guard ---- */

/* What was last fed, to feed only changes. */
struct fed {
    bool any;
    struct fence_msg msg;
};

static bool same_msg(const struct fence_msg *x, const struct fence_msg *y)
{
    if (x->deadline_ms != y->deadline_ms || x->n != y->n)
        return false;
    for (int i = 0; i < x->n; i++)
        if (x->t[i].id != y->t[i].id || strcmp(x->t[i].dir, y->t[i].dir) != 0)
            return false;
    return true;
}

/* Start a new guard after the old one died. */
static void respawn_guard(struct agent *a)
{
    struct err e;

    if (a->guard_fd >= 0)
        close(a->guard_fd);
    a->guard_fd = -1;
    if (a->guard_pid > 0)
        waitpid(a->guard_pid, NULL, WNOHANG);
    if (fence_guard_spawn(a->self_exe, a->cfg->data_dir, &a->guard_fd, &a->guard_pid, &e) < 0)
        log_error("event=fence_guard_failed error=\"%s\"", e.msg);
    else
        log_warn("event=fence_guard_restarted pid=%d", (int)a->guard_pid);
}

/* Feed the guard the lease's end minus the margin (or the startup deadline before the first
 * grant; 0 disarms with LEASING_OFF) and the groups of the running members to fence, when that
 * differs from what it has. A deadline already past is not fed: the guard fired (or fires) with
 * what it had. Returns whether a message carrying a granted lease's deadline was fed. */
static bool feed(struct agent *a, struct fed *last)
{
    static struct fence_msg msg;
    struct {
        int64_t id;
        pid_t pid;
        bool known;
    } t[FENCE_MAX_TARGETS];
    int n = 0;
    int64_t now = clock_now_ms();
    bool granted;
    struct member *m;
    struct err e;

    memset(&msg, 0, sizeof(msg));
    pthread_mutex_lock(&a->lock);
    granted = a->lessee.grants > 0;
    msg.deadline_ms = a->lease_mode == LEASING_OFF ? 0
                      : granted                    ? a->lessee.end_ms - FENCE_MARGIN_MS
                                                   : a->lease_arm_ms;
    a->guard_dirty = false;
    for (m = a->members; m && n < FENCE_MAX_TARGETS; m = m->next) {
        bool run = m->state == HB_RUNNING && m->pid > 0 && member_runs_primary(m);
        if (!member_fenceable(m) || (!run && m->start_pid <= 0))
            continue;
        t[n].id = m->id;
        t[n].pid = run ? m->pid : m->start_pid;
        t[n].known = m->fence_pid == t[n].pid && m->fence_dir[0];
        if (t[n].known) {
            msg.t[msg.n].id = m->id;
            snprintf(msg.t[msg.n].dir, sizeof(msg.t[msg.n].dir), "%s", m->fence_dir);
            msg.n++;
        }
        n++;
    }
    pthread_mutex_unlock(&a->lock);
    /* the groups not known yet, without the lock (/proc reads) */
    for (int i = 0; i < n; i++) {
        char dir[FENCE_DIR_MAX];
        if (t[i].known)
            continue;
        if (fence_group_dir(t[i].pid, dir, &e) < 0) {
            log_error("event=fence_group_unknown member=%" PRId64 " error=\"%s\"", t[i].id, e.msg);
            continue;
        }
        pthread_mutex_lock(&a->lock);
        for (m = a->members; m && m->id != t[i].id; m = m->next)
            ;
        if (m && (m->pid == t[i].pid || m->start_pid == t[i].pid)) {
            m->fence_pid = t[i].pid;
            snprintf(m->fence_dir, sizeof(m->fence_dir), "%s", dir);
        }
        pthread_mutex_unlock(&a->lock);
        msg.t[msg.n].id = t[i].id;
        snprintf(msg.t[msg.n].dir, sizeof(msg.t[msg.n].dir), "%s", dir);
        msg.n++;
    }
    if ((last->any && same_msg(&last->msg, &msg)) ||
        (msg.deadline_ms > 0 && msg.deadline_ms <= now))
        return false;
    if (a->guard_fd < 0 || fence_guard_feed(a->guard_fd, &msg, &e) < 0) {
        if (a->guard_fd >= 0)
            log_error("event=fence_guard_lost error=\"%s\"", e.msg);
        respawn_guard(a);
        if (a->guard_fd < 0 || fence_guard_feed(a->guard_fd, &msg, &e) < 0)
            return false;
    }
    last->any = true;
    last->msg = msg;
    return granted && msg.deadline_ms > 0;
}

/* The guard's markers: members it fenced are held down and reported fenced. */
static void read_markers(struct agent *a)
{
    int64_t *ids, *at;
    size_t n;

    fence_markers_read(a->cfg->data_dir, &ids, &at, &n);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < n; i++) {
        struct member *m;
        for (m = a->members; m && m->id != ids[i]; m = m->next)
            ;
        if (!m) {
            fence_marker_remove(a->cfg->data_dir, ids[i]);
            continue;
        }
        if (m->guard_fenced)
            continue;
        m->guard_fenced = true;
        m->guard_fenced_at_ms = at[i];
        log_warn("event=member_fenced member=%lld by=guard action=held_down_until_a_fresh_reply",
                 (long long)m->id);
        a->report_now = true;
        pthread_cond_signal(&a->report_wake);
        pthread_cond_signal(&a->wake);
    }
    pthread_mutex_unlock(&a->lock);
    free(ids);
    free(at);
}

/* Once this agent's own lease reached its guard, the previous agent's guard can go. */
static void retire_old_guard(struct agent *a)
{
    if (a->old_guard_pid <= 0)
        return;
    if (proc_alive(a->old_guard_pid, a->old_guard_start) && kill(a->old_guard_pid, SIGKILL) == 0)
        log_info("event=fence_guard_replaced old_pid=%d", (int)a->old_guard_pid);
    a->old_guard_pid = 0;
}

void *leasing_main(void *arg)
{
    struct agent *a = arg;
    struct fed last = {false, {0}};
    int sock = -1, sock_port = 0, send_failures = 0;
    int64_t next_send = 0, next_feed = 0;

    while (!*a->stopping) {
        int64_t now = clock_now_ms(), wake;
        unsigned char buf[LEASE_MSG_LEN];
        struct pollfd p;
        struct timespec wall;
        bool configured, send_now = false, granted = false;
        int port, renew = 100;

        pthread_mutex_lock(&a->lock);
        configured = a->lessee.configured;
        port = a->lessee.s.port;
        if (configured)
            renew = a->lessee.s.renew_ms;
        pthread_mutex_unlock(&a->lock);
        if (sock >= 0 && (!configured || port != sock_port)) {
            close(sock);
            sock = -1;
        }
        if (configured && sock < 0 && now >= next_send) {
            sock = open_socket(a, port);
            sock_port = port;
            if (sock < 0)
                next_send = now + 1000;
        }
        if (sock >= 0 && now >= next_send) {
            clock_gettime(CLOCK_REALTIME, &wall);
            pthread_mutex_lock(&a->lock);
            send_now =
                lessee_renewal(&a->lessee, clock_now_ms(),
                               (uint64_t)wall.tv_sec * 1000000u + (uint64_t)wall.tv_nsec / 1000,
                               buf) == 0;
            pthread_mutex_unlock(&a->lock);
            if (send_now && send(sock, buf, sizeof(buf), 0) < 0 && send_failures++ % 50 == 0)
                log_warn("event=lease_send_failed error=\"%s\"", strerror(errno));
            next_send = now + renew;
        }
        pthread_mutex_lock(&a->lock);
        if (a->guard_dirty)
            next_feed = now;
        pthread_mutex_unlock(&a->lock);
        if (now >= next_feed) {
            if (feed(a, &last))
                retire_old_guard(a);
            read_markers(a);
            next_feed = now + FEED_MS;
        }
        wake = next_feed < next_send || sock < 0 ? next_feed : next_send;
        p = (struct pollfd){sock, POLLIN, 0};
        if (poll(&p, sock >= 0 ? 1 : 0,
                 (int)(wake > now ? (wake - now > 20 ? 20 : wake - now) : 0)) > 0) {
            ssize_t r;
            while ((r = recv(sock, buf, sizeof(buf), 0)) >= 0) {
                int64_t t = clock_now_ms();
                pthread_mutex_lock(&a->lock);
                bool before = lessee_valid(&a->lessee, t);
                if (lessee_grant(&a->lessee, buf, (size_t)r)) {
                    granted = true;
                    if (!before && lessee_valid(&a->lessee, t))
                        log_info("event=lease_granted valid_for_ms=%" PRId64 " grants=%" PRIu64,
                                 a->lessee.end_ms - t, a->lessee.grants);
                }
                pthread_mutex_unlock(&a->lock);
            }
        }
        if (granted) {
            if (feed(a, &last))
                retire_old_guard(a);
            next_feed = clock_now_ms() + FEED_MS;
        }
    }
    if (sock >= 0)
        close(sock);
    return NULL;
}

void leasing_close(struct agent *a)
{
    if (a->guard_fd >= 0)
        close(a->guard_fd);
    a->guard_fd = -1;
}
