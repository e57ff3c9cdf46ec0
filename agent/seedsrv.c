/* The seed server (agent/seedsrv.h).
 *
 * NOTES: one accept thread polls the listener (and the stop flag) every 200 ms; a detached
 * thread per connection runs the handshake and the relay; s->lock guards the connection
 * count and the set of replicas being served, s->idle (a condition) tells seedsrv_stop() when
 * the last connection ended. Logs (one line per stream) through lib/log: the agent's daemon
 * side. Never logs or sends a secret. */
#include "agent/seedsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define ACCEPT_POLL_MS 200
#define RELAY_POLL_MS 1000
#define IDLE_CALL_MS 1000 /* ops->idle after this long without output, and so often after */
#define CHUNK (1 << 20)

struct seedsrv {
    const struct seedsrv_ops *ops; /* borrowed */
    void *arg;                     /* borrowed */
    int fd;                        /* the listener */
    pthread_t acceptor;
    volatile int stopping;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int conns;                          /* connection threads running */
    int64_t serving[SEEDSRV_MAX_CONNS]; /* replicas with a stream (0: free slot) */
};

struct conn {
    struct seedsrv *s;
    int fd;
    char peer[64];
};

/* Make a replica's slot; false when a stream for it runs already. */
static bool claim(struct seedsrv *s, int64_t replica)
{
    bool ok = true;
    int free_slot = -1;

    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < SEEDSRV_MAX_CONNS; i++) {
        if (s->serving[i] == replica)
            ok = false;
        if (s->serving[i] == 0 && free_slot < 0)
            free_slot = i;
    }
    if (ok && free_slot >= 0)
        s->serving[free_slot] = replica;
    pthread_mutex_unlock(&s->lock);
    return ok && free_slot >= 0;
}

static void release(struct seedsrv *s, int64_t replica)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < SEEDSRV_MAX_CONNS; i++)
        if (s->serving[i] == replica)
            s->serving[i] = 0;
    pthread_mutex_unlock(&s->lock);
}

/* Relay src to the socket until src's end. 0 complete; -1 with e (stalled, reset, stopping).
 * *bytes counts what was sent. */
static int relay(struct seedsrv *s, void *h, int src, int sock, int64_t *bytes, struct err *e)
{
    int64_t last_in = clock_now_ms(), last_out = last_in, last_idle = last_in;
    bool use_splice = true;
    char *buf = NULL;
    int rc = -1;

    *bytes = 0;
    for (;;) {
        struct pollfd p[2] = {{src, POLLIN, 0}, {sock, POLLOUT, 0}};
        int64_t now;
        ssize_t n;
        if (s->stopping) {
            err_set(e, AGENT_E_SEED, "the agent is stopping");
            goto out;
        }
        if (poll(p, 2, RELAY_POLL_MS) < 0 && errno != EINTR) {
            err_set(e, AGENT_E_SEED, "could not poll: %s", strerror(errno));
            goto out;
        }
        now = clock_now_ms();
        if (p[1].revents & (POLLERR | POLLHUP)) {
            err_set(e, AGENT_E_SEED, "the replica closed the connection");
            goto out;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP))) {
            if (s->ops->idle && now - last_in >= IDLE_CALL_MS && now - last_idle >= IDLE_CALL_MS) {
                s->ops->idle(s->arg, h);
                last_idle = clock_now_ms();
            }
            if (now - last_in >= SEEDSRV_SOURCE_IDLE_MS) {
                err_set(e, AGENT_E_SEED, "the source sent nothing for %d s",
                        SEEDSRV_SOURCE_IDLE_MS / 1000);
                goto out;
            }
            continue;
        }
        last_in = now;
        if (!(p[1].revents & POLLOUT)) {
            if (now - last_out >= SEEDSRV_WRITE_MS) {
                err_set(e, AGENT_E_SEED, "the replica took nothing for %d s",
                        SEEDSRV_WRITE_MS / 1000);
                goto out;
            }
            continue;
        }
        if (use_splice) {
            n = splice(src, NULL, sock, NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0 && errno == EINVAL) {
                use_splice = false; /* a source that is not a pipe */
                continue;
            }
        } else {
            if (!buf)
                buf = xmalloc(CHUNK / 16);
            n = read(src, buf, CHUNK / 16);
            if (n > 0 && seedproto_write_all(sock, buf, (size_t)n, SEEDSRV_WRITE_MS, e) < 0)
                goto out;
        }
        if (n == 0) {
            rc = 0; /* the source's end */
            goto out;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            err_set(e, AGENT_E_SEED, "could not relay the stream: %s", strerror(errno));
            goto out;
        }
        *bytes += n;
        last_out = now;
    }
out:
    free(buf);
    return rc;
}

static void send_line(int fd, const char *line)
{
    struct err ignored;

    if (seedproto_write_all(fd, line, strlen(line), SEEDPROTO_TIMEOUT_MS, &ignored) < 0)
        return;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct seedsrv *s = c->s;
    struct err e = {0, ""}, fe = {0, ""};
    int64_t primary = 0, replica = 0, bytes = 0, started;
    void *h = NULL;
    int src = -1, relayed = -1;
    bool claimed = false;

    if (seedproto_server(c->fd, s->ops->lookup, s->arg, SEEDPROTO_TIMEOUT_MS, &primary, &replica,
                         &e) < 0) {
        log_warn("event=seed_refused peer=%s error=\"%s\"", c->peer, e.msg);
        send_line(c->fd, "ERR denied\n");
        goto out;
    }
    if (!(claimed = claim(s, replica))) {
        log_warn("event=seed_refused peer=%s primary=%" PRId64 " replica=%" PRId64
                 " error=\"a stream for this replica is running\"",
                 c->peer, primary, replica);
        send_line(c->fd, "ERR busy\n");
        goto out;
    }
    if (s->ops->start(s->arg, primary, replica, &src, &h, &e) < 0) {
        log_warn("event=seed_refused peer=%s primary=%" PRId64 " replica=%" PRId64 " error=\"%s\"",
                 c->peer, primary, replica, e.msg);
        send_line(c->fd, "ERR unavailable\n");
        goto out;
    }
    started = clock_now_ms();
    log_info("event=seed_stream_started peer=%s primary=%" PRId64 " replica=%" PRId64, c->peer,
             primary, replica);
    if (seedproto_write_all(c->fd, "OK\n", 3, SEEDPROTO_TIMEOUT_MS, &e) == 0)
        relayed = relay(s, h, src, c->fd, &bytes, &e);
    close(src);
    src = -1;
    if (s->ops->finish(s->arg, h, relayed == 0, &fe) < 0 && relayed == 0) {
        relayed = -1;
        e = fe;
    }
    if (relayed == 0) {
        shutdown(c->fd, SHUT_WR); /* a clean end: the stream is complete */
        log_info("event=seed_stream_done primary=%" PRId64 " replica=%" PRId64
                 " bytes=%lld elapsed_ms=%lld",
                 primary, replica, (long long)bytes, (long long)(clock_now_ms() - started));
    } else {
        /* a reset, so that the replica's reader fails instead of taking a short stream */
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        log_warn("event=seed_stream_failed primary=%" PRId64 " replica=%" PRId64
                 " bytes=%lld error=\"%s\"",
                 primary, replica, (long long)bytes, e.msg);
    }
out:
    if (src >= 0)
        close(src);
    if (claimed)
        release(s, replica);
    close(c->fd);
    free(c);
    pthread_mutex_lock(&s->lock);
    s->conns--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct seedsrv *s = arg;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!s->stopping) {
        struct pollfd p = {s->fd, POLLIN, 0};
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct conn *c;
        pthread_attr_t attr;
        pthread_t t;
        int fd, one = 1;
        if (poll(&p, 1, ACCEPT_POLL_MS) <= 0)
            continue;
        fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->lock);
        if (s->conns >= SEEDSRV_MAX_CONNS) {
            pthread_mutex_unlock(&s->lock);
            close(fd); /* too many at once: the replica retries */
            continue;
        }
        s->conns++;
        pthread_mutex_unlock(&s->lock);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        c = xcalloc(1, sizeof(*c));
        c->s = s;
        c->fd = fd;
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof(c->peer));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer, sizeof(c->peer));
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            close(fd);
            free(c);
            pthread_mutex_lock(&s->lock);
            s->conns--;
            pthread_mutex_unlock(&s->lock);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

/* addr:port into ss. */
static int make_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len,
                     struct err *e)
{
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return err_set(e, AGENT_E_SEED, "invalid address \"%s\": a numeric IP address is needed", addr);
}

struct seedsrv *seedsrv_start(const char *addr, int port, const struct seedsrv_ops *ops, void *arg,
                              struct err *e)
{
    struct seedsrv *s = NULL;
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = -1, one = 1;

    if (make_addr(addr, port, &ss, &len, e) < 0)
        goto fail;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
        err_set(e, AGENT_E_SEED, "could not listen on %s port %d for seed streams: %s", addr, port,
                strerror(errno));
        goto fail;
    }
    s = xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->arg = arg;
    s->fd = fd;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (pthread_create(&s->acceptor, NULL, accept_main, s) != 0) {
        err_set(e, AGENT_E_SYSTEM, "could not start the seed server's thread");
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->idle);
        free(s);
        goto fail;
    }
    return s;
fail:
    if (fd >= 0)
        close(fd);
    return NULL;
}

void seedsrv_stop(struct seedsrv *s)
{
    if (!s)
        return;
    s->stopping = 1;
    pthread_join(s->acceptor, NULL);
    close(s->fd);
    pthread_mutex_lock(&s->lock);
    while (s->conns > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    free(s);
}

int seedsrv_connect(const char *host, int port, int timeout_ms, struct err *e)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    if (make_addr(host, port, &ss, &len, e) < 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_set(e, AGENT_E_SEED, "could not create a socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            int saved = soerr ? soerr : errno == EINPROGRESS ? ETIMEDOUT : errno;
            close(fd);
            return err_set(e, AGENT_E_SEED, "could not connect to the seed server %s port %d: %s",
                           host, port, strerror(saved));
        }
    }
    /* blocking from here: the stream's reader gets the socket as it is */
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        close(fd);
        return err_set(e, AGENT_E_SEED, "could not configure the socket: %s", strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    return fd;
}
