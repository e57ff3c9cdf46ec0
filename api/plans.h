/* api/plans.c's part that tests/fuzz/fuzz_body.c drives: a plan's body. The handlers
 * themselves are in api/handlers.h. */
#ifndef API_PLANS_H
#define API_PLANS_H

#include <stdint.h>

#include "api/http.h"

#define PLANS_SIZES 7

/* A plan as its body gives it. */
struct plans_body {
    const char *name; /* borrowed from r->json */
    /* cpu_millis, memory_mb, disk_mb (given, >= 1), read_iops, write_iops, read_bps,
     * write_bps (>= 0, 0 when not given), each up to its maximum (docs/api.md) */
    int64_t size[PLANS_SIZES];
};

/* Check a parsed body (body_parse()) into out: no unknown field, the name, each size of its
 * type and range. 0, or -1 after replying 400 naming the field. */
int plans_body(struct req *r, struct plans_body *out) __attribute__((warn_unused_result));

#endif
