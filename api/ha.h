/* api/ha.c's part that tests/fuzz/fuzz_body.c drives: the HA settings in a PUT body. The
 * handlers themselves are in api/handlers.h. */
#ifndef API_HA_H
#define API_HA_H

#include "api/http.h"
#include "ha/failover.h"

/* The settings in struct failover_config order, NULL-terminated: the body's fields and the
 * ha_settings columns. */
extern const char *const ha_config_keys[7];

/* Take the fields a parsed body (body_parse(), body_allow() with ha_config_keys) gives over
 * c's current values, each checked against its range (failover_config_set()), then the
 * settings together (failover_config_check()). 0, or -1 after replying 400 naming the field
 * at fault (c then partly updated). */
int ha_config_body(struct req *r, struct failover_config *c) __attribute__((warn_unused_result));

#endif
