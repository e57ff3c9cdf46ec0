/* A small HTTP client on libcurl for dbaasctl and dbaas-agent: JSON requests with a bearer token.
 */
#ifndef LIB_HTTPC_H
#define LIB_HTTPC_H

#include "lib/buf.h"
#include "lib/err.h"

struct httpc; /* opaque: one reusable curl handle */

struct httpc *httpc_new(const char *base_url, const char *token);
void httpc_free(struct httpc *c);
/* Use token (copied; NULL: no Authorization header) from the next request on. Not thread-safe:
 * call it on the thread that uses c. */
void httpc_set_token(struct httpc *c, const char *token);

/* Verify https servers against the PEM CA bundle in path (copied; NULL: the system's CAs)
 * from the next request on. A server whose certificate does not chain to it, or does not name
 * the URL's host, gets no request: httpc_request() fails. */
void httpc_set_ca_file(struct httpc *c, const char *path);

/* Set a header for the next request only (e.g. "Idempotency-Key: x"). Copied. */
void httpc_add_header(struct httpc *c, const char *header);

/* Send method path (joined to base_url) with an optional JSON body (NULL for none; sets
 * Content-Type: application/json). On a completed exchange returns 0, sets *status and fills
 * resp (reset first) with the body. Returns -1 with e set when no HTTP answer came
 * (connection refused, timeout after timeout_ms, ...). */
int httpc_request(struct httpc *c, const char *method, const char *path, const char *body,
                  long timeout_ms, long *status, struct buf *resp, struct err *e)
    __attribute__((warn_unused_result));

#endif
