/* dbaasd's HTTP transport on libmicrohttpd: the request object handlers see, its replies
 * (JSON bodies and error bodies), long polls, and starting and stopping the server. Who calls
 * is in api/auth.h, body validation in api/body.h, the route table in api/routes.h. */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "api/auth.h"
#include "api/router.h"
#include "lib/buf.h"
#include "lib/err.h"

#define HTTP_MAX_BODY (64 * 1024)

struct req {
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX];
    int route; /* index in the route table, -1 when none matched */
    struct buf body;
    bool body_too_large;
    bool authenticated; /* r->who is filled (before the body was read) */
    json_t *json;       /* the parsed body, when the handler asked for it; owned */
    struct principal who;
    /* the reply */
    unsigned status;
    char *reply; /* owned */
    const char *content_type;
    char *headers[4][2]; /* owned name/value pairs */
    int nheaders;
    int64_t start_ns;
    /* long poll (http_park): the handler runs again, with resumed set, once woken */
    bool park;    /* set by http_park: park instead of replying */
    bool resume;  /* set by the parker: the next call resumes */
    bool resumed; /* this run of the handler is a resumption */
    uint64_t park_gen; /* the notify generation the handler read at */
    int64_t park_host; /* the host whose changes wake it (0: any change) */
    bool park_fresh;   /* parked since the parker's last look */
    int64_t park_deadline_ms;
    char park_hash[65];   /* handler state kept across resumptions */
    long long park_value; /* the same: a number (the heartbeat's generation) */
    char *park_secret;    /* owned: a secret kept across resumptions (a create's one-time
                             password); wiped and freed with the request */
    struct req *park_next;
};

/* Reply helpers. Each sets the request's one reply; a second call replaces the first. */
/* 'body' is stolen (jansson reference). */
void http_reply_json(struct req *r, unsigned status, json_t *body);
/* {"error":{"code","message","field"}}; field may be NULL. Always returns -1. */
int http_error(struct req *r, unsigned status, const char *code, const char *field, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));
void http_reply_text(struct req *r, unsigned status, const char *content_type, char *text_stolen);
void http_reply_empty(struct req *r, unsigned status);
/* Add a reply header; both copied. */
void http_add_header(struct req *r, const char *name, const char *value);

/* A query-string argument, or NULL. */
const char *http_query(struct req *r, const char *key);
/* A request header, or NULL. */
const char *http_header(struct req *r, const char *name);

/* Long poll: instead of replying, a handler may park the request, which then holds no thread,
 * until a bump that concerns host_id (any bump when 0; control/notify.h) moves its generation
 * past gen, or deadline_ms (monotonic) passes; then the handler runs again with r->resumed set
 * and answers (or parks again). */
void http_park(struct req *r, int64_t host_id, uint64_t gen, int64_t deadline_ms);
/* Whether the server is stopping (parked requests must answer now). */
bool http_stopping(void);
/* How many requests are parked now (a gauge for /metrics). */
int http_parked_count(void);
/* How many connections were evicted at the connection limit, since the start (a counter). */
unsigned long long http_evictions(void);
/* How many parked requests a bump that concerned them woke, since the start (a counter). */
unsigned long long http_long_poll_wakeups(void);

/* The listener's settings (dbaasd's options). */
struct http_options {
    int threads;           /* worker threads */
    const char *tls_cert;  /* HTTPS with this PEM certificate chain and */
    const char *tls_key;   /* this key (a 0600 file); both NULL: plain HTTP */
    unsigned max_conns;    /* open connections at most (over it, a new one evicts the oldest
                            * without a whole request); 0: as many as descriptors allow */
    unsigned max_conns_ip; /* from one IP address at most; 0: no such limit */
    int request_timeout_s; /* a whole request within this of a connection's opening or of its
                            * previous reply, and no longer idle; 0: HTTP_REQUEST_TIMEOUT_S */
};

/* The default of request_timeout_s (libmicrohttpd's idle timeout was 60 s before). */
#define HTTP_REQUEST_TIMEOUT_S 60

/* Connections shut down by the request deadline since the start. */
unsigned long long http_request_timeouts(void);

/* The default of max_conns_ip: enough for the agents and clients behind one address. */
#define HTTP_MAX_CONNS_IP 256

/* Start serving addr ("127.0.0.1:8080") with o. A connection over a limit is closed as soon
 * as it is accepted. 0 / -1 with e set. */
int http_start(const char *addr, const struct http_options *o, struct err *e)
    __attribute__((warn_unused_result));
/* Stop accepting, wait (up to deadline_ms) for requests in flight, then stop. */
void http_stop(int deadline_ms);

#endif
