/* dbaasctl's side of the REST API: requests with JSON bodies, error reporting in the house format
 * and list pagination, on top of lib/httpc. Errors are printed to stderr here; callers only turn
 * -1 into exit status 1. */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct client; /* opaque */

/* Default time allowed for one request. */
#define CLIENT_TIMEOUT_MS 30000L

/* A client for the dbaasd at url, authenticating with token (NULL: none), verifying an https
 * server against the PEM CAs in ca_file (NULL: the system's). All are copied. The caller frees
 * it with client_free(). NULL when libcurl cannot be initialized. */
struct client *client_new(const char *url, const char *token, const char *ca_file);
void client_free(struct client *c);

/* Send one request. body is borrowed (NULL: none); header is an extra header line (NULL: none).
 * When an HTTP answer came, returns 0 with *status set and *out the parsed JSON body (a new
 * reference the caller releases; NULL when the body is empty or not JSON). Returns -1 after
 * printing "could not connect ..." when no answer came. */
int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   const char *header, long timeout_ms, long *status, json_t **out)
    __attribute__((warn_unused_result));

/* Print the error an answer with a non-2xx status carries: "dbaasctl: code: message (field: f)",
 * or the HTTP status when the body is not an error object. body may be NULL. */
void client_print_error(struct client *c, long status, json_t *body);

/* client_request() that also treats any non-2xx answer as an error (printed) and requires a JSON
 * object body on success, except for 204. *out (may be NULL to ignore the body) gets a new
 * reference or NULL for 204. 0 / -1. */
int client_call(struct client *c, const char *method, const char *path, json_t *body,
                const char *header, json_t **out) __attribute__((warn_unused_result));

/* GET a list at path (which may already carry a query string). limit <= 0: follow "next" through
 * every page and answer {"items":[all],"next":null}; limit > 0: one page of at most limit items
 * after the cursor after (NULL: from the start), as the server answered it. *out is a new
 * reference. 0 / -1 (printed). */
int client_list(struct client *c, const char *path, int64_t limit, const char *after, json_t **out)
    __attribute__((warn_unused_result));

#endif
