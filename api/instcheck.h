/* The checks of a create and a PATCH of an instance (docs/api.md): their bodies (pure: what
 * tests/fuzz/fuzz_body.c drives), and what both check against the store: the plan's size,
 * which quota limit a change would pass, and whether there are hosts enough for the members
 * asked for. Each answers the request itself when the check fails. */
#ifndef API_INSTCHECK_H
#define API_INSTCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

#define INSTCHECK_MAX_REPLICAS 5
#define INSTCHECK_MAX_LAG_MAX (INT64_C(1) << 40)
#define INSTCHECK_MAX_LAG_DEFAULT (INT64_C(16) * 1024 * 1024)

/* What a create asks for, its strings borrowed from r->json. */
struct instcheck_create {
    const char *name, *engine, *plan;
    const char *version; /* the catalogue's spelling of the version asked for (or the default) */
    const char *tenant;  /* NULL: not given */
    int64_t replicas;    /* 0..INSTCHECK_MAX_REPLICAS, 0 when not given */
    int64_t max_lag;     /* 0..INSTCHECK_MAX_LAG_MAX, INSTCHECK_MAX_LAG_DEFAULT when not given */
    bool sync;
};

/* Check a parsed create body (body_parse()) into c: no unknown field, name, engine (of the
 * catalogue) and plan required, each field of its type and range, the version offered for the
 * engine. Who may name a tenant is the handler's check. 0, or -1 after replying 400 naming the
 * field. */
int instcheck_create_body(struct req *r, struct instcheck_create *c)
    __attribute__((warn_unused_result));

/* What a PATCH asks for; a field not given keeps the instance's value. */
struct instcheck_patch {
    const char *plan;  /* NULL: not given */
    int64_t replicas;  /* -1: not given */
    int64_t max_lag;   /* -1: not given */
    int sync;          /* -1: not given, else 0 / 1 */
    const char *field; /* the first field given, for errors about the whole change */
};

/* Check a parsed PATCH body (body_parse()) into p: no unknown field, each field of its
 * type and range, at least one given. 0, or -1 after replying 400 naming the field. */
int instcheck_patch_body(struct req *r, struct instcheck_patch *p)
    __attribute__((warn_unused_result));

/* The plan's size into size[0..2] (CPU millis, memory MiB, disk MiB). 0, or -1 after replying
 * 400 invalid_field naming "plan". */
int instcheck_plan_size(struct req *r, const char *plan, int64_t size[3])
    __attribute__((warn_unused_result));

/* Name the quota limit that adding add[] (instances, CPU, memory, disk) to the tenant's usage
 * would pass: replies 409 quota_exceeded and returns -1. Returns 0 when nothing would be passed
 * (a race with a concurrent change: the caller may retry). */
int instcheck_quota(struct req *r, const char *tenant_id, const int64_t add[4])
    __attribute__((warn_unused_result));

/* Whether members members of an instance of engine with plan (each on a host of its own) can
 * ever be placed: the hosts that offer the engine and are large enough for the plan when empty
 * must be at least as many (whatever their state now: a draining or unreachable host may take
 * members again). When no host offers the engine at all the fleet is
 * taken as not set up yet and the instance may wait. 0, or -1 after replying 422
 * too_few_hosts, the message saying how many hosts fit. *ready (may be NULL) gets how many of
 * the hosts that fit are ready now. */
int instcheck_hosts(struct req *r, const char *engine, const char *plan, int64_t members,
                    int64_t *ready) __attribute__((warn_unused_result));

#endif
