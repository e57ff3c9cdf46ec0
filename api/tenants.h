/* api/tenants.c's part that tests/fuzz/fuzz_body.c drives: a quota's body. The handlers
 * themselves are in api/handlers.h. */
#ifndef API_TENANTS_H
#define API_TENANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

#define TENANTS_QUOTA_N 4

/* A quota as its body gives it: max_instances, cpu_millis, memory_mb, disk_mb. */
struct tenants_quota {
    int64_t limit[TENANTS_QUOTA_N];  /* 0..2^50 */
    bool unlimited[TENANTS_QUOTA_N]; /* null or not given: no limit (limit[i] is then 0) */
};

/* Check a parsed body (body_parse()) into out: no unknown field, each limit an integer in range
 * or null. 0, or -1 after replying 400 naming the field. */
int tenants_quota_body(struct req *r, struct tenants_quota *out)
    __attribute__((warn_unused_result));

#endif
