/* Route matching: a table of (method, pattern) where a pattern segment "{x}" matches one
 * non-empty path segment. Knows nothing of HTTP servers, so tests can link it alone. */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 3
#define ROUTER_PARAM_MAX 256

struct route_entry {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/instances/{id}"; also the route's metrics label */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* Match method and path against the n entries of table (an array of structs of entry_size
 * bytes, each starting with a struct route_entry). On ROUTER_FOUND sets *index and copies the
 * captured segments into params (each ROUTER_PARAM_MAX bytes; a longer segment does not match).
 * On ROUTER_BAD_METHOD writes the allowed methods, comma-separated, into allow. */
enum router_result router_match(const void *table, size_t n, size_t entry_size, const char *method,
                                const char *path, size_t *index,
                                char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], char *allow,
                                size_t allow_size);

#endif
