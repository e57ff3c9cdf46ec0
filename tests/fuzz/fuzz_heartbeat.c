/* libFuzzer target: an agent's heartbeat body as dbaasd parses and checks it before anything
 * reaches the store (api/hbcheck.h): JSON with duplicate keys refused, then the members'
 * check, which cleans each member's health, seeding and usage in place. Whatever passes must
 * hold only the known fields of the known types. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api/hbcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A cleaned object holds only integers, reals, booleans and strings. */
static void check_flat(const json_t *o)
{
    const char *k;
    json_t *v;

    if (!o)
        return;
    if (!json_is_object(o))
        __builtin_trap();
    json_object_foreach((json_t *)o, k, v)
    {
        if (json_is_object(v) || json_is_array(v) || json_is_null(v))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    json_t *members, *m;
    struct err e;
    size_t i;

    if (!body)
        return 0;
    members = json_is_object(body) ? json_object_get(body, "members") : body;
    if (members && hbcheck_members(members, &e) == 0) {
        json_array_foreach(members, i, m)
        {
            check_flat(json_object_get(m, "health"));
            check_flat(json_object_get(m, "seeding"));
            check_flat(json_object_get(m, "usage"));
        }
    }
    /* the cleaners alone, on whatever the body is */
    json_decref(hbcheck_health(body));
    json_decref(hbcheck_seeding(body));
    json_decref(hbcheck_usage(body));
    json_decref(body);
    return 0;
}
