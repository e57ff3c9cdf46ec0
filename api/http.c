/* dbaasd's HTTP transport on libmicrohttpd.
 *
 * NOTES: libmicrohttpd runs a pool of worker threads; each request is handled start to finish on
 * one of them (handlers block on the store through the thread's own connection). A request's
 * body is gathered into r->body (at most 64 KiB; beyond that it is drained and answered 413),
 * then the route is matched (api/routes.c), the caller authenticated (api/auth.c), and the
 * handler run. Every request is counted in the metrics when its reply is queued. Parked long
 * polls are resumed by one thread woken by control/notify. */
#include "api/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/audit.h"
#include "api/auth.h"
#include "api/metrics.h"
#include "api/routes.h"
#include "control/errc.h"
#include "control/notify.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static struct MHD_Daemon *daemon_handle;
/* The certificate chain and key (PEM) the daemon serves HTTPS with; kept while it runs. */
static char *tls_cert, *tls_key;
static volatile int in_flight;

/* Parked long polls, resumed by the parker thread. */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *parked;
static int nparked;                /* the length of the parked list */
static unsigned long long wakeups; /* parked requests woken by a bump, under park_lock */
static pthread_t parker_thread;
static bool parker_running;
static volatile bool stopping;
static bool park_closed; /* under park_lock: the parker made its last pass, nothing may park */

/* Every open connection, for the request deadline: one that has not sent a whole request
 * within request_timeout_ms of its opening or of its previous reply is shut down by the
 * parker. libmicrohttpd's own timeout is an idle one: a client that sends a byte every few
 * seconds (a slowloris, a dribbled body, a slow TLS handshake) would keep its connection for
 * as long as it likes. A connection whose request came whole (handled, parked, being
 * answered) is not timed. */
struct conn_watch {
    int fd;
    int64_t since_ms; /* opened, or its previous request completed */
    bool busy;        /* a whole request came and is not completed yet */
    bool cut;         /* shut down by the deadline */
    struct conn_watch *prev, *next;
};
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under watch_lock: newest first, by since_ms (a connection moves to the head when its request
 * completes), so that the oldest are found from the tail. */
static struct conn_watch *watched, *watched_tail;
static unsigned long long request_timeouts; /* connections cut, under watch_lock */
static int64_t request_timeout_ms = (int64_t)HTTP_REQUEST_TIMEOUT_S * 1000;
/* The connection limit (--max-conns): a connection that opens when this many are open and not
 * cut evicts the oldest of them that has no whole request (an idle keep-alive connection, a
 * request still coming in), so that clients holding connections without requests cannot keep
 * the others out, from however many addresses. libmicrohttpd's own limit is EVICT_HEADROOM
 * more, for the moments between an accept and its eviction and for when every connection is
 * busy; beyond it, connections wait in the listen queue. Under watch_lock. */
#define EVICT_HEADROOM 64
static unsigned conn_limit;
static unsigned conns_live;          /* watched and not cut */
static unsigned long long evictions; /* connections evicted */
static unsigned evictions_unlogged;  /* since the last log line */

void http_reply_json(struct req *r, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (!text)
        text = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"could not encode the "
                       "reply\",\"field\":null}}");
    http_reply_text(r, status, "application/json", text);
}

int http_error(struct req *r, unsigned status, const char *code, const char *field, const char *fmt,
               ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    http_reply_json(r, status,
                    json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code, "message", msg, "field",
                              field ? json_string(field) : json_null()));
    return -1;
}

void http_reply_text(struct req *r, unsigned status, const char *content_type, char *text)
{
    free(r->reply);
    r->status = status;
    r->reply = text;
    r->content_type = content_type;
}

void http_reply_empty(struct req *r, unsigned status)
{
    http_reply_text(r, status, NULL, NULL);
}

void http_add_header(struct req *r, const char *name, const char *value)
{
    if (r->nheaders == (int)(sizeof(r->headers) / sizeof(r->headers[0])))
        return;
    r->headers[r->nheaders][0] = xstrdup(name);
    r->headers[r->nheaders][1] = xstrdup(value);
    r->nheaders++;
}

const char *http_query(struct req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* A counter read under its lock. */
static unsigned long long counter_read(pthread_mutex_t *lock, const unsigned long long *counter)
{
    unsigned long long n;

    pthread_mutex_lock(lock);
    n = *counter;
    pthread_mutex_unlock(lock);
    return n;
}

unsigned long long http_long_poll_wakeups(void)
{
    return counter_read(&park_lock, &wakeups);
}

int http_parked_count(void)
{
    int n;

    pthread_mutex_lock(&park_lock);
    n = nparked;
    pthread_mutex_unlock(&park_lock);
    return n;
}

void http_park(struct req *r, int64_t host_id, uint64_t gen, int64_t deadline_ms)
{
    r->park = true;
    r->park_host = host_id;
    r->park_gen = gen;
    r->park_deadline_ms = deadline_ms;
}

bool http_stopping(void)
{
    return stopping;
}

/* Shut down the connections that have not sent a whole request within the deadline:
 * libmicrohttpd sees the end of the stream and closes them (a request begun is completed as
 * aborted). Their descriptors are still theirs: a connection leaves the list (on_connection)
 * before libmicrohttpd closes its socket, and both happen under watch_lock's order. */
static void cut_late_connections(int64_t now)
{
    struct conn_watch *w;
    int n = 0;

    unsigned evicted;

    pthread_mutex_lock(&watch_lock);
    for (w = watched_tail; w; w = w->prev) {
        if (w->busy || w->cut || w->fd < 0)
            continue;
        if (now - w->since_ms < request_timeout_ms)
            break; /* and every one nearer the head is younger */
        shutdown(w->fd, SHUT_RDWR);
        w->cut = true;
        conns_live--;
        n++;
    }
    request_timeouts += (unsigned long long)n;
    evicted = evictions_unlogged;
    evictions_unlogged = 0;
    pthread_mutex_unlock(&watch_lock);
    if (n > 0)
        log_info("event=http_request_timeout connections=%d timeout_ms=%lld", n,
                 (long long)request_timeout_ms);
    if (evicted > 0)
        log_info("event=http_connections_evicted connections=%u limit=%u", evicted, conn_limit);
}

/* Under watch_lock, a connection just opened over the limit: shut down the oldest connection
 * without a whole request, other than the new one w (the first such from the tail: busy ones
 * keep their place until they complete). Whether one was. */
static bool evict_oldest(const struct conn_watch *w)
{
    struct conn_watch *oldest;

    for (oldest = watched_tail; oldest; oldest = oldest->prev)
        if (oldest != w && !oldest->busy && !oldest->cut && oldest->fd >= 0)
            break;
    if (!oldest)
        return false;
    shutdown(oldest->fd, SHUT_RDWR);
    oldest->cut = true;
    conns_live--;
    evictions++;
    evictions_unlogged++;
    return true;
}

/* Under watch_lock: w joins the list at its head, or leaves it. */
static void watch_link(struct conn_watch *w)
{
    w->prev = NULL;
    w->next = watched;
    if (watched)
        watched->prev = w;
    else
        watched_tail = w;
    watched = w;
}

static void watch_unlink(struct conn_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        watched = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        watched_tail = w->prev;
}

unsigned long long http_evictions(void)
{
    return counter_read(&watch_lock, &evictions);
}

unsigned long long http_request_timeouts(void)
{
    return counter_read(&watch_lock, &request_timeouts);
}

/* A connection opens or closes (libmicrohttpd's NOTIFY_CONNECTION): it joins or leaves the
 * list that the request deadline watches. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct conn_watch *w;

    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        w = xcalloc(1, sizeof(*w));
        w->fd = ci ? ci->connect_fd : -1;
        w->since_ms = clock_now_ms();
        pthread_mutex_lock(&watch_lock);
        watch_link(w);
        if (++conns_live > conn_limit)
            evict_oldest(w);
        pthread_mutex_unlock(&watch_lock);
        *socket_context = w;
        return;
    }
    if (!(w = *socket_context))
        return;
    pthread_mutex_lock(&watch_lock);
    if (!w->cut)
        conns_live--;
    watch_unlink(w);
    pthread_mutex_unlock(&watch_lock);
    *socket_context = NULL;
    free(w);
}

/* The connection's request came whole (busy), or was completed: its next one is timed from
 * now. */
static void watch_busy(struct MHD_Connection *conn, bool busy)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_watch *w = ci ? ci->socket_context : NULL;

    if (!w)
        return;
    pthread_mutex_lock(&watch_lock);
    w->busy = busy;
    if (!busy) {
        w->since_ms = clock_now_ms();
        watch_unlink(w); /* the youngest now */
        watch_link(w);
    }
    pthread_mutex_unlock(&watch_lock);
}

/* Wake the parked requests that a bump concerned (their host's generation moved past the one
 * they read at) or whose deadline passed (all of them when stopping); wakes at once on a bump,
 * and at least every 100 ms for deadlines. Only the requests parked since its last look are
 * looked at when no bump came. */
static void *parker(void *arg)
{
    uint64_t seen = notify_generation(), looked = 0;
    int64_t next_cut_ms = 0;

    (void)arg;
    for (;;) {
        struct req **pp, *r;
        int64_t now;
        uint64_t g = notify_wait(seen, 100);
        bool done = stopping, moved = g != looked;

        seen = g;
        now = clock_now_ms();
        if (now >= next_cut_ms) {
            cut_late_connections(now);
            next_cut_ms = now + 250;
        }
        pthread_mutex_lock(&park_lock);
        looked = g;
        for (pp = &parked; (r = *pp) != NULL;) {
            bool bumped =
                (moved || r->park_fresh) && notify_host_generation(r->park_host) > r->park_gen;

            r->park_fresh = false;
            if (done || bumped || now >= r->park_deadline_ms) {
                if (bumped)
                    wakeups++;
                nparked--;
                *pp = r->park_next;
                r->park_next = NULL;
                r->resume = true;
                MHD_resume_connection(r->conn);
                continue;
            }
            pp = &r->park_next;
        }
        if (done)
            park_closed = true;
        pthread_mutex_unlock(&park_lock);
        if (done)
            return NULL;
    }
}

static void req_free(struct req *r)
{
    int i;

    buf_free(&r->body);
    json_decref(r->json);
    free(r->reply);
    xfree_secret(&r->park_secret);
    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i][0]);
        free(r->headers[i][1]);
    }
    free(r);
}

/* Whether the decoded path has a control character (%0a and the like): no route has one, and
 * it must never reach a log line. */
static bool path_has_control(const char *p)
{
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* The caller's token and its role's right to route: 0, or -1 with a reply (401, 403, 503)
 * left in r. Sets r->authenticated. */
static int authorize(struct req *r, const struct route *route)
{
    if (auth_authenticate(r) < 0)
        return -1;
    if (!(route->roles & (int)r->who.role))
        return http_error(r, 403, "forbidden", NULL, "this token may not use %s %s", r->method,
                          route->entry.pattern);
    r->authenticated = true;
    return 0;
}

/* The caller's token, and its role's right to the route, checked before a body is read, so
 * that nobody without a valid token makes dbaasd read and keep up to HTTP_MAX_BODY bytes.
 * Whether a reply (401, 403, 503) was left in r. Anything else (no route, a bad path) is
 * answered after the body, by dispatch(). */
static bool refused_before_body(struct req *r)
{
    char allow[64];
    size_t index;
    const struct route *route;

    if (path_has_control(r->path) ||
        router_match(routes, routes_count, sizeof(routes[0]), r->method, r->path, &index, r->params,
                     allow, sizeof(allow)) != ROUTER_FOUND)
        return false;
    route = &routes[index];
    if (!route->roles)
        return false;
    r->route = (int)index;
    return authorize(r, route) < 0;
}

/* The answer to a request that comes while dbaasd stops: 503, and the connection closes. */
static void stopping_reply(struct req *r)
{
    http_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    http_error(r, 503, "unavailable", NULL, "dbaasd is stopping");
}

/* Whether the request announces a body (a Content-Length above 0, or chunks). */
static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");

    return te != NULL || (cl != NULL && strspn(cl, "0") != strlen(cl));
}

/* Route, authenticate and run the handler; leaves a reply in r. */
static void dispatch(struct req *r)
{
    char allow[64];
    size_t index;
    const struct route *route;

    if (path_has_control(r->path)) {
        http_error(r, 400, "invalid_path", NULL, "the path has a control character");
        return;
    }
    switch (router_match(routes, routes_count, sizeof(routes[0]), r->method, r->path, &index,
                         r->params, allow, sizeof(allow))) {
    case ROUTER_NOT_FOUND:
        http_error(r, 404, "not_found", NULL, "no such resource");
        return;
    case ROUTER_BAD_METHOD:
        http_add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        http_error(r, 405, "method_not_allowed", NULL, "method %s is not allowed here; allowed: %s",
                   r->method, allow);
        return;
    case ROUTER_FOUND:
        break;
    }
    r->route = (int)index;
    route = &routes[index];
    if (r->body_too_large) {
        http_error(r, 413, "payload_too_large", NULL, "the body is larger than %d bytes",
                   HTTP_MAX_BODY);
        return;
    }
    if (route->roles && !r->authenticated && authorize(r, route) < 0)
        return;
    route->handler(r);
}

static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    size_t len = r->reply ? strlen(r->reply) : 0;
    int i;

    resp = MHD_create_response_from_buffer(len, r->reply, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    r->reply = NULL;
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    for (i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i][0], r->headers[i][1]);
    ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    /* a long poll's time is its wait, not the server's latency: counted, not timed */
    metrics_observe(r->route, r->method, r->status,
                    r->resumed ? -1 : (double)(clock_now_ns() - r->start_ns) / 1e9);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct req *r = *con_cls;

    (void)cls;
    (void)version;
    if (!r) {
        r = xcalloc(1, sizeof(*r));
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->route = -1;
        r->start_ns = clock_now_ns();
        *con_cls = r;
        __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
        if (stopping) {
            watch_busy(conn, true);
            stopping_reply(r);
            return queue_reply(conn, r);
        }
        if (has_body(conn) && refused_before_body(r)) {
            watch_busy(conn, true);
            /* answered at once; libmicrohttpd closes the connection, the body unread */
            audit_record(r);
            return queue_reply(conn, r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > HTTP_MAX_BODY)
            r->body_too_large = true;
        else
            buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->resume)
        watch_busy(conn, true);
    if (r->resume) {
        r->resume = false;
        r->resumed = true;
        routes[r->route].handler(r);
    } else {
        dispatch(r);
    }
    if (r->park) {
        r->park = false;
        pthread_mutex_lock(&park_lock);
        if (!park_closed) {
            MHD_suspend_connection(conn);
            r->park_fresh = true;
            r->park_next = parked;
            parked = r;
            nparked++;
            pthread_mutex_unlock(&park_lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&park_lock);
        /* stopping, and nobody would wake it: answer instead */
        free(r->reply);
        r->reply = NULL;
        r->status = 0;
        stopping_reply(r);
    }
    if (!r->status)
        http_error(r, 500, "internal", NULL, "internal error");
    audit_record(r);
    return queue_reply(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    watch_busy(conn, false);
    if (*con_cls) {
        req_free(*con_cls);
        *con_cls = NULL;
        __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
    }
}

static void on_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    log_error("event=http_panic file=%s line=%u reason=\"%s\"", file, line, reason ? reason : "");
    abort();
}

/* libmicrohttpd's own error messages (a failed TLS handshake, a listen error) as our log
 * lines, with control characters, quotes and backslashes blanked out. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
            *p = ' ';
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        msg[--n] = '\0';
    log_warn("event=http_error message=\"%s\"", msg);
}

/* Free the TLS material, wiping the key. */
static void tls_free(void)
{
    if (tls_key)
        explicit_bzero(tls_key, strlen(tls_key));
    free(tls_key);
    free(tls_cert);
    tls_key = tls_cert = NULL;
}

/* Read --tls-cert and --tls-key: 0 / -1 with e set. The key must be readable by its owner
 * only, like every file that holds a secret here. */
static int tls_load(const char *cert_file, const char *key_file, struct err *e)
{
    struct stat st;
    struct err fe;

    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return err_set(e, API_E_INVALID, "this libmicrohttpd was built without TLS support");
    if (!(tls_cert = fileio_read(cert_file, 1 << 20, 0, &fe)))
        return err_set(e, API_E_INVALID, "could not read --tls-cert \"%s\": %s", cert_file, fe.msg);
    if (stat(key_file, &st) == 0 && (st.st_mode & 077) != 0) {
        tls_free();
        return err_set(e, API_E_INVALID,
                       "--tls-key \"%s\" is readable by others (mode %03o): it must be 0600",
                       key_file, (unsigned)(st.st_mode & 0777));
    }
    if (!(tls_key = fileio_read(key_file, 1 << 20, 0, &fe))) {
        tls_free();
        return err_set(e, API_E_INVALID, "could not read --tls-key \"%s\": %s", key_file, fe.msg);
    }
    return 0;
}

int http_start(const char *addr, const struct http_options *o, struct err *e)
{
    const char *cert_file = o->tls_cert, *key_file = o->tls_key;
    struct sockaddr_in sin;
    char host[64];
    const char *colon = strrchr(addr, ':');
    long port;
    char *end;
    struct rlimit nofile;
    unsigned int limit = 4000;
    int timeout_s = o->request_timeout_s > 0 ? o->request_timeout_s : HTTP_REQUEST_TIMEOUT_S;

    memset(&sin, 0, sizeof(sin));
    if (!colon || (size_t)(colon - addr) >= sizeof(host))
        return err_set(e, API_E_INVALID, "invalid listen address \"%s\": expected ADDR:PORT", addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return err_set(e, API_E_INVALID, "invalid port in listen address \"%s\"", addr);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return err_set(e, API_E_INVALID, "invalid IPv4 address \"%s\" in listen address", host);

    /* Every agent holds a long poll open: as many connections as descriptors allow (main()
     * raised the limit), keeping some for the store and the files, and libmicrohttpd's
     * EVICT_HEADROOM. */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
        nofile.rlim_cur > 4000 + 512 + EVICT_HEADROOM)
        limit = nofile.rlim_cur - 512 - EVICT_HEADROOM > 60000
                    ? 60000
                    : (unsigned)(nofile.rlim_cur - 512 - EVICT_HEADROOM);
    if (o->max_conns > 0 && o->max_conns < limit)
        limit = o->max_conns;
    conn_limit = limit;
    if ((cert_file != NULL) != (key_file != NULL))
        return err_set(e, API_E_INVALID, "--tls-cert and --tls-key go together");
    if (cert_file && tls_load(cert_file, key_file, e) < 0)
        return -1;
    request_timeout_ms = (int64_t)timeout_s * 1000;
    MHD_set_panic_func(on_panic, NULL);
    {
        /* The HTTPS options only when serving HTTPS: libmicrohttpd logs them otherwise. */
        struct MHD_OptionItem tls_opts[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key},
            {MHD_OPTION_END, 0, NULL},
        };

        errno = 0;
        daemon_handle = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                MHD_USE_ERROR_LOG | (tls_cert ? MHD_USE_TLS : 0),
            (uint16_t)port, NULL, NULL, on_request, NULL,
            /* first, or libmicrohttpd logs the options before it on its own */
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o->threads,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
            on_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout_s,
            MHD_OPTION_CONNECTION_LIMIT, limit + EVICT_HEADROOM, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            o->max_conns_ip, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_ARRAY,
            tls_cert ? tls_opts : &tls_opts[2], MHD_OPTION_END);
    }
    if (!daemon_handle) {
        int saved = errno;
        bool tls = tls_cert != NULL;

        tls_free();
        return err_set(e, API_E_SYSTEM, "could not listen on %s: %s%s", addr,
                       saved ? strerror(saved) : "libmicrohttpd failed to start",
                       tls ? " (or the --tls-cert certificate and the --tls-key key are invalid "
                             "or do not match)"
                           : "");
    }
    stopping = false;
    park_closed = false;
    {
        sigset_t all, old;
        int rc;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        rc = pthread_create(&parker_thread, NULL, parker, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            MHD_stop_daemon(daemon_handle);
            daemon_handle = NULL;
            return err_set(e, API_E_SYSTEM, "could not start the long-poll thread: error %d", rc);
        }
        parker_running = true;
    }
    return 0;
}

void http_stop(int deadline_ms)
{
    int waited = 0;

    if (!daemon_handle)
        return;
    /* No MHD_quiesce_daemon(): with epoll and a thread pool it races with the workers, which
     * remove the listen socket from their epoll sets too, and libmicrohttpd aborts the process
     * ("Failed to remove listen FD from epoll set", seen in CI). New requests are answered 503
     * instead, parked long polls answer now, and the ones in flight get deadline_ms to end. */
    stopping = true;
    if (parker_running) {
        notify_bump();
        pthread_join(parker_thread, NULL);
        parker_running = false;
    }
    while (__atomic_load_n(&in_flight, __ATOMIC_SEQ_CST) > 0 && waited < deadline_ms) {
        clock_sleep_ms(10);
        waited += 10;
    }
    MHD_stop_daemon(daemon_handle);
    daemon_handle = NULL;
    tls_free();
}
