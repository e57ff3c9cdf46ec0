/* libFuzzer target: a request body as the API's handlers take it: parsed with duplicate keys
 * refused (api/body.h), then, each on its own copy of the request, as seven handlers check it
 * before the store: an instance create and an instance PATCH (api/instcheck.h), a plan
 * (api/plans.h), a quota (api/tenants.h), a host registration's engines (api/hosts.h), the
 * scheduler's settings (api/settings.h) and the HA settings over their defaults (api/ha.h),
 * with api/http.c's error replies. Every refusal must leave a 4xx with a JSON error body naming
 * a code, an acceptance no error; and what is accepted is what the body says: each value the
 * body's, of its type and in its range, a default exactly where the field is absent (or null
 * where that means "none"); a PATCH changes something and names its first field; the engines
 * literal lists the body's engines, known and distinct; a setting is stored exactly when given;
 * an HA field not given keeps its value, and the whole passes the HA settings' own check. The
 * other routes' bodies (a tenant's name, a switchover's "to", a token rotation's "immediate",
 * empty bodies) are single calls of the api/body.h functions these checks run. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api/body.h"
#include "api/ha.h"
#include "api/hosts.h"
#include "api/instcheck.h"
#include "api/plans.h"
#include "api/http.h"
#include "api/settings.h"
#include "api/tenants.h"
#include "lib/catalog.h"
#include "lib/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the transport's part ----
 * api/http.c as it is, without a connection: libmicrohttpd's lookup of a request's header is
 * stood in for here (this definition takes precedence over the shared library's), answering a
 * Content-Type of application/json. */

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    (void)connection;
    return kind == MHD_HEADER_KIND && strcmp(key, "Content-Type") == 0 ? "application/json" : NULL;
}

/* ---- the target ---- */

static void refused(struct req *r)
{
    json_t *j;

    if (r->status < 400 || r->status > 499 || !r->reply)
        __builtin_trap();
    j = json_loads(r->reply, 0, NULL);
    if (!j || !json_is_string(json_object_get(json_object_get(j, "error"), "code")))
        __builtin_trap();
    json_decref(j);
}

/* The integer the body holds under key, or def when it is absent (or null). */
static int64_t body_value(const struct req *r, const char *key, int64_t def)
{
    const json_t *v = json_object_get(r->json, key);

    return json_is_integer(v) ? json_integer_value(v) : def;
}

/* An instance create: the body's values, the defaults where absent. */
static int create(struct req *r)
{
    struct instcheck_create c;
    const json_t *sync = json_object_get(r->json, "sync");

    if (instcheck_create_body(r, &c) < 0)
        return -1;
    if (!valid_name(c.name) || !catalog_known(c.engine) || !valid_name(c.plan) || !c.version ||
        strcmp(c.name, json_string_value(json_object_get(r->json, "name"))) != 0 ||
        (c.tenant && !valid_name(c.tenant)) || c.replicas != body_value(r, "replicas", 0) ||
        c.replicas > INSTCHECK_MAX_REPLICAS ||
        c.max_lag != body_value(r, "max_lag_bytes", INSTCHECK_MAX_LAG_DEFAULT) || c.max_lag < 0 ||
        c.max_lag > INSTCHECK_MAX_LAG_MAX || c.sync != json_is_true(sync))
        __builtin_trap();
    return 0;
}

/* An instance PATCH: something given, the first field named, values in range. */
static int patch(struct req *r)
{
    struct instcheck_patch p;

    if (instcheck_patch_body(r, &p) < 0)
        return -1;
    if (!p.field || !json_object_get(r->json, p.field) || (p.plan && !valid_name(p.plan)) ||
        p.replicas != body_value(r, "replicas", -1) || p.replicas > INSTCHECK_MAX_REPLICAS ||
        p.max_lag != body_value(r, "max_lag_bytes", -1) || p.max_lag > INSTCHECK_MAX_LAG_MAX ||
        p.sync != (json_object_get(r->json, "sync") ? json_is_true(json_object_get(r->json, "sync"))
                                                    : -1) ||
        (!p.plan && p.replicas < 0 && p.max_lag < 0 && p.sync < 0))
        __builtin_trap();
    return 0;
}

/* A plan: its sizes the body's, 0 where an optional one is absent. */
static int plan(struct req *r)
{
    static const char *const sizes[PLANS_SIZES] = {
        "cpu_millis", "memory_mb", "disk_mb", "read_iops", "write_iops", "read_bps", "write_bps"};
    struct plans_body p;

    if (plans_body(r, &p) < 0)
        return -1;
    if (!valid_name(p.name))
        __builtin_trap();
    for (int i = 0; i < PLANS_SIZES; i++)
        if (p.size[i] != body_value(r, sizes[i], 0) || p.size[i] < (i < 3 ? 1 : 0))
            __builtin_trap();
    return 0;
}

/* A quota: unlimited exactly where absent or null, else the body's limit. */
static int quota(struct req *r)
{
    static const char *const keys[TENANTS_QUOTA_N] = {"max_instances", "cpu_millis", "memory_mb",
                                                      "disk_mb"};
    struct tenants_quota q;

    if (tenants_quota_body(r, &q) < 0)
        return -1;
    for (int i = 0; i < TENANTS_QUOTA_N; i++) {
        const json_t *v = json_object_get(r->json, keys[i]);
        if (q.unlimited[i] != (!v || json_is_null(v)) || q.limit[i] != body_value(r, keys[i], 0) ||
            q.limit[i] < 0 || q.limit[i] > (INT64_C(1) << 50))
            __builtin_trap();
    }
    return 0;
}

/* A host's engines: the literal "{a,b}" holds the body's engines in order, known and
 * distinct. */
static int host_engines(struct req *r)
{
    const json_t *arr = json_object_get(r->json, "engines");
    struct buf lit = BUF_INIT;
    const char *p, *q;
    size_t i = 0, len;

    if (hosts_engines_param(r, &lit) < 0) {
        buf_free(&lit);
        return -1;
    }
    p = buf_str(&lit);
    len = strlen(p);
    if (len < 2 || p[0] != '{' || p[len - 1] != '}' || json_array_size(arr) == 0)
        __builtin_trap();
    for (p++; *p != '}'; p = *q == ',' ? q + 1 : q, i++) {
        const char *name = json_string_value(json_array_get(arr, i));
        q = p + strcspn(p, ",}");
        if (!name || !catalog_known(name) || strlen(name) != (size_t)(q - p) ||
            strncmp(p, name, (size_t)(q - p)) != 0)
            __builtin_trap();
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(arr, j)), name) == 0)
                __builtin_trap();
    }
    if (i != json_array_size(arr))
        __builtin_trap();
    buf_free(&lit);
    return 0;
}

/* The scheduler's settings: a value exactly for each field given, in its range. */
static int scheduler(struct req *r)
{
    struct settings_scheduler s;
    int i;

    if (body_allow(r, settings_scheduler_keys) < 0 || settings_scheduler_body(r, &s) < 0)
        return -1;
    for (i = 0; i < SETTINGS_SCHEDULER_N; i++) {
        const char *v = s.values[i];
        char *end;
        double d;
        long long n;

        if ((v != NULL) != (json_object_get(r->json, settings_scheduler_keys[i]) != NULL))
            __builtin_trap();
        if (!v)
            continue;
        if (i == 0) {
            if (strcmp(v, "binpack") != 0 && strcmp(v, "spread") != 0)
                __builtin_trap();
        } else if (i <= 3) { /* "D.DDD" within 0.001..4 */
            d = strtod(v, &end);
            if (*end || strspn(v, "0123456789.") != strlen(v) || strchr(v, '.') == NULL ||
                strlen(strchr(v, '.')) != 4 || d < 0.001 || d > 4.0)
                __builtin_trap();
        } else {
            n = strtoll(v, &end, 10);
            if (*end || *v == '\0' || n < (i == 4 ? 1000 : 0) || n > (i == 4 ? 600000 : 86400))
                __builtin_trap();
        }
    }
    return 0;
}

/* The HA settings over the defaults: a field given is the body's, one not given keeps its
 * value, and the result passes failover_config_check(). */
static int ha(struct req *r)
{
    struct failover_config c, base;
    const int64_t *got[] = {&c.renew_ms, &c.lease_ttl_ms, &c.fence_margin_ms,
                            &c.grace_ms, &c.cooldown_ms,  &c.step_timeout_ms};
    const int64_t *was[] = {&base.renew_ms, &base.lease_ttl_ms, &base.fence_margin_ms,
                            &base.grace_ms, &base.cooldown_ms,  &base.step_timeout_ms};
    struct err e;

    failover_config_init(&base);
    c = base;
    if (body_allow(r, ha_config_keys) < 0 || ha_config_body(r, &c) < 0)
        return -1;
    if (failover_config_check(&c, &e) != 0)
        __builtin_trap();
    for (int i = 0; i < 6; i++) {
        const json_t *v = json_object_get(r->json, ha_config_keys[i]);
        if (v ? !json_is_integer(v) || json_integer_value(v) != *got[i] : *got[i] != *was[i])
            __builtin_trap();
    }
    return 0;
}

/* One handler's check of the body, on a request of its own. */
static void one(const uint8_t *data, size_t size, int (*check)(struct req *))
{
    struct req r;

    memset(&r, 0, sizeof(r));
    buf_append(&r.body, data, size);
    if (body_parse(&r, true) < 0 || check(&r) < 0)
        refused(&r);
    else if (r.reply)
        __builtin_trap(); /* accepted, yet an error was left */
    json_decref(r.json);
    free(r.reply);
    buf_free(&r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, create);
    one(data, size, patch);
    one(data, size, plan);
    one(data, size, quota);
    one(data, size, host_engines);
    one(data, size, scheduler);
    one(data, size, ha);
    return 0;
}
