/* libFuzzer target: a heartbeat reply as dbaas-agent reads it from dbaasd (agent/desired.h,
 * agent/member.h, agent/lessee.h): its generation, its lease object, each desired member's
 * check and the member built from it (then updated from the same entry), and the plan of
 * steps for an agent that knows those members. A member built from an entry must be one the
 * check accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "agent/desired.h"
#include "agent/lessee.h"
#include "agent/member.h"
#include "lib/hbproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    desired = json_object_get(reply, HB_F_MEMBERS);
    if (!json_is_array(desired))
        desired = json_is_array(reply) ? reply : NULL;
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
