/* dbaasd's HTTP layer on libmicrohttpd: the request object handlers see, replies, and the JSON
 * body helpers that turn bad input into 4xx answers naming the field. */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "api/router.h"
#include "lib/buf.h"
#include "lib/err.h"

#define HTTP_MAX_BODY (64 * 1024)

enum role { ROLE_NONE = 0, ROLE_OPERATOR = 1, ROLE_TENANT = 2, ROLE_HOST = 4 };

/* Who is calling, from the bearer token. */
struct principal {
    enum role role;
    char tenant_id[24]; /* ROLE_TENANT: the tenant's id (decimal) and name */
    char tenant[64];
    char host_id[24]; /* ROLE_HOST */
    char host[64];
    char actor[80]; /* for events: "operator", "tenant:acme", "host:h1" */
};

struct req {
    void *conn; /* struct MHD_Connection */
    const char *method;
    const char *path;
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX];
    int route; /* index in the route table, -1 when none matched */
    struct buf body;
    bool body_too_large;
    json_t *json; /* the parsed body, when the handler asked for it; owned */
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
    uint64_t park_gen;
    int64_t park_deadline_ms;
    char park_hash[65]; /* handler state kept across resumptions */
    struct req *park_next;
};

/* Reply helpers. Each sets the request's one reply; a second call replaces the first. */
/* 'body' is stolen (jansson reference). */
void http_reply_json(struct req *r, unsigned status, json_t *body);
/* {"error":{"code","message","field"}}; field may be NULL. Always returns -1. */
int http_error(struct req *r, unsigned status, const char *code, const char *field, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));
/* The store could not answer: 503 when unreachable, 500 (logged) otherwise. Returns -1. */
int http_store_error(struct req *r, const struct err *e);
/* 500 for an unexpected SQL error result (logged with its message). Returns -1. */
int http_sql_error(struct req *r, const void *pgresult);
void http_reply_text(struct req *r, unsigned status, const char *content_type, char *text_stolen);
void http_reply_empty(struct req *r, unsigned status);
/* Add a reply header; both copied. */
void http_add_header(struct req *r, const char *name, const char *value);

/* A query-string argument, or NULL. */
const char *http_query(struct req *r, const char *key);
/* A request header, or NULL. */
const char *http_header(struct req *r, const char *name);

/* Parse the body as a JSON object into r->json. An empty body counts as {} when !required.
 * Replies 415 (not application/json), 400 invalid_json (not a JSON object) and returns -1. */
int http_parse_body(struct req *r, bool required) __attribute__((warn_unused_result));

/* Reject fields of r->json not in allowed (NULL-terminated): 400 invalid_field. 0 / -1. */
int body_allow(struct req *r, const char *const *allowed) __attribute__((warn_unused_result));
/* A string field matching valid_name. *out NULL when absent and !required. 0 / -1 (replied). */
int body_name(struct req *r, const char *key, bool required, const char **out)
    __attribute__((warn_unused_result));
/* A string field of 1..max_len characters, checked by ok() if given. 0 / -1 (replied). */
int body_string(struct req *r, const char *key, bool required, size_t max_len,
                bool (*ok)(const char *), const char *what, const char **out)
    __attribute__((warn_unused_result));
/* An integer field in [min, max]. When nullable, JSON null (or absent, if !required) sets
 * *is_null. When absent and !required and !nullable, *out keeps its default. 0 / -1 (replied). */
int body_int(struct req *r, const char *key, bool required, bool nullable, int64_t min, int64_t max,
             int64_t *out, bool *is_null) __attribute__((warn_unused_result));

/* Long poll: instead of replying, a handler may park the request, which then holds no thread,
 * until notify_bump() moves the generation past gen or deadline_ms (monotonic) passes; then the
 * handler runs again with r->resumed set and answers (or parks again). */
void http_park(struct req *r, uint64_t gen, int64_t deadline_ms);
/* Whether the server is stopping (parked requests must answer now). */
bool http_stopping(void);

/* Handlers: one per route. They leave a reply in r, or park it (http_park). */
typedef void (*http_handler)(struct req *r);

struct route {
    struct route_entry entry;
    int roles; /* bit set of enum role allowed; 0 = no authentication */
    http_handler handler;
};

/* Start serving addr ("127.0.0.1:8080") with nthreads workers. 0 / -1 with e set. */
int http_start(const char *addr, int nthreads, struct err *e) __attribute__((warn_unused_result));
/* Stop accepting, wait (up to deadline_ms) for requests in flight, then stop. */
void http_stop(int deadline_ms);

#endif
