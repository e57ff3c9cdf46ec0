/* libFuzzer target: a request body as the API's handlers take it (api/body.h): parsed with
 * duplicate keys refused, unknown fields refused, then each field of an instance create
 * checked by type and range, with api/http.c's error replies. Every refusal must leave a JSON
 * error body naming a code. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/body.h"
#include "api/http.h"
#include "lib/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the transport's part ----
 * api/http.c as it is, without a connection: libmicrohttpd's lookup of a request's header is
 * stood in for here (this definition takes precedence over the shared library's), answering a
 * Content-Type of application/json. */

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    (void)connection;
    return kind == MHD_HEADER_KIND && strcmp(key, "Content-Type") == 0 ? "application/json" : NULL;
}

/* ---- the target ---- */

static void refused(struct req *r)
{
    json_t *j;

    if (r->status < 400 || r->status > 499 || !r->reply)
        __builtin_trap();
    j = json_loads(r->reply, 0, NULL);
    if (!j || !json_is_string(json_object_get(json_object_get(j, "error"), "code")))
        __builtin_trap();
    json_decref(j);
}

static bool any_text(const char *s)
{
    return s != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const create[] = {"name", "engine",        "plan",    "replicas",
                                         "sync", "max_lag_bytes", "version", NULL};
    struct req r;
    const char *s;
    int64_t n = 0;
    bool b = false, is_null;

    memset(&r, 0, sizeof(r));
    buf_append(&r.body, data, size);
    if (body_parse(&r, true) < 0 || body_allow(&r, create) < 0 ||
        body_name(&r, "name", true, &s) < 0 ||
        body_string(&r, "engine", true, 32, any_text, "an engine", &s) < 0 ||
        body_string(&r, "version", false, 32, any_text, "a version", &s) < 0 ||
        body_int(&r, "replicas", false, false, 0, 5, &n, &is_null) < 0 ||
        body_bool(&r, "sync", &b) < 0 ||
        body_int(&r, "max_lag_bytes", false, true, 0, INT64_MAX, &n, &is_null) < 0)
        refused(&r);
    else if (r.reply)
        __builtin_trap(); /* accepted, yet an error was left */
    json_decref(r.json);
    free(r.reply);
    buf_free(&r.body);
    return 0;
}
