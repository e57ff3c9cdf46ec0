/* api/settings.c's part that tests/fuzz/fuzz_body.c drives: the scheduler's settings in a
 * PUT body. The handlers themselves are in api/handlers.h. */
#ifndef API_SETTINGS_H
#define API_SETTINGS_H

#include "api/http.h"

#define SETTINGS_SCHEDULER_N 6

/* The settings' names: the body's fields and the settings table's keys, NULL-terminated:
 * policy, the cpu, memory and disk overcommit ratios, heartbeat_timeout_ms,
 * unreachable_grace_s. */
extern const char *const settings_scheduler_keys[SETTINGS_SCHEDULER_N + 1];

/* The values to store, by settings_scheduler_keys' index (NULL: not given). */
struct settings_scheduler {
    const char *values[SETTINGS_SCHEDULER_N]; /* each borrowed from r->json or from text */
    char text[SETTINGS_SCHEDULER_N][32];
};

/* Check the fields of a parsed body (body_parse(), body_allow() with settings_scheduler_keys)
 * into out: policy "binpack" or "spread", each ratio a number from 0.001 to 4 (stored with 3
 * decimals), heartbeat_timeout_ms 1000..600000, unreachable_grace_s 0..86400. 0, or -1 after
 * replying 400 naming the field. */
int settings_scheduler_body(struct req *r, struct settings_scheduler *out)
    __attribute__((warn_unused_result));

#endif
