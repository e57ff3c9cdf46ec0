/* api/hosts.c's part that tests/fuzz/fuzz_body.c drives: a host registration's "engines".
 * The handlers themselves are in api/handlers.h. */
#ifndef API_HOSTS_H
#define API_HOSTS_H

#include "api/http.h"
#include "lib/buf.h"

/* The parsed body's "engines" (a non-empty array of distinct engines of lib/catalog.h) as a
 * PostgreSQL array literal "{a,b}" appended to out (the caller frees it). 0, or -1 after
 * replying 400 naming "engines". */
int hosts_engines_param(struct req *r, struct buf *out) __attribute__((warn_unused_result));

#endif
