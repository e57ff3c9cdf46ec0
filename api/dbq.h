/* The glue between handlers and the store: run a statement for a request and answer store
 * failures, turn result columns into JSON, and paginate lists. */
#ifndef API_DBQ_H
#define API_DBQ_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "api/http.h"

#define DBQ_PARAMS(...) ((const char *const[]){__VA_ARGS__})
#define DBQ_NPARAMS(...) ((int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
/* dbq_run(r, sql, p1, p2, ...): the statement's result (success or SQL error), or NULL after
 * replying 503/500 when the store could not be reached. The caller PQclears the result. */
#define dbq_run(r, sql, ...) dbq_exec((r), (sql), DBQ_NPARAMS(__VA_ARGS__), DBQ_PARAMS(__VA_ARGS__))
/* Like dbq_run, but an SQL error is also answered (500) and turned into NULL. */
#define dbq_ok(r, sql, ...)                                                                        \
    dbq_exec_ok((r), (sql), DBQ_NPARAMS(__VA_ARGS__), DBQ_PARAMS(__VA_ARGS__))

/* The store could not answer: 503 when unreachable, 500 (logged) otherwise. Returns -1. */
int dbq_store_error(struct req *r, const struct err *e);
/* 500 for an unexpected SQL error result (logged with its message). Returns -1. */
int dbq_sql_error(struct req *r, const PGresult *res);

PGresult *dbq_exec(struct req *r, const char *sql, int n, const char *const *params);
PGresult *dbq_exec_ok(struct req *r, const char *sql, int n, const char *const *params);

/* Transaction control on this thread's connection. 0, or -1 after replying. */
int dbq_begin(struct req *r) __attribute__((warn_unused_result));
int dbq_commit(struct req *r) __attribute__((warn_unused_result));
void dbq_rollback(void);

/* SQLSTATE checks on a failed result. */
bool dbq_unique_violation(const PGresult *res);
bool dbq_fk_violation(const PGresult *res);

/* JSON from column c of row: text, integer (JSON null when SQL NULL), boolean, and a JSON
 * document stored as text (e.g. array_to_json(...)). New references. */
json_t *dbq_str(const PGresult *res, int row, int c);
json_t *dbq_int(const PGresult *res, int row, int c);
json_t *dbq_bool(const PGresult *res, int row, int c);
json_t *dbq_json(const PGresult *res, int row, int c);

/* Reply with the single row of res made by fn (status), or 404 "<what> not found" when there is
 * none. Clears res. */
void dbq_reply_one(struct req *r, PGresult *res, unsigned status,
                   json_t *(*fn)(const PGresult *res, int row), const char *what);
/* Answer an INSERT ... RETURNING of a resource named name: 201 with the row, 409 when the name
 * is taken (kind names the resource in the message), 500 on another SQL error. Clears res. */
void dbq_reply_created(struct req *r, PGresult *res, const char *kind, const char *name,
                       json_t *(*fn)(const PGresult *res, int row));

/* Read ?limit= (default 100, max 1000) and ?after= (a cursor). On success *limit is set and
 * after holds the decimal position to start after ("0" for the first page). 0, or -1 after
 * replying 400 invalid_field. */
int dbq_page_args(struct req *r, int *limit, char after[24]) __attribute__((warn_unused_result));

/* Reply 200 {"items":[...],"next":...}: one item per row (at most limit) made by row_fn; the
 * row's position is the integer in column seq_col. res holds up to limit + 1 rows: an extra row
 * means there is a next page. Clears res. */
void dbq_reply_page(struct req *r, PGresult *res, int limit, int seq_col,
                    json_t *(*row_fn)(const PGresult *res, int row));

/* A list route with no filter: read ?limit= and ?after=, run sql with ($1 = after, $2 = limit
 * + 1) and reply the page (see dbq_reply_page). */
void dbq_list(struct req *r, const char *sql, int seq_col,
              json_t *(*row_fn)(const PGresult *res, int row));

/* Read ?tenant= of a list route: a tenant name, or NULL when absent. 0, or -1 after replying 400
 * invalid_field. */
int dbq_tenant_arg(struct req *r, const char **tenant) __attribute__((warn_unused_result));
/* Whether the caller is a tenant that names another tenant in ?tenant= (tenant from
 * dbq_tenant_arg): it may see nothing there, so this replies the empty page and returns true. */
bool dbq_other_tenant(struct req *r, const char *tenant);

/* A decimal string of v in out. */
void dbq_i64(int64_t v, char out[24]);

#endif
