/* libFuzzer target: a heartbeat reply as dbaas-agent reads it from dbaasd (agent/desired.h,
 * agent/member.h, agent/lessee.h): its generation, its hash and heartbeat interval
 * (desired_reply_info(), what reconcile() keeps), its lease field as leasing_reply() takes it
 * (lessee_reply_parse()), which members it lists (desired_lists(), which decides whose fence
 * may be cleared), each desired member's check and the member built from it (then updated
 * from the same entry), and the plan of steps for an agent that knows those members. A member
 * built from an entry must be one the check accepted; the hash kept is the reply's whole, the
 * interval within its bounds; a lease is off only when absent or null, and settings taken are
 * in range; a member is listed exactly when an entry carries its id. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/desired.h"
#include "agent/lessee.h"
#include "agent/member.h"
#include "lib/hbproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The hash and the interval against what the reply holds. */
static void check_info(const json_t *reply)
{
    const json_t *hash = json_object_get(reply, HB_F_DESIRED_HASH);
    const json_t *interval = json_object_get(reply, HB_F_HEARTBEAT_INTERVAL_MS);
    struct desired_reply_info info;
    size_t len;

    memset(&info, 'x', sizeof(info));
    desired_reply_info(reply, &info);
    len = strnlen(info.hash, sizeof(info.hash));
    if (len == sizeof(info.hash))
        __builtin_trap();
    if (len > 0 && (!json_is_string(hash) || json_string_length(hash) != len ||
                    memcmp(json_string_value(hash), info.hash, len) != 0))
        __builtin_trap(); /* a hash kept is the reply's, whole */
    if (info.heartbeat_ms != 0 && (info.heartbeat_ms < DESIRED_INTERVAL_MIN_MS ||
                                   info.heartbeat_ms > DESIRED_INTERVAL_MAX_MS))
        __builtin_trap();
    if ((info.heartbeat_ms != 0) != json_is_integer(interval))
        __builtin_trap();
    if (json_is_integer(interval) && json_integer_value(interval) >= DESIRED_INTERVAL_MIN_MS &&
        json_integer_value(interval) <= DESIRED_INTERVAL_MAX_MS &&
        info.heartbeat_ms != json_integer_value(interval))
        __builtin_trap();
}

/* The lease field: off only when absent or null; settings taken in their ranges; a refusal
 * never quotes the key. */
static void check_lease(const json_t *lease)
{
    struct lessee_settings s;
    struct err e;
    const char *key;

    e.msg[0] = '\0';
    switch (lessee_reply_parse(lease, &s, &e)) {
    case LESSEE_REPLY_NONE:
        if (lease && !json_is_null(lease))
            __builtin_trap();
        break;
    case LESSEE_REPLY_OK:
        if (s.host_id < 1 || s.port < 1 || s.port > 65535 || s.renew_ms < 1 ||
            2 * (int64_t)s.renew_ms > s.ttl_ms || s.ttl_ms > 600000)
            __builtin_trap();
        break;
    case LESSEE_REPLY_BAD:
        key = json_string_value(json_object_get(lease, HB_F_KEY));
        if (!lease || json_is_null(lease) || e.msg[0] == '\0' ||
            (key && strlen(key) >= 8 && strstr(e.msg, key)))
            __builtin_trap();
        break;
    default:
        __builtin_trap();
    }
}

/* desired_lists() against a plain look at every entry, for each entry's id and one more. */
static void check_lists(const json_t *desired)
{
    const json_t *d, *probe;
    size_t i, j;

    json_array_foreach(desired, i, probe)
    {
        const json_t *v = json_object_get(probe, HB_F_ID);
        int64_t ids[2];
        if (!json_is_integer(v))
            continue;
        ids[0] = json_integer_value(v);
        ids[1] = ids[0] == INT64_MAX ? 0 : ids[0] + 1;
        for (int k = 0; k < 2; k++) {
            bool there = false;
            json_array_foreach(desired, j, d)
            {
                const json_t *w = json_object_get(d, HB_F_ID);
                there = there || (json_is_integer(w) && json_integer_value(w) == ids[k]);
            }
            if (desired_lists(desired, ids[k]) != there)
                __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *reply = json_loadb((const char *)data, size, 0, NULL), *desired, *d;
    struct member *known = NULL, *m;
    struct lessee_settings s;
    struct desired_step *steps;
    int64_t generation;
    struct err e;
    size_t i;

    if (!reply)
        return 0;
    (void)desired_reply_current(reply, 0, &generation);
    (void)lessee_settings_parse(json_object_get(reply, HB_F_LEASE), &s, &e);
    check_info(reply);
    check_lease(json_object_get(reply, HB_F_LEASE));
    desired = json_object_get(reply, HB_F_MEMBERS);
    if (!json_is_array(desired))
        desired = json_is_array(reply) ? reply : NULL;
    check_lists(desired);
    if (!json_is_array(reply) && desired_lists(reply, 1))
        __builtin_trap(); /* what is not an array lists nothing */
    json_array_foreach(desired, i, d)
    {
        int ok = member_desired_check(d, &e);
        m = member_from_desired(d, &e);
        if (m && ok != 0)
            __builtin_trap();
        if (m) {
            (void)member_update_desired(m, d);
            (void)member_repl_differs(m, d);
            (void)member_fenceable(m);
            m->next = known;
            known = m;
        }
    }
    if (desired)
        free(steps = NULL), (void)desired_plan(known, desired, &steps), free(steps);
    while (known) {
        m = known->next;
        member_free(known);
        known = m;
    }
    json_decref(reply);
    return 0;
}
