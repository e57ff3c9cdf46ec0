/* libFuzzer target: the parts of a request line dbaasd parses itself: the path against the
 * real route table (api/routes.h), page cursors and limits (lib/cursor.h), CPU and memory
 * quantities (lib/quantity.h) and the names and identifiers of lib/valid.h. The input is cut at
 * its first NUL bytes into a method, a path and a query value. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/router.h"
#include "api/routes.h"
#include "lib/cursor.h"
#include "lib/quantity.h"
#include "lib/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 3), *method, *path, *value, *again;
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[128];
    int64_t seq, n;
    size_t index;
    int limit;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = text[size + 2] = '\0';
    method = text;
    path = method + strlen(method) + 1;
    value = path + strlen(path) + 1;
    if (value > text + size + 2)
        value = text + size + 2;

    if (router_match(routes, routes_count, sizeof(routes[0]), method, path, &index, params, allow,
                     sizeof(allow)) == ROUTER_FOUND) {
        if (index >= routes_count)
            __builtin_trap();
        for (int i = 0; i < ROUTER_MAX_PARAMS; i++)
            if (strnlen(params[i], ROUTER_PARAM_MAX) == ROUTER_PARAM_MAX)
                __builtin_trap();
    }
    if (cursor_decode(value, &seq) == 0) {
        again = cursor_encode(seq);
        if (cursor_decode(again, &n) != 0 || n != seq)
            __builtin_trap();
        free(again);
    }
    if (cursor_parse_limit(value, 1000, &limit) == 0 && (limit < 1 || limit > 1000))
        __builtin_trap();
    if (quantity_parse_cpu(value, &n) == 0 && n < 0)
        __builtin_trap();
    if (quantity_parse_mb(value, &n) == 0 && n < 0)
        __builtin_trap();
    (void)valid_name(value);
    (void)valid_uuid(value);
    (void)valid_idempotency_key(value);
    (void)valid_address(value);
    free(text);
    return 0;
}
