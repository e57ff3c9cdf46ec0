/* libFuzzer target: an agent's heartbeat body as dbaasd parses and checks it before anything
 * reaches the store: JSON with duplicate keys refused, the host's own fields (api/hbcheck.h,
 * hbcheck_host(): ports, seed_port, lease_valid, io_limits), then the members' check, which
 * cleans each member's health, seeding and usage in place, and what the heartbeat memo
 * (api/hbmemo.h) decides to write for the members that passed. Whatever passes must hold only
 * the known fields of the known types, its counts within the store's int columns; host fields
 * accepted are the ones the body holds, in range; a heartbeat repeated at once after its
 * writes writes nothing, and the first one of a host writes everything. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/hbcheck.h"
#include "api/hbmemo.h"
#include "lib/hbproto.h"

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

/* Whether v is absent, or an integer in lo..hi. */
static bool int_in(const json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

/* hbcheck_host() against what the body holds. */
static void check_host(const json_t *body)
{
    const json_t *ports = json_object_get(body, HB_F_PORTS);
    const json_t *seed = json_object_get(body, HB_F_SEED_PORT);
    const json_t *lv = json_object_get(body, HB_F_LEASE_VALID);
    const json_t *io = json_object_get(body, HB_F_IO_LIMITS);
    struct hbcheck_host h;
    const char *field = NULL;
    struct err e;

    if (hbcheck_host(body, &h, &field, &e) < 0) {
        if (!field || e.msg[0] == '\0')
            __builtin_trap();
        /* the field blamed is one that is there */
        if (!json_object_get(body, field))
            __builtin_trap();
        return;
    }
    if (h.has_ports != (ports != NULL))
        __builtin_trap();
    if (ports && (!int_in(json_object_get(ports, HB_F_MIN), 1024, 65535) ||
                  !int_in(json_object_get(ports, HB_F_MAX), 1024, 65535) ||
                  json_integer_value(json_object_get(ports, HB_F_MIN)) != h.port_min ||
                  json_integer_value(json_object_get(ports, HB_F_MAX)) != h.port_max ||
                  h.port_min > h.port_max))
        __builtin_trap();
    if (seed && !json_is_null(seed) && !int_in(seed, 1, 65535))
        __builtin_trap();
    if ((lv && !json_is_boolean(lv)) || (io && !json_is_boolean(io)))
        __builtin_trap();
}

/* A member that passed: its scalars fit the store's columns (int for the counts). */
static void check_member(const json_t *m)
{
    static const char *const ints[] = {HB_F_PID, HB_F_RESTARTS, HB_F_APPLIED_VERSION,
                                       HB_F_RESIZE_VERSION};
    static const char *const bools[] = {HB_F_PENDING_RESTART, HB_F_FENCED};

    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        const json_t *v = json_object_get(m, ints[i]);
        if (v && !int_in(v, 0, INT32_MAX))
            __builtin_trap();
    }
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        const json_t *v = json_object_get(m, bools[i]);
        if (v && !json_is_boolean(v))
            __builtin_trap();
    }
    if (json_object_get(m, HB_F_RESIZE_ERROR) &&
        !json_is_string(json_object_get(m, HB_F_RESIZE_ERROR)))
        __builtin_trap();
}

/* The memo's plan for members that passed the check (as api/heartbeat.c runs it). */
static void check_memo(json_t *body, json_t *members)
{
    const int64_t host = 42, now = INT64_C(1) << 40;
    struct hbmemo_plan p1, p2, p3;
    json_t *agent = json_deep_copy(body), *m;
    char *agent_text;
    bool deleted = false;
    size_t i;

    if (json_is_object(agent)) {
        json_object_del(agent, HB_F_MEMBERS);
        json_object_del(agent, HB_F_DESIRED_HASH);
        json_object_del(agent, HB_F_WAIT_MS);
    }
    agent_text = json_dumps(agent, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(agent);
    json_array_foreach(members, i, m)
    {
        const char *st = json_string_value(json_object_get(m, HB_F_STATE));
        deleted = deleted || (st && strcmp(st, HB_STATE_DELETED) == 0);
    }

    hbmemo_forget(host);
    hbmemo_plan(host, agent_text, members, true, now, &p1);
    if (!p1.host || json_array_size(p1.members) != json_array_size(members) ||
        p1.any_deleted != deleted)
        __builtin_trap();
    hbmemo_done(host, &p1, now);
    hbmemo_plan(host, agent_text, members, true, now + 1, &p2);
    if (p2.host || json_array_size(p2.members) != 0)
        __builtin_trap(); /* nothing changed: nothing to write */
    hbmemo_plan(host, agent_text, members, false, now + HBMEMO_HOST_MS, &p3);
    if (!p3.host)
        __builtin_trap(); /* a host not ready, or not written for long, is written */
    hbmemo_plan_free(&p1);
    hbmemo_plan_free(&p2);
    hbmemo_plan_free(&p3);
    hbmemo_forget(host);
    free(agent_text);
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
    check_host(body);
    members = json_is_object(body) ? json_object_get(body, "members") : body;
    if (members && hbcheck_members(members, &e) == 0) {
        json_array_foreach(members, i, m)
        {
            check_flat(json_object_get(m, "health"));
            check_flat(json_object_get(m, "seeding"));
            check_flat(json_object_get(m, "usage"));
            check_member(m);
        }
        check_memo(body, members);
    }
    /* the cleaners alone, on whatever the body is */
    json_decref(hbcheck_health(body));
    json_decref(hbcheck_seeding(body));
    json_decref(hbcheck_usage(body));
    json_decref(body);
    return 0;
}
